"""Devices and training: Lightning Fabric underneath, the loop in plain sight.

* ``make_fabric()`` picks the device (CUDA, Apple MPS, CPU) and the precision (bf16 mixed on GPUs
  that support it, fp16 with loss scaling on other GPUs, fp32 on CPU); ``devices=N`` runs DDP.
  ``setup_model`` and ``to_device`` put models and batches there (``_devices`` holds all three).
* ``fit()`` is the one-optimizer loop (progress bar, history, evaluation, atomic checkpoints,
  bit-exact resume). GAN notebooks write their loop out, one ``gan.adversarial_step`` per step,
  with the same pieces: ``make_fabric``, ``setup_model``, ``to_device``, ``progress``, ``History``.
"""
from __future__ import annotations

import itertools
import math
import os
import random
import time
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from ._devices import default_precision, make_fabric, setup_model, to_device
from ._environment import environment_report
from ._fit_checks import check_fit_arguments, loss_and_extra
from ._validate import check_non_negative_int
from .checkpoints import load_checkpoint, save_checkpoint
from .config import is_fast

__all__ = ["make_fabric", "default_precision", "seed_everything", "environment_report", "progress",
           "History", "TrainingDiverged", "check_finite", "fit", "setup_model", "to_device"]


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite."""


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) and ask for deterministic kernels."""
    check_non_negative_int(seed, "seed")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def progress(iterable=None, total=None, desc=None, **kwargs):
    """``tqdm.auto``: a widget in JupyterLab, plain text in a terminal or CI log."""
    from tqdm.auto import tqdm

    kwargs.setdefault("mininterval", 5.0 if os.environ.get("CI") or is_fast() else 0.5)
    return tqdm(iterable, total=total, desc=desc, **kwargs)


class History:
    """Named series of (step, value) pairs: ``history.log(step, loss=..)``, ``history['loss']``."""

    interrupted = False  # True when fit() was stopped by Ctrl-C

    def __init__(self, data: Mapping | None = None):
        self.data: dict[str, list[list[float]]] = {k: [list(p) for p in v] for k, v in (data or {}).items()}

    def log(self, step: int, **values) -> None:
        for name, value in values.items():
            try:
                number = float(value)  # a Python number or a one-element tensor
            except (TypeError, ValueError, RuntimeError):
                raise TypeError(f"history.log({name}=...) needs a number (or a one-element tensor), got "
                                f"{type(value).__name__}{tuple(value.shape) if hasattr(value, 'shape') else ''}; "
                                "log loss.item(), not a batch of values") from None
            self.data.setdefault(name, []).append([int(step), number])

    def steps(self, name: str) -> list[int]:
        return [int(s) for s, _ in self._series(name)]

    def __getitem__(self, name: str) -> list[float]:
        return [v for _, v in self._series(name)]

    def _series(self, name):
        if name not in self.data:
            raise KeyError(f"no series {name!r} in history; it has {sorted(self.data)}")
        return self.data[name]

    def __contains__(self, name):
        return name in self.data

    def last(self, name: str) -> float:
        return self[name][-1]

    def names(self) -> list[str]:
        return list(self.data)

    def state_dict(self) -> dict:
        return {k: [list(p) for p in v] for k, v in self.data.items()}

    def __repr__(self):
        return f"History({', '.join(f'{k}: {len(v)} points' for k, v in self.data.items())})"


def check_finite(value: torch.Tensor | float, name: str, step: int) -> None:
    """Raise ``TrainingDiverged`` if ``value`` holds NaN or inf, saying which loss and which step."""
    value = torch.as_tensor(value).detach().reshape(-1)
    bad = value[~torch.isfinite(value)]
    if bad.numel():
        raise TrainingDiverged(f"the {name} became {bad[0].float().item()} at step {step}. Usual causes: learning "
                               "rate too high; log(0) from a hand-written log (use BCEWithLogitsLoss or clamp); "
                               "images in the wrong range; fp16 overflow (try precision='32-true').")


def _batches(dataset, batch_size: int, seed: int, step: int, fabric):
    """Batches on the fabric's device from ``step`` on, epoch after epoch, forever.

    Each epoch is a seeded permutation, so a resume at any step continues with the very batches an
    uninterrupted run would see. Under DDP every process draws the same permutation, cuts it into
    *global* batches and keeps its own share (``rank::world_size``) of each: N processes with
    batch_size / N images each see exactly the global batches a single process would.
    """
    n, rank, world_size = len(dataset), fabric.global_rank, fabric.world_size
    epoch, batch = divmod(step, math.ceil(n / batch_size))
    while True:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).tolist()
        for start in range(batch * batch_size, n, batch_size):
            share = order[start:start + batch_size][rank::world_size]
            yield to_device(fabric, default_collate([dataset[i] for i in share]))
        epoch, batch = epoch + 1, 0


def fit(model: nn.Module, dataset: Dataset, loss_fn: Callable, *, optimizer: torch.optim.Optimizer, steps: int,
        batch_size: int = 64, seed: int = 0, fabric=None, scheduler=None, eval_fn: Callable | None = None,
        eval_every: int | None = None, checkpoint: str | os.PathLike | None = None, resume: bool = False,
        desc: str = "training") -> History:
    """Train ``model`` for ``steps`` optimizer steps on shuffled batches of ``dataset``; return its ``History``.

    loss_fn(model, batch) -> loss, or (loss, dict of numbers to log). ``scheduler`` steps after every step.
    Every ``eval_every`` steps and at the end, ``eval_fn(model)`` -> dict of numbers is logged and ``checkpoint``
    is written atomically (with ``model.config``); resume=True continues from it, bit for bit. The model trains on
    the fabric's device and comes back in eval mode where it was. Ctrl-C keeps model, history and the last
    checkpoint; a NaN/inf loss raises ``TrainingDiverged`` naming the step.
    """
    fabric = fabric or make_fabric()
    config = check_fit_arguments(model, dataset, loss_fn, optimizer, eval_fn, steps, batch_size, eval_every, fabric)
    home = next(model.parameters(), torch.empty(0)).device  # where the model goes back after training
    history, step = History(), 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        step, history = _resume(checkpoint, model, optimizer, scheduler, fabric)
    model_f, optimizer_f = setup_model(fabric, model, optimizer)
    bar = progress(total=steps, initial=step, desc=desc, unit="step", disable=fabric.global_rank != 0)
    started, first = time.perf_counter(), step

    def evaluate_and_save():
        if eval_fn is not None:
            model_f.eval()
            with torch.no_grad():
                history.log(step, **eval_fn(model_f))
        if checkpoint is not None and fabric.global_rank == 0:
            save_checkpoint(checkpoint, models=model, optimizers=optimizer, step=step,
                            history=history.state_dict(), config=config)

    try:
        for batch in itertools.islice(_batches(dataset, batch_size, seed, step, fabric), max(steps - step, 0)):
            model_f.train()
            loss, extra = loss_and_extra(loss_fn(model_f, batch), step)
            optimizer_f.zero_grad(set_to_none=True)
            fabric.backward(loss)
            optimizer_f.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            history.log(step, loss=loss.item(), **extra)
            rate = (step - first) * batch_size / max(time.perf_counter() - started, 1e-9)  # images per second
            bar.set_postfix(loss=f"{loss.item():.4f}", img_s=f"{rate:.0f}", refresh=False)
            bar.update(1)
            if eval_every and step % eval_every == 0 and step < steps:
                evaluate_and_save()
        evaluate_and_save()
    except TrainingDiverged as error:
        if checkpoint is not None:
            kept = f"the last good checkpoint, {checkpoint}, is" if Path(checkpoint).exists() else "no checkpoint was"
            error.args = (f"{error.args[0]} Training stopped; {kept} kept.",)
        raise
    except KeyboardInterrupt:
        where = f"; the last checkpoint in {checkpoint} is intact" if checkpoint else ""
        print(f"\n[fit] interrupted at step {step}: the model and history in memory are kept{where}.")
        history.interrupted = True
    finally:
        bar.close()
        model.to(home).eval()
    return history


def _resume(checkpoint, model, optimizer, scheduler, fabric) -> tuple[int, History]:
    """Restore model, optimizer, RNG and scheduler from ``checkpoint``; return (step, history) to go on from."""
    model.to(fabric.device)  # first, so that Adam's moments load next to the parameters
    state = load_checkpoint(checkpoint, models=model, optimizers=optimizer, restore_rng=True)
    for _ in range(state["step"] if scheduler is not None else 0):
        scheduler.step()
    print(f"[fit] resumed from {checkpoint} at step {state['step']}")
    return state["step"], History(state["history"])
