"""Every picture the course draws, as matplotlib figures (so tests run headless).

Functions return the ``Figure``; in a notebook it is displayed automatically when
it is the cell's last value, or with ``display(fig)``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ._validate import check_images, check_non_negative_int, check_positive_int, check_tensor

__all__ = ["image_grid", "show_images", "plot_history", "before_after", "to_numpy_image"]


def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor in [0, 1] -> (H, W) or (H, W, 3) numpy array for ``imshow``."""
    check_tensor(image, "image", ndim=(2, 3), floating=True)  # uint8 255 would be clamped to a white image
    if image.ndim == 3 and image.shape[0] not in (1, 3):
        raise ValueError(f"image must be (C, H, W) with 1 or 3 channels, got shape {tuple(image.shape)}"
                         f"{'; it looks channels-last: use x.permute(2, 0, 1)' if image.shape[-1] in (1, 3) else ''}")
    image = image.detach().float().cpu().clamp(0, 1)
    if image.ndim == 3:
        image = image[0] if image.shape[0] == 1 else image.permute(1, 2, 0)
    return image.numpy()


def image_grid(images: torch.Tensor, nrow: int = 8, value_range: tuple[float, float] = (0, 1),
               padding: int = 2) -> torch.Tensor:
    """torchvision's ``make_grid`` of a (N, C, H, W) batch, rescaled from ``value_range`` to [0, 1]."""
    from torchvision.utils import make_grid

    check_positive_int(nrow, "nrow")
    check_non_negative_int(padding, "padding")
    images = check_images(images, value_range=value_range, name="images")
    low, high = value_range
    images = (images.detach().float().cpu() - low) / (high - low)
    return make_grid(images.clamp(0, 1), nrow=nrow, padding=padding, pad_value=1.0)


def show_images(images: torch.Tensor, nrow: int = 8, title: str | None = None,
                value_range: tuple[float, float] = (0, 1), size: float = 6.0):
    """A grid of images in one figure. ``value_range=(-1, 1)`` for tanh outputs."""
    grid = image_grid(images, nrow=nrow, value_range=value_range)
    fig, ax = plt.subplots(figsize=(size, size * grid.shape[1] / grid.shape[2]))
    ax.imshow(to_numpy_image(grid), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    return _finished(fig, ax, title)


def plot_history(history, names: Sequence[str] | None = None, title: str | None = None,
                 smooth: int = 1, logy: bool = False):
    """Curves of a ``History`` (or dict name -> list of values), one line per series.

    ``smooth`` > 1 draws a moving average over that many points beside the raw curve.
    """
    check_positive_int(smooth, "smooth")
    if not hasattr(history, "data") and not isinstance(history, Mapping):
        raise TypeError(f"history must be a History or a dict name -> list of values, got {type(history).__name__}")
    available = history.names() if hasattr(history, "data") else list(history)
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in (names or []) if n not in available]
    if unknown:
        raise ValueError(f"unknown series {unknown}; the history has {available}")
    if not (names or available):
        raise ValueError("the history is empty: nothing to plot")
    series = {name: (history.steps(name), history[name]) if hasattr(history, "data")
              else (list(range(1, len(history[name]) + 1)), list(history[name])) for name in names or available}
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, (steps, values) in series.items():
        line, = ax.plot(steps, values, alpha=0.35 if smooth > 1 else 1.0, label=None if smooth > 1 else name)
        if smooth > 1 and len(values) >= smooth:
            kernel = np.ones(smooth) / smooth
            ax.plot(steps[smooth - 1:], np.convolve(values, kernel, mode="valid"), color=line.get_color(), label=name)
    ax.set_xlabel("step")
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    return _finished(fig, ax, title)


def before_after(columns: Mapping[str, torch.Tensor], zoom: tuple[int, int, int] | None = None, size: float = 3.0):
    """Side-by-side images (e.g. noisy / denoised / clean), each (C, H, W) in [0, 1].

    zoom=(top, left, size) adds a second row with that crop enlarged.
    """
    if not isinstance(columns, Mapping) or not columns:
        raise TypeError(f"columns must be a non-empty dict title -> (C, H, W) image, got {type(columns).__name__}"
                        f"{' (empty)' if isinstance(columns, Mapping) else ''}")
    for name, image in columns.items():
        check_tensor(image, f"column {name!r}", ndim=3)
    if zoom is not None:
        if len(zoom) != 3 or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in zoom) or zoom[2] == 0:
            raise ValueError(f"zoom must be (top, left, size) with non-negative integers and size > 0, got {zoom!r}")
        top, left, s = zoom
        for name, image in columns.items():
            if top + s > image.shape[1] or left + s > image.shape[2]:
                raise ValueError(f"zoom {zoom} falls outside column {name!r} of shape {tuple(image.shape)}")
    names = list(columns)
    rows = 2 if zoom else 1
    fig, axes = plt.subplots(rows, len(names), figsize=(size * len(names), size * rows), squeeze=False)
    for j, name in enumerate(names):
        image = check_images(columns[name].unsqueeze(0), value_range=(0, 1), name=name)[0]
        axes[0, j].imshow(to_numpy_image(image), cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(name, fontsize=9)
        if zoom:
            axes[1, j].imshow(to_numpy_image(image[:, top:top + s, left:left + s]), cmap="gray",
                              vmin=0, vmax=1, interpolation="nearest")
    for ax in axes.flat:
        ax.set_axis_off()
    return _finished(fig)


def _finished(fig, ax=None, title: str | None = None):
    """Title, tight layout, and closed so that pyplot does not draw it a second time; the cell shows it."""
    if title:
        ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig
