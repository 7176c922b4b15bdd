"""Pixels from Noise: the course's reference PyTorch code.

One module per concern: ``config`` (fast mode, budgets, paths), ``data``,
``training`` (devices via Lightning Fabric, the fit loop), ``checkpoints``,
``metrics``, ``viz``, ``validate``; one module per model family (``cnn``, ...);
``checks`` for the exercises.
"""
from .config import FAST, budgets, is_fast, size_torch_threads

__version__ = "0.2.0"  # = pyproject.toml's version (tests/test_launch.py)
size_torch_threads()  # no more torch threads than the container's CPUs (config.py, "CPU threads")
__all__ = ["FAST", "budgets", "is_fast", "__version__"]
