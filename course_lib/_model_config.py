"""Plumbing of ``zoo``: a checkpoint's config must be a plain, sane setting before a model is built from it.

A crafted config could otherwise make ``zoo.load`` build a model of billions of parameters (or pass
objects where numbers belong): every value is checked, then the model is built shape-only first.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .checkpoints import ArchitectureMismatch, CheckpointError

MAX_CONFIG_INT = 65_536          # no course model has a size setting anywhere near this
MAX_PARAMETERS = 50_000_000      # the largest course model has a few million


def checked_config(config, path: Path) -> dict:
    """The checkpoint's config, refused before anything is built if a value is not a plain, sane setting."""
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} has no usable 'config' (got {type(config).__name__}); train the model again")
    for key, value in config.items():
        if not isinstance(key, str) or type(value) not in (bool, int, float, str, type(None)):
            raise CheckpointError(f"{path}: config[{key!r}] is a {type(value).__name__}; expected a number or a string")
        if type(value) is int and not 0 <= value <= MAX_CONFIG_INT:
            raise CheckpointError(f"{path}: config[{key!r}] = {value} is outside [0, {MAX_CONFIG_INT}]; "
                                  "the file was not written by the course (or was edited): train the model again")
        if type(value) is float and not math.isfinite(value):
            raise CheckpointError(f"{path}: config[{key!r}] = {value} is not a finite number")
    return config


def build_within_limits(build: Callable[[dict], nn.Module], config: dict, path: Path) -> nn.Module:
    """Build the model for ``config``: first shape-only (no memory), refusing absurd sizes, then for real."""
    try:
        with torch.device("meta"):
            size = sum(p.numel() for p in build(config).parameters())
    except (TypeError, KeyError) as error:  # a setting the current code does not know, or lacks
        raise ArchitectureMismatch(f"{path}'s config {config} does not fit the current model code "
                                   f"({type(error).__name__}: {error})") from None
    except ValueError as error:
        raise CheckpointError(f"{path}'s config {config} is invalid: {error}") from None
    if size > MAX_PARAMETERS:
        raise CheckpointError(f"{path}'s config {config} describes a model of {size:,} parameters (more than "
                              f"{MAX_PARAMETERS:,}); it was not written by the course: train the model again")
    return build(config)
