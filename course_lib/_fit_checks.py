"""Plumbing of ``training``: what ``fit`` checks at its boundary, with the messages a student reads.

``fit`` calls ``check_fit_arguments`` once before training and ``loss_and_extra`` on every
``loss_fn`` result; the loop itself stays in ``training.fit``.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from ._validate import check_positive_int
from .checkpoints import plain_data


def check_fit_arguments(model, dataset, loss_fn, optimizer, eval_fn, steps, batch_size, eval_every, fabric) -> dict:
    """Refuse what would fail later (or silently train nothing); return ``model.config`` as plain data."""
    check_positive_int(steps, "steps")
    check_positive_int(batch_size, "batch_size")
    if eval_every is not None:
        check_positive_int(eval_every, "eval_every")
    if batch_size % fabric.world_size:
        raise ValueError(f"batch_size ({batch_size}) must be divisible by the number of processes "
                         f"({fabric.world_size}): it is the global batch, shared equally between them")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer (e.g. torch.optim.Adam(model.parameters())), "
                        f"got {type(optimizer).__name__}")
    for name, fn in (("loss_fn", loss_fn), ("eval_fn", eval_fn)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be a function, got {type(fn).__name__}")
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(f"dataset must be a torch Dataset (with __len__ and __getitem__), got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise ValueError("the dataset is empty: nothing to train on")
    own, updated = {id(p) for p in model.parameters()}, [p for g in optimizer.param_groups for p in g["params"]]
    if own and not any(id(p) in own for p in updated):  # extra tensors beside the model's (a loss's own) are fine
        raise ValueError(f"the optimizer updates {len(updated)} tensor(s), none of them a parameter of this model "
                         f"({type(model).__name__}): training would change nothing. Build it from this model, "
                         "e.g. torch.optim.Adam(model.parameters())")
    return plain_data(dict(getattr(model, "config", None) or {}), "model.config")  # refused now, not at the end


def loss_and_extra(out, step):
    """loss_fn's result as (finite scalar loss, dict of numbers); a NaN names the extra terms that went wrong too."""
    loss, extra = out if isinstance(out, tuple) else (out, {})
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"loss_fn must return a tensor (or (loss, dict of numbers)), got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(f"loss_fn must return a single number, got a tensor of shape {tuple(loss.shape)}; "
                         "reduce it with .mean() (or .sum())")
    if not isinstance(extra, Mapping):
        raise TypeError(f"the second value loss_fn returns must be a dict of numbers, got {type(extra).__name__}")
    if not torch.isfinite(loss.detach()).all():
        from .training import check_finite

        bad = [k for k, v in extra.items() if not torch.isfinite(torch.as_tensor(v, dtype=torch.float)).all()]
        check_finite(loss, f"loss{' (non-finite terms: ' + ', '.join(bad) + ')' if bad else ''}", step)
    return loss, extra
