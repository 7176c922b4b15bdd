"""Plumbing: the optional CMP facades download of notebook 07 (re-exported by ``pix2pix``)."""
from __future__ import annotations

import tarfile

import numpy as np
import torch

from ._network import download, extract_safely
from ._validate import check_choice
from .config import data_dir

FACADES_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"


def load_facades(split: str = "val", size: int = 64, timeout_s: float = 5.0, limit: int = 200):
    """OPTIONAL: the CMP facades (label map -> photo) used in the pix2pix paper, ~30 MB.

    Downloads once into the course data folder; raises RuntimeError quickly (``timeout_s``
    per connection) when offline. Returns (labels, photos), each (N, 3, size, size) in [0, 1].
    Never called in fast mode (the tests only check that it gives up quickly offline).
    """
    check_choice(split, ("train", "val", "test"), "facades split")
    from PIL import Image

    root = data_dir() / "facades"
    if not (root / split).is_dir():
        archive = data_dir() / "facades.tar.gz"
        try:
            download(FACADES_URL, archive, timeout_s)
            with tarfile.open(archive) as tar:
                extract_safely(tar, data_dir())
        except (OSError, tarfile.TarError) as error:  # OSError includes socket timeouts
            raise RuntimeError(f"facades could not be downloaded from {FACADES_URL} "
                               f"({type(error).__name__}); this part is optional") from error
        finally:
            archive.unlink(missing_ok=True)
    labels, photos = [], []
    for path in sorted((root / split).glob("*.jpg"))[:limit]:
        image = np.asarray(Image.open(path).convert("RGB").resize((2 * size, size)), dtype=np.float32) / 255
        tensor = torch.from_numpy(image).permute(2, 0, 1)
        photos.append(tensor[:, :, :size])      # each file is [photo | label map] side by side
        labels.append(tensor[:, :, size:])
    return torch.stack(labels), torch.stack(photos)
