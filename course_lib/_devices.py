"""Plumbing of ``training``: which device and precision a run uses, and how models and batches get there.

``training.make_fabric``, ``setup_model``, ``to_device`` and ``default_precision`` are these functions:
Lightning Fabric picks the device and applies mixed precision; this module chooses its settings and adds
the two CUDA speed-ups the benchmarks measure (NHWC memory layout, pinned-memory copies).
"""
from __future__ import annotations

import os

import torch
from torch import nn

from ._validate import check_choice


def default_precision(accelerator: str) -> str:
    """bf16 mixed precision where the GPU supports it, fp16 mixed otherwise, fp32 on CPU/MPS."""
    if accelerator == "cuda":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def _pick_accelerator() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def make_fabric(accelerator: str = "auto", devices: int | str = 1, precision: str | None = None):
    """A ready (launched) Lightning ``Fabric``: device and precision chosen for this machine.

    ``COURSE_ACCELERATOR`` (cpu/cuda/mps) overrides the automatic choice. ``devices=N`` runs
    N processes with DDP (or run the script under ``fabric run``).
    """
    from lightning_fabric import Fabric

    accelerator = check_choice(os.environ.get("COURSE_ACCELERATOR", accelerator),
                               ("auto", "cpu", "cuda", "gpu", "mps"), "accelerator")
    if accelerator == "auto":
        accelerator = _pick_accelerator()
    fabric = Fabric(accelerator=accelerator, devices=devices, precision=precision or default_precision(accelerator))
    fabric.launch()
    return fabric


def setup_model(fabric, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                channels_last: bool | None = None):
    """``fabric.setup``, plus activations stored as NHWC (``channels_last``, which tensor cores prefer)
    by default for convolutional models on CUDA; mixed precision itself is Fabric's (``make_fabric``).

    Returns (model, optimizer), or the model alone when no optimizer is given.
    """
    if channels_last is None:
        channels_last = fabric.device.type == "cuda" and any(
            isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules())
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return fabric.setup(model) if optimizer is None else fabric.setup(model, optimizer)


def to_device(fabric, batch):
    """Move a batch to the fabric's device: non-blocking from pinned memory, NHWC images on CUDA."""
    on_cuda = fabric.device.type == "cuda"

    def move(t):
        if not isinstance(t, torch.Tensor):
            return t
        if on_cuda and t.device.type == "cpu" and not t.is_pinned():
            t = t.pin_memory()
        t = t.to(fabric.device, non_blocking=on_cuda)
        if on_cuda and t.ndim == 4 and t.is_floating_point():
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    if isinstance(batch, (list, tuple)):
        return type(batch)(move(t) for t in batch)
    return move(batch)
