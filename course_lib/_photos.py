"""Plumbing of ``data``: scikit-image's bundled photos and textures, read from the package as tensors.

``read(name)`` returns the pixels scikit-image stores for ``name`` (a NumPy array of bool, uint8 or
float; grey, RGB or RGBA); ``to_tensor(image, colour)`` turns any of them into (C, H, W) in [0, 1].
"""
from __future__ import annotations

import numpy as np
import torch


def read(name: str) -> np.ndarray:
    """The pixels of scikit-image's bundled image ``name`` (``motorcycle``: the left view of its stereo pair)."""
    from skimage import data

    return data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()


def to_tensor(image: np.ndarray, colour: bool) -> torch.Tensor:
    """(C, H, W) float in [0, 1], C = 3 if ``colour`` (grey repeated) else 1 (``data.to_luma`` of RGB); no alpha."""
    from .data import to_luma  # data imports this module: its luma is read when first used

    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    tensor = torch.from_numpy(np.ascontiguousarray(image)).float()
    if image.dtype == np.uint8:
        tensor /= 255.0
    if tensor.ndim == 2:
        tensor = tensor.unsqueeze(0)
    else:
        tensor = tensor[..., :3].permute(2, 0, 1)
    if colour and tensor.shape[0] == 1:
        tensor = tensor.expand(3, -1, -1)
    if not colour and tensor.shape[0] == 3:
        tensor = to_luma(tensor)
    return tensor.clamp(0, 1).contiguous()
