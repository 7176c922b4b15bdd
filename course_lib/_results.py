"""Plumbing for the benchmarks: each notebook's last cell records its measured figures here.

``benchmarks/run.py`` sets ``COURSE_RESULTS`` to a JSON file and executes the notebooks; the
figures land in ``benchmarks/results/latest.json``. Outside the benchmarks this only returns them.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

__all__ = ["record_results"]


def record_results(notebook: str, **values) -> dict:
    """Note a notebook's measured results (quality figures, training seconds).

    When ``COURSE_RESULTS`` names a JSON file (the benchmark runner sets it), the values are
    merged into it under ``notebook``; otherwise this only returns them. Values must be numbers
    or strings, so the file stays plain JSON.
    """
    clean = {}
    for key, value in values.items():
        if isinstance(value, torch.Tensor):
            value = value.item()
        if not isinstance(value, (int, float, str, bool)):
            raise TypeError(f"record_results: {key} must be a number or a string, got {type(value).__name__}")
        clean[key] = value
    target = os.environ.get("COURSE_RESULTS")
    if target:
        path = Path(target)
        existing = json.loads(path.read_text()) if path.exists() else {}
        existing.setdefault(notebook, {}).update(clean)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(existing, indent=2, sort_keys=True))
        tmp.replace(path)
    return clean
