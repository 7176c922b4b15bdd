"""Pixels from Noise: the course's reference PyTorch code.

One module per concern: ``config`` (fast mode, budgets, paths), ``data``,
``training`` (devices via Lightning Fabric, the fit loop), ``checkpoints``,
``metrics``, ``viz``, ``validate``; one module per model family (``cnn``, ...);
``checks`` for the exercises.
"""
from .config import budgets, is_fast, size_torch_threads


def __getattr__(name):
    """``course_lib.FAST`` is ``is_fast()`` at the moment it is looked up (one source for fast mode)."""
    if name == "FAST":
        return is_fast()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__version__ = "0.2.0"  # = pyproject.toml's version (tests/test_launch.py)
size_torch_threads()  # no more torch threads than the container's CPUs (config.py, "CPU threads")
__all__ = ["FAST", "budgets", "is_fast", "__version__"]
