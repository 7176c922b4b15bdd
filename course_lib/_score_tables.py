"""Plumbing of ``enhance``: the PSNR / SSIM tables notebook 09 prints (per photo and on average, one row per method)."""
from __future__ import annotations

import numpy as np
import torch

from .metrics import psnr, ssim


def score_table(results: dict[str, list[torch.Tensor]], targets: list[torch.Tensor],
                names: list[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """{method: {photo name or 'average': (PSNR, SSIM)}} for lists of (C, H, W) images."""
    if len(targets) != len(names):
        raise ValueError(f"need one name per target image, got {len(names)} names and {len(targets)} targets")
    table = {}
    for method, images in results.items():
        if len(images) != len(targets):
            raise ValueError(f"method {method!r} has {len(images)} images for {len(targets)} targets")
        rows = {n: (psnr(i[None].float(), t[None]), ssim(i[None].float(), t[None]))
                for n, i, t in zip(names, images, targets)}
        rows["average"] = tuple(float(np.mean([r[k] for r in rows.values()])) for k in (0, 1))
        table[method] = rows
    return table


def format_table(table: dict[str, dict[str, tuple[float, float]]]) -> str:
    """PSNR (dB) / SSIM per photo and on average, one row per method."""
    columns = list(next(iter(table.values())))
    width = max(len(m) for m in table) + 2
    lines = [" " * width + "".join(f"{c:>17}" for c in columns)]
    for method, rows in table.items():
        lines.append(f"{method:<{width}}" + "".join(f"{rows[c][0]:>9.2f} / {rows[c][1]:.3f}" for c in columns))
    return "\n".join(lines)
