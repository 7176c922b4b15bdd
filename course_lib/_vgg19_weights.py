"""Plumbing of ``style``: the ImageNet VGG19 weights, cached or downloaded, verified, loaded safely.

``pretrained_vgg19(build, allow_download)`` is what ``style.feature_extractor`` calls: the cached
file (downloaded first when it is missing and downloads are allowed) handed to ``build`` as a state
dict, or None, with a one-line notice, when there is no usable file. ``load_vgg19`` is the only
loader: a file whose SHA-256 does not start with the published ``VGG19_SHA256_PREFIX`` is never
unpickled, and one that does is read with ``weights_only=True``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ._network import download, sha256_of

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"  # torchvision's VGG19_Weights.IMAGENET1K_V1
VGG19_FILE = "vgg19-dcbb9e9d.pth"  # the name torchvision gives it in the hub cache
VGG19_SHA256_PREFIX = "dcbb9e9d"  # published in the file name: the first hex digits of the file's SHA-256
DOWNLOAD_TIMEOUT_S = 5.0


def weights_dir() -> Path:
    """The torch hub cache's folder of weight files, where torchvision keeps VGG19's."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def vgg19_weights_cached() -> Path | None:
    """The VGG19 weight file in the torch hub cache, or None if it is not there."""
    path = weights_dir() / VGG19_FILE
    return path if path.is_file() else None


def load_vgg19(path: Path, build: Callable[[dict], nn.Module]) -> nn.Module | None:
    """``build(state dict)`` from the file at ``path``, checked before it is unpickled (see above).
    None, with a one-line notice, when the file cannot be used."""
    try:
        digest = sha256_of(path)
        if not digest.startswith(VGG19_SHA256_PREFIX):
            raise ValueError(f"its SHA-256 starts with {digest[:8]}, not the published {VGG19_SHA256_PREFIX}")
        extractor = build(torch.load(path, map_location="cpu", weights_only=True))  # wrong tensors: error
    except Exception as error:  # tampered, corrupt, truncated, unreadable, not VGG19...
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        print(f"[style] ignoring {path} ({reason}); nothing in it was run. Delete it to download "
              "a fresh copy; using the offline random-feature extractor meanwhile.")
        return None
    return extractor


def download_vgg19(timeout_s: float) -> Path | None:
    """Download the weights into the hub cache; the published hash is checked before the file is kept."""
    try:
        download(VGG19_URL, weights_dir() / VGG19_FILE, timeout_s, VGG19_SHA256_PREFIX)
        return vgg19_weights_cached()
    except Exception as error:  # offline, DNS failure, timeout, hash mismatch...
        print(f"[style] VGG19 weights could not be downloaded ({type(error).__name__})")
        return None


def pretrained_vgg19(build: Callable[[dict], nn.Module], allow_download: bool) -> nn.Module | None:
    """``build(state dict)`` of the cached weights (downloaded first if missing and allowed), or None."""
    path = vgg19_weights_cached() or (download_vgg19(DOWNLOAD_TIMEOUT_S) if allow_download else None)
    return load_vgg19(path, build) if path is not None else None
