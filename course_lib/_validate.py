"""Plumbing of every module: the input checks public functions run at their boundary, with clear errors
instead of cryptic tracebacks.

Each check says what was expected and what was given, e.g.
``ValueError: images must have values in [0, 1] (got min -0.98, max 1.00); tanh outputs in
[-1, 1] need value_range=(-1, 1) or to_unit_range(x)``.
"""
from __future__ import annotations

import operator

import torch

__all__ = ["check_tensor", "check_images", "check_positive_int", "check_non_negative_int", "check_choice",
           "check_same_device", "check_sizes", "check_labels", "check_prediction_target"]

_TOLERANCE = 1e-3


def check_tensor(x, name: str = "input", ndim: int | tuple[int, ...] | None = None,
                 floating: bool = False) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and x.ndim not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions, got shape {tuple(x.shape)}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}; "
                        "convert uint8 images with x.float() / 255")
    return x


def check_images(images, value_range: tuple[float, float] = (0, 1), channels: tuple[int, ...] | None = None,
                 name: str = "images", size: tuple[int, int] | None = None) -> torch.Tensor:
    """A (N, C, H, W) float batch inside ``value_range`` (with a small tolerance)."""
    if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2
            or not all(isinstance(v, (int, float)) for v in value_range) or value_range[0] >= value_range[1]):
        raise ValueError(f"value_range must be (low, high) with low < high, e.g. (0, 1) or (-1, 1); got {value_range!r}")
    if isinstance(images, torch.Tensor) and images.ndim == 3:
        raise ValueError(f"{name} must have 4 dimensions (N, C, H, W), got shape {tuple(images.shape)}: "
                         "one (C, H, W) image needs x.unsqueeze(0), a batch of grey (N, H, W) images x.unsqueeze(1)")
    check_tensor(images, name, ndim=4, floating=True)
    if images.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(images.shape)})")
    if channels is not None and images.shape[1] not in channels:
        raise ValueError(f"{name} must have {' or '.join(map(str, channels))} channel(s) (N, C, H, W), "
                         f"got shape {tuple(images.shape)}")
    if size is not None and tuple(images.shape[-2:]) != tuple(size):
        raise ValueError(f"{name} must be {size[0]}x{size[1]} pixels, got shape {tuple(images.shape)}")
    if images.device.type == "meta":  # shape-only tensors have no values to check
        return images
    low, high = value_range
    lo, hi = images.min().item(), images.max().item()
    if not (torch.isfinite(images).all()):
        raise ValueError(f"{name} contain NaN or infinite values")
    if lo < low - _TOLERANCE or hi > high + _TOLERANCE:
        hint = ""
        if hi > 2:
            hint = "; 0-255 images need x / 255"
        elif value_range == (0, 1) and lo < 0:
            hint = "; tanh outputs in [-1, 1] need (x + 1) / 2"
        raise ValueError(f"{name} must have values in [{low}, {high}] (got min {lo:.2f}, max {hi:.2f}){hint}")
    return images


def check_positive_int(value, name: str) -> int:
    """``value`` must be an integer > 0 (a bool is not one); a whole float gets a hint."""
    return _check_int(value, name, "positive", smallest=1)


def check_non_negative_int(value, name: str) -> int:
    """``value`` must be an integer >= 0 (a bool is not one)."""
    return _check_int(value, name, "non-negative", smallest=0)


def _check_int(value, name, kind, smallest):
    if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
        if isinstance(value, float) and value.is_integer() and value >= smallest:
            raise ValueError(f"{name} must be a {kind} integer, got the float {value!r}; use int({value!r})")
        raise ValueError(f"{name} must be a {kind} integer, got {value!r}")
    return value


def check_choice(value, choices, what: str):
    """``value`` must be one of ``choices``; ``what`` names it in the message ("MNIST split")."""
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; valid choices: {', '.join(map(repr, choices))}")
    return value


def check_same_device(*tensors: torch.Tensor, names: tuple[str, ...] | None = None) -> None:
    names = names or tuple(f"#{i}" for i in range(len(tensors)))
    for name, t in zip(names, tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if len({t.device for t in tensors}) > 1:
        described = ", ".join(f"{n} on {t.device}" for n, t in zip(names, tensors))
        raise ValueError(f"tensors must be on one device, got {described}; move them with .to(device)")


def check_sizes(**sizes):
    """Integer sizes of a convolution (notebook 01): padding >= 0, everything else > 0 (NumPy and 0-d tensors too)."""
    for name, value in sizes.items():
        try:
            if isinstance(value, bool):
                raise TypeError
            value = operator.index(value)  # ints, NumPy and 0-d integer tensors
        except TypeError:
            raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None
        if name in ("padding", "output_padding") and value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
        if name not in ("padding", "output_padding") and value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")


def check_labels(labels: torch.Tensor, num_classes: int, batch: int | None = None) -> torch.Tensor:
    """Integer class indices in [0, num_classes), one per image when ``batch`` is given."""
    check_tensor(labels, "labels", ndim=1)
    if labels.is_floating_point():
        raise TypeError(f"labels must be an integer tensor (class indices), got dtype {labels.dtype}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be class indices in [0, {num_classes - 1}], "
                         f"got min {labels.min().item()}, max {labels.max().item()}")
    if batch is not None and len(labels) != batch:
        raise ValueError(f"need one label per image: got {len(labels)} labels for a batch of {batch}")
    return labels


def check_prediction_target(prediction, target):
    """A restored image and its target: same shape and device, the target in [0, 1], the prediction near it."""
    check_same_device(prediction, target, names=("prediction", "target"))
    check_images(target, value_range=(0, 1), name="target")
    check_images(prediction, value_range=(-0.5, 1.5), name="prediction")
    if prediction.shape != target.shape:
        raise ValueError(f"prediction and target must have the same shape, got {tuple(prediction.shape)} "
                         f"and {tuple(target.shape)}")
