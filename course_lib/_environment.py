"""Plumbing of ``training``: the environment report printed at the top of the notebooks.

``training.environment_report`` is this function; it lives here because it only reads versions,
devices and settings, and a reader of ``training`` learns nothing about training from it.
"""
from __future__ import annotations

import os
import platform

import torch

from .config import is_fast


def environment_report(verbose: bool = True) -> dict:
    """Versions, device, threads, data source and mode, as a dict (printed by default)."""
    from . import data
    from ._threads import TORCH_THREADS
    from ._devices import _pick_accelerator, default_precision

    accelerator = device = os.environ.get("COURSE_ACCELERATOR") or _pick_accelerator()
    if accelerator in ("cuda", "gpu") and torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    elif accelerator in ("cuda", "gpu"):  # asked for, but there is none: say so instead of the driver's error
        device = (f"none: COURSE_ACCELERATOR={accelerator} but PyTorch sees no CUDA GPU (torch {torch.__version__}, "
                  f"built for CUDA {torch.version.cuda or 'no CUDA'}); unset COURSE_ACCELERATOR to run on the CPU")
        accelerator = "cpu"
    threads = torch.get_num_threads()  # the user's own torch.set_num_threads wins over the course's sizing
    why = TORCH_THREADS["reason"] if TORCH_THREADS["threads"] == threads else "set by torch.set_num_threads"
    report = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else "not available",
        "device": device,
        "precision": default_precision(accelerator),
        "cpu threads": f"{threads} ({why})",
        "mnist source": data.mnist_source(),
        "mode": "FAST (COURSE_FAST=1)" if is_fast() else "FULL",
    }
    if verbose:
        for key, value in report.items():
            print(f"{key:>12}: {value}")
    return report
