"""Pixels from Noise: the course's reference PyTorch code.

One module per concern: ``config`` (fast mode, budgets, paths), ``data``,
``training`` (devices via Lightning Fabric, the fit loop), ``checkpoints``,
``metrics``, ``viz``, ``validate``; one module per model family (``cnn``, ...);
``checks`` for the exercises.
"""
from .config import FAST, budgets, is_fast

__version__ = "0.1.0"
__all__ = ["FAST", "budgets", "is_fast", "__version__"]
