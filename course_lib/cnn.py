"""CNN building blocks: size arithmetic and the course's digit classifier.

The classifier is trained in notebooks/01_cnn_building_blocks.ipynb and then
serves as the course's *evaluation network*: later notebooks score generated
digits with its confidence and compute FID/KID on its features.
"""
from __future__ import annotations

import operator

import torch
from torch import nn
import torch.nn.functional as F

from ._validate import check_images, check_positive_int, check_sizes, check_tensor
from .data import random_shift

__all__ = ["conv_output_size", "conv_transpose_output_size", "pool_output_size", "DigitClassifier",
           "classification_loss", "accuracy"]


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Eq. (1.1): out = floor((in + 2p - d(k - 1) - 1) / s) + 1."""
    check_sizes(size=size, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    size, kernel_size, stride, padding, dilation = map(operator.index, (size, kernel_size, stride, padding, dilation))
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out <= 0:
        raise ValueError(f"a {kernel_size}x{kernel_size} kernel (dilation {dilation}) does not fit an input of "
                         f"size {size} with padding {padding}: the output would be {out}")
    return out


def pool_output_size(size: int, kernel_size: int, stride: int | None = None, padding: int = 0) -> int:
    """Eq. (1.2): pooling follows the convolution formula with stride defaulting to the kernel size."""
    check_sizes(kernel_size=kernel_size, padding=padding)
    if padding > kernel_size // 2:
        raise ValueError(f"pooling padding must be at most half the kernel size ({kernel_size // 2}), got {padding}")
    return conv_output_size(size, kernel_size, kernel_size if stride is None else stride, padding)


def conv_transpose_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """Eq. (1.3): out = (in - 1)s - 2p + d(k - 1) + output_padding + 1."""
    check_sizes(size=size, kernel_size=kernel_size, stride=stride, padding=padding,
                 output_padding=output_padding, dilation=dilation)
    size, kernel_size, stride, padding, output_padding, dilation = map(
        operator.index, (size, kernel_size, stride, padding, output_padding, dilation))
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding ({output_padding}) must be smaller than stride ({stride}) or dilation")
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if out <= 0:
        raise ValueError(f"padding {padding} is too large for this transposed convolution: the output would be {out}")
    return out


class DigitClassifier(nn.Module):
    """Two conv blocks and an MLP head: 28x28 digit -> 10 logits.

    conv3-32, conv3-32, maxpool -> 14x14; conv3-64, conv3-64, maxpool -> 7x7;
    linear 3136 -> 128 (the *features* used for FID) -> 10.
    """

    def __init__(self, width: int = 32, feature_dim: int = 128, dropout: float = 0.3):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * w * 7 * 7, feature_dim), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, 10))
        self.config = {"width": width, "feature_dim": feature_dim, "dropout": dropout}

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features (N, feature_dim) of (N, 1, 28, 28) images in [0, 1]."""
        return self.body(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def classification_loss(model: nn.Module, batch, augment: bool = True) -> torch.Tensor:
    """Cross-entropy of the logits against the labels (Eq. 1.5), on shifted digits while training."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(f"batch must be a pair (images, labels), got {type(batch).__name__}"
                        f"{' of length ' + str(len(batch)) if isinstance(batch, (tuple, list)) else ''}")
    images, labels = batch
    check_images(images, channels=(1,), size=(28, 28), name="images")
    check_tensor(labels, "labels", ndim=1)
    if labels.dtype != torch.long or len(labels) != len(images):
        raise ValueError(f"labels must be {len(images)} class indices (int64, shape ({len(images)},)), "
                         f"got dtype {labels.dtype} and shape {tuple(labels.shape)}")
    images = images.to(next(model.parameters(), images).dtype)  # float64 digits go in as the network's dtype
    if augment:
        images = random_shift(images, max_shift=2)
    return F.cross_entropy(model(images), labels)


@torch.no_grad()
def accuracy(model: nn.Module, dataset, batch_size: int = 500) -> float:
    """Fraction of ``dataset`` (images, labels) the model classifies correctly."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_positive_int(batch_size, "batch_size")
    if len(dataset) == 0:
        raise ValueError("the dataset is empty: accuracy is undefined")
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, len(dataset), batch_size):
        images, labels = dataset[start:start + batch_size]
        check_images(images, channels=(1,), size=(28, 28), name="images")
        dtype = next(model.parameters(), images).dtype
        correct += (model(images.to(device, dtype)).argmax(1).cpu() == labels).sum().item()
    return correct / len(dataset)
