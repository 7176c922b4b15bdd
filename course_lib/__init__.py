"""Pixels from Noise: the course's reference PyTorch code.

One module per concern: ``config`` (fast mode, budgets, paths), ``data``,
``training`` (devices via Lightning Fabric, the fit loop), ``checkpoints``, ``zoo``,
``metrics``, ``viz``; one module per model family (``cnn``, ...); ``checks`` for the
exercises. Modules whose names start with ``_`` are plumbing (input checks, devices, thread
sizing, the offline guard, folders, downloads of MNIST, facades and VGG19 weights, photo files,
checkpoint files and configs, printed tables, the benchmarks' recorder, notebook tools): no
student needs to open them; the public modules import what students call from them.
"""
from . import _network, _threads
from .config import budgets, is_fast, is_offline


def __getattr__(name):
    """``course_lib.FAST`` is ``is_fast()`` at the moment it is looked up (one source for fast mode)."""
    if name == "FAST":
        return is_fast()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.2.0"  # = pyproject.toml's version (tests/test_launch.py)
_threads.size_torch_threads()  # no more torch threads than the container's CPUs
if is_offline():
    _network.block_network()  # COURSE_OFFLINE=1: no download can hide in a notebook
__all__ = ["FAST", "budgets", "is_fast", "__version__"]
