"""Plumbing of ``checkpoints``: argument checks, plain-data conversion, RNG states, the digest, leftovers of
killed saves, why a save or a read failed, mismatch reports.

``checkpoints`` holds what a student reads (what a checkpoint contains, how it is written and read
safely, the errors); the mechanics it calls live here.
"""
from __future__ import annotations

import errno
import glob
import hashlib
import os
import pickle
import random
import re
import tempfile
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from torch import nn


def as_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or pathlib.Path, got {type(path).__name__}")
    return Path(path)


def as_dict(obj, what: str, kind: type) -> dict:
    """One module (optimizer) or a dict name -> module (optimizer), as a dict; every value must be a ``kind``."""
    items = {} if obj is None else dict(obj) if isinstance(obj, Mapping) else {what: obj}
    for name, value in items.items():
        if not isinstance(value, kind):
            full_name = {nn.Module: "torch.nn.Module", torch.optim.Optimizer: "torch.optim.Optimizer"}[kind]
            raise TypeError(f"{what} {name!r} must be a {full_name} (or a dict name -> {kind.__name__}), "
                            f"got {type(value).__name__}")
    return items


_PLAIN = (type(None), bool, int, float, complex, str, bytes)  # exactly these types: subclasses such as
# numpy.float64 or an IntEnum pickle as a reference to their class, which weights_only loading refuses
_CONTAINERS = (dict, OrderedDict, list, tuple)


def plain_data(value, where: str = "value"):
    """``value`` as what ``weights_only`` loading accepts, or a ``TypeError`` naming the first offending item.

    NumPy scalars become Python numbers (``np.float64(1e-3)`` -> ``1e-3``); other subclasses of
    plain types (an ``IntEnum``, a ``str`` subclass) and any other object are refused, so a save
    never writes a file that loading would refuse.
    """
    if type(value) in _PLAIN or isinstance(value, torch.Tensor):
        return value
    if type(value) in _CONTAINERS:
        if isinstance(value, Mapping):
            return type(value)((plain_data(k, f"a key of {where}"), plain_data(v, f"{where}[{k!r}]"))
                               for k, v in value.items())
        return type(value)(plain_data(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, np.generic) and type(value.item()) in _PLAIN:  # np.float64, np.int64, np.bool_...
        return value.item()
    plain = next((t for t in _PLAIN if isinstance(value, t)), None)
    fix = f"store {plain.__name__}(...) of it" if plain else "store a name or a number instead"
    raise TypeError(f"{where} is a {type(value).__module__}.{type(value).__qualname__}; a checkpoint stores only "
                    "numbers, strings, tensors and lists/dicts of them (so that loading can never run code): "
                    f"{fix}")


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def digest(payload: Mapping) -> str:
    """SHA-256 of everything in the checkpoint except the digest itself (tensors by their bytes)."""
    sha = hashlib.sha256()

    def visit(value, where):
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu().contiguous().reshape(-1)
            sha.update(f"{where}:{tensor.dtype}:{tuple(value.shape)}".encode())
            sha.update(tensor.view(torch.uint8).numpy().tobytes())
        elif isinstance(value, Mapping):
            for key in sorted(value, key=lambda k: (type(k).__name__, repr(k))):
                visit(value[key], f"{where}/{key!r}")
        elif isinstance(value, (list, tuple)):
            sha.update(f"{where}:{type(value).__name__}{len(value)}".encode())
            for i, item in enumerate(value):
                visit(item, f"{where}[{i}]")
        else:
            sha.update(f"{where}={value!r}".encode())

    visit({k: v for k, v in payload.items() if k != "checksum"}, "")
    return sha.hexdigest()


def temporary_file_beside(path: Path) -> tuple[int, str]:
    """(fd, name) of a new file next to ``path`` to write it under before the atomic rename: ``.NAME.PID.xxxx.tmp``,
    unique to its writer, and deleted by ``remove_stale_temporary_files`` once that process is gone."""
    return tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)


def remove_stale_temporary_files(path: Path) -> None:
    """Delete what saves of ``path`` killed mid-write left behind (``.NAME.PID.xxxx.tmp`` of a dead process)."""
    try:
        candidates = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return
    for candidate in candidates:
        pid = candidate.name[len(path.name) + 2:].split(".", 1)[0]
        if not (pid.isdigit() and _alive(int(pid))):  # a live pid: a save in progress (this or another process)
            candidate.unlink(missing_ok=True)


def save_failure(error: OSError | RuntimeError) -> str:
    """Why a save failed, in words: the disk is full, the folder is read-only... (else the error's own first line)."""
    return {errno.ENOSPC: "the disk is full", errno.EROFS: "the folder is read-only",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.EDQUOT: "the disk quota is exceeded"}.get(
        getattr(error, "errno", None), getattr(error, "strerror", None) or str(error).splitlines()[0][:200])


@contextmanager
def read_failures_raise(error_class: type[Exception], path: Path, again: str):
    """Around ``torch.load(path, weights_only=True)``: any failure to read ``path`` becomes one ``error_class``
    that says which it was (permission denied, a reference to Python code, corrupted, truncated) and what to do."""
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise error_class(f"permission denied: {path} exists but this user may not read it. The file is not "
                          "damaged: fix its permissions (chmod u+r) or run as its owner.") from None
    try:
        yield
    except pickle.UnpicklingError as error:
        if "unsupported global" in str(error).lower():  # a class/function reference: code
            found = re.search(r"GLOBAL ([\w.]+)", str(error))
            code = found.group(1) if found else "a class or function"
            raise error_class(f"refused to load {path}: it references Python code ({code}), and unpickling it "
                              "could run that code. Nothing was executed. Only load checkpoints you trust; this "
                              "loader only accepts tensors and plain containers.") from None
        raise error_class(f"{path} is corrupted or not a PyTorch checkpoint: the safe loader cannot read it "
                          f"(nothing was executed). {again}") from None
    except Exception as error:  # truncated zip, bad bytes, empty file...: never half-load
        details = str(error).splitlines()[0][:100] if str(error) else "no details"
        raise error_class(f"{path} is truncated or corrupted and cannot be read ({type(error).__name__}: "
                          f"{details}). {again}") from error


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        pass
    return True


def _listed(what: str, items: list[str]) -> str:
    return f"  {what} ({len(items)}): {', '.join(items[:10])}{' ...' if len(items) > 10 else ''}"


def model_mismatch(module: nn.Module, state_dict: Mapping, name: str) -> str | None:
    """Every difference between the model's tensors and the checkpoint's, as one message (None if they fit)."""
    own = module.state_dict()
    missing, unexpected = sorted(set(own) - set(state_dict)), sorted(set(state_dict) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(state_dict))
              if hasattr(state_dict[k], "shape") and state_dict[k].shape != own[k].shape]
    if not (missing or unexpected or shapes):
        return None
    return "\n".join([f"the checkpoint's '{name}' does not fit this architecture ({type(module).__name__}):",
                      *([_listed("missing keys", missing)] if missing else []),
                      *([_listed("unexpected keys", unexpected)] if unexpected else []),
                      *([f"  shape mismatches ({len(shapes)}): " + "; ".join(shapes[:10])] if shapes else []),
                      "Build the model with the same configuration it was trained with (see the checkpoint's "
                      "'config')."])


def optimizer_mismatch(optimizer: torch.optim.Optimizer, state: Mapping, name: str) -> str | None:
    """Why ``optimizer.load_state_dict(state)`` would fail or load the wrong thing (None if it fits)."""
    kind, saved, own = type(optimizer).__name__, state["param_groups"], optimizer.param_groups
    sizes = [len(group["params"]) for group in saved], [len(group["params"]) for group in own]
    if sizes[0] != sizes[1]:
        return (f"optimizer '{name}': the checkpoint's parameter groups hold {sizes[0]} tensors, this {kind}'s "
                f"{sizes[1]} (another model?)")
    if any(set(s_group) != set(o_group) for s_group, o_group in zip(saved, own)):
        return f"optimizer '{name}' was saved from another kind of optimizer than this {kind} (its settings differ)"
    ids = [i for group in saved for i in group["params"]]
    for saved_id, param in zip(ids, [p for group in own for p in group["params"]]):
        for key, value in state["state"].get(saved_id, {}).items():
            if isinstance(value, torch.Tensor) and value.ndim and value.shape != param.shape:
                return (f"optimizer '{name}': its '{key}' for a parameter has shape {tuple(value.shape)}, "
                        f"the parameter {tuple(param.shape)}")
    return None
