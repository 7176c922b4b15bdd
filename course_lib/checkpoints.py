"""Checkpoints that survive interruptions and never run code when loaded.

* ``save_checkpoint`` writes to a temporary file in the same folder, flushes it
  to disk and renames it over the old one (``os.replace`` is atomic), so a crash
  or Ctrl-C in the middle of saving leaves the previous checkpoint intact.
* ``load_checkpoint`` uses ``torch.load(weights_only=True)``: only tensors and
  plain Python containers are accepted, never arbitrary pickled objects.
* A checkpoint carries what a resume needs: step, model and optimizer states,
  RNG states, history and the run's config.
"""
from __future__ import annotations

import errno
import os
import pickle
import random
import tempfile
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "load_state_dict_checked",
           "rng_state", "set_rng_state"]

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint could not be saved or loaded; the message says why and what to do."""


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": list(_flatten(random.getstate()))}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _flatten(python_state):
    version, internal, gauss = python_state
    return [version, *internal, -1 if gauss is None else gauss]


def set_rng_state(state: Mapping) -> None:
    torch.set_rng_state(state["torch"])
    if "python" in state:
        values = state["python"]
        gauss = values[-1]
        random.setstate((int(values[0]), tuple(int(v) for v in values[1:-1]), None if gauss == -1 else gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_dict(obj, what):
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    return {what: obj}


def save_checkpoint(path, *, models, optimizers=None, step: int = 0, history: Mapping | None = None,
                    config: Mapping | None = None, extra: Mapping | None = None) -> Path:
    """Atomically write a checkpoint to ``path``.

    models / optimizers: one module (optimizer) or a dict name -> module (optimizer).
    history: dict of lists of numbers; config: dict of plain values.
    Raises ``CheckpointError`` (disk full, read-only folder...) with the old file untouched.
    """
    path = Path(path)
    payload = {
        "format_version": FORMAT_VERSION,
        "step": int(step),
        "models": {k: m.state_dict() for k, m in _as_dict(models, "model").items()},
        "optimizers": {k: o.state_dict() for k, o in _as_dict(optimizers, "optimizer").items()},
        "history": dict(history or {}),
        "config": dict(config or {}),
        "rng": rng_state(),
        "extra": dict(extra or {}),
    }
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as error:
        reason = {errno.ENOSPC: "the disk is full", errno.EROFS: "the folder is read-only",
                  errno.EACCES: "permission denied", errno.EDQUOT: "the disk quota is exceeded"}.get(
            error.errno, error.strerror or str(error))
        raise CheckpointError(
            f"could not save checkpoint to {path}: {reason}. The previous checkpoint (if any) is untouched; "
            "free some space or pass another path (COURSE_HOME sets the default folder)."
        ) from error
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.remove(tmp_name)
    return path


def load_state_dict_checked(module: nn.Module, state_dict: Mapping, name: str = "model") -> None:
    """``module.load_state_dict`` with an error that lists every mismatch at once."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(state_dict))
              if hasattr(state_dict[k], "shape") and state_dict[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        lines = [f"the checkpoint's '{name}' does not fit this architecture ({type(module).__name__}):"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {', '.join(unexpected[:10])}{' ...' if len(unexpected) > 10 else ''}")
        if shapes:
            lines.append(f"  shape mismatches ({len(shapes)}): " + "; ".join(shapes[:10]))
        lines.append("Build the model with the same configuration it was trained with (see the checkpoint's 'config').")
        raise CheckpointError("\n".join(lines))
    module.load_state_dict(state_dict)


def load_checkpoint(path, models=None, optimizers=None, restore_rng: bool = False,
                    map_location="cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``) and optionally restore state into objects.

    Returns the checkpoint dict (step, history, config, ...). Raises ``CheckpointError``
    for a missing, truncated, corrupted, unsafe or mismatching file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"refused to load {path}: it contains Python objects other than tensors and plain "
            "containers, and loading those could run arbitrary code. Only load checkpoints you trust; "
            "this loader never unpickles code."
        ) from error
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{path} is truncated or corrupted and cannot be read ({type(error).__name__}). "
            "Delete it and train again, or restore an earlier copy."
        ) from error
    if not isinstance(checkpoint, dict) or "models" not in checkpoint:
        raise CheckpointError(f"{path} is not a course checkpoint (expected a dict with 'models')")
    for key, module in _as_dict(models, "model").items():
        if key not in checkpoint["models"]:
            raise CheckpointError(f"{path} has no model '{key}'; it has {sorted(checkpoint['models'])}")
        load_state_dict_checked(module, checkpoint["models"][key], key)
    for key, optimizer in _as_dict(optimizers, "optimizer").items():
        if key not in checkpoint["optimizers"]:
            raise CheckpointError(f"{path} has no optimizer '{key}'; it has {sorted(checkpoint['optimizers'])}")
        optimizer.load_state_dict(checkpoint["optimizers"][key])
    if restore_rng:
        set_rng_state(checkpoint["rng"])
    return checkpoint
