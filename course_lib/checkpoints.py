"""Checkpoints that survive interruptions and never run code when loaded.

* ``save_checkpoint`` writes a temporary file in the same folder, flushes it and renames it over the
  old one (atomic: a crash mid-save leaves the previous checkpoint intact; the next save or load
  removes what a killed save left). It stores only plain data (``plain_data``: numbers, strings,
  tensors and lists/dicts of them, so that loading can never run code), never NaN/inf weights.
* ``load_checkpoint`` reads with ``weights_only=True`` (never pickled objects), verifies the SHA-256
  digest every checkpoint carries, and checks every state against its target before restoring any.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from ._checkpoint_file import (as_dict, as_path, digest, model_mismatch, optimizer_mismatch, plain_data,
                               read_failures_raise, remove_stale_temporary_files, rng_state, save_failure,
                               set_rng_state, temporary_file_beside)
from ._validate import check_non_negative_int

__all__ = ["CheckpointError", "ArchitectureMismatch", "save_checkpoint", "load_checkpoint", "load_state_dict_checked",
           "plain_data"]

FORMAT_VERSION = 2


class CheckpointError(RuntimeError):
    """A checkpoint could not be saved or loaded; the message says why and what to do."""


class ArchitectureMismatch(CheckpointError):
    """The checkpoint's tensors do not fit the model: it was saved from another configuration or
    from an earlier version of the model's code."""


def save_checkpoint(path, *, models, optimizers=None, step: int = 0, history: Mapping | None = None,
                    config: Mapping | None = None, extra: Mapping | None = None) -> Path:
    """Atomically write a checkpoint to ``path``.

    models / optimizers: one module (optimizer) or a dict name -> module (optimizer).
    history: dict of lists of numbers; config and extra: dicts of plain values.
    Raises ``CheckpointError`` (disk full, read-only folder, NaN/inf parameters...) with the
    old file untouched.
    """
    path = as_path(path)
    models = as_dict(models, "model", nn.Module)
    if not models:
        raise ValueError("models is empty: pass the module to save, or a dict name -> module")
    optimizers = as_dict(optimizers, "optimizer", torch.optim.Optimizer)
    check_non_negative_int(step, "step")
    plain = {}
    for what, value in (("history", history), ("config", config), ("extra", extra)):
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"{what} must be a dict (or None), got {type(value).__name__}"
                            + ("; pass history.state_dict()" if what == "history" else ""))
        plain[what] = plain_data(dict(value or {}), what)
    broken = [f"{name}.{key}" for name, module in models.items() for key, value in module.state_dict().items()
              if value.is_floating_point() and not torch.isfinite(value).all()]
    if broken:
        raise CheckpointError(f"not saving {path}: these parameters are NaN or infinite: {', '.join(broken[:5])}"
                              f"{' ...' if len(broken) > 5 else ''}. Training diverged; the previous checkpoint (if "
                              "any) is kept. Usual causes: learning rate too high, log(0), images in the wrong range.")
    payload = {"format_version": FORMAT_VERSION, "step": step,
               "models": {k: m.state_dict() for k, m in models.items()},
               "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
               **plain, "rng": rng_state()}
    payload["checksum"] = digest(payload)
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporary_files(path)
        fd, tmp_name = temporary_file_beside(path)
        with os.fdopen(fd, "wb") as handle:
            # Serialised in memory first, then written with one plain write: a full disk then raises
            # OSError(ENOSPC) here, not PyTorch's "[enforce fail ...] unexpected pos" from its zip writer.
            buffer = io.BytesIO()
            torch.save(payload, buffer)
            handle.write(buffer.getbuffer())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except (OSError, RuntimeError) as error:
        raise CheckpointError(f"could not save checkpoint to {path}: {save_failure(error)}. The previous checkpoint "
                              "(if any) is untouched; free some space or pass another path (COURSE_HOME sets the "
                              "default folder).") from error
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.remove(tmp_name)
    return path


def load_state_dict_checked(module: nn.Module, state_dict: Mapping, name: str = "model") -> None:
    """``module.load_state_dict`` with an error that lists every mismatch at once."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"model {name!r} must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"the state dict for {name!r} must be a dict of tensors, got {type(state_dict).__name__}")
    problem = model_mismatch(module, state_dict, name)
    if problem:
        raise ArchitectureMismatch(problem)
    module.load_state_dict(state_dict)


def load_checkpoint(path, models=None, optimizers=None, restore_rng: bool = False,
                    map_location="cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``) and optionally restore state into objects.

    Returns the checkpoint dict (step, history, config, ...). Raises ``CheckpointError``
    for a missing, truncated, corrupted, unsafe or mismatching file.
    """
    path = as_path(path)
    models = as_dict(models, "model", nn.Module)
    optimizers = as_dict(optimizers, "optimizer", torch.optim.Optimizer)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    remove_stale_temporary_files(path)
    again = "Delete it and train again, or restore an earlier copy."
    with read_failures_raise(CheckpointError, path, again):  # unreadable, refers to code, corrupted, truncated
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(checkpoint, dict) or "models" not in checkpoint:
        raise CheckpointError(f"{path} is not a course checkpoint (expected a dict with 'models')")
    if "checksum" not in checkpoint:
        raise CheckpointError(f"{path} is corrupted or tampered with: a course checkpoint always carries a checksum "
                              f"and this one has none. {again}")
    if checkpoint["checksum"] != digest(checkpoint):
        raise CheckpointError(f"{path} is corrupted: its contents do not match the checksum written when it was "
                              f"saved (damaged on disk or in transfer). {again}")
    # Everything is checked before anything is restored: a failure never leaves a half-restored model.
    for key, module in models.items():
        if key not in checkpoint["models"]:
            raise CheckpointError(f"{path} has no model '{key}'; it has {sorted(checkpoint['models'])}")
        problem = model_mismatch(module, checkpoint["models"][key], key)
        if problem:
            raise ArchitectureMismatch(problem)
    for key, optimizer in optimizers.items():
        if key not in checkpoint.get("optimizers", {}):
            raise CheckpointError(f"{path} has no optimizer '{key}'; it has {sorted(checkpoint.get('optimizers', {}))}")
        problem = optimizer_mismatch(optimizer, checkpoint["optimizers"][key], key)
        if problem:
            raise CheckpointError(f"{path} cannot be resumed with this optimizer: {problem}. Nothing was restored; "
                                  "build the optimizer the run was saved with, or start without resume.")
    for key, module in models.items():
        module.load_state_dict(checkpoint["models"][key])
    for key, optimizer in optimizers.items():
        optimizer.load_state_dict(checkpoint["optimizers"][key])
    if restore_rng:
        set_rng_state(checkpoint["rng"])
    return checkpoint
