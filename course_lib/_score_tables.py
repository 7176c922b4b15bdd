"""Plumbing of ``metrics`` and ``enhance``: the tables notebooks print.

``metrics.evaluation_table`` (``evaluate_samples``' reports, floor first), ``enhance.score_table`` and
``enhance.format_table`` (PSNR / SSIM per photo and on average, one row per method) are these functions.
"""
from __future__ import annotations

import numpy as np
import torch


def score_table(results: dict[str, list[torch.Tensor]], targets: list[torch.Tensor],
                names: list[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """{method: {photo name or 'average': (PSNR, SSIM)}} for lists of (C, H, W) images."""
    from .metrics import psnr, ssim

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


def evaluation_table(reports: dict) -> str:
    """``evaluate_samples`` results as a table: the real-vs-real floor first, then one row per model.

    ``reports``: one result, or {model name: result}, all at the same n (a floor holds at its n only).
    """
    reports = {"samples": reports} if "n" in reports else reports
    if len({report["n"] for report in reports.values()}) != 1:
        raise ValueError(f"the reports were measured at different n {[r['n'] for r in reports.values()]}: "
                         "FID and its floor compare only at the same n")
    first = next(iter(reports.values()))
    extractors = [key for key, value in first.items() if isinstance(value, dict)]
    width = max(22, *(len(name) + 2 for name in reports))  # the name column fits the longest model name
    header = "".join(f"{'FID':>10}{'KID':>10}{' ± std':<10}{'prec':>6}{'recall':>7}" for _ in extractors)
    lines = [f"{'n = %d per side' % first['n']:<{width}}" + "".join(f"{name:>43}" for name in extractors),
             f"{'':<{width}}{header}{'confident':>11}{'classes':>8}{'memorization':>13}"]

    def scores(report, suffix=""):  # FID, KID (± its spread over subsets, for the samples), precision, recall
        spread = lambda e: f" ±{report[e]['kid_std']:<8.2g}" if not suffix else " " * 10
        return "".join(f"{report[e]['fid' + suffix]:>10.2f}{report[e]['kid' + suffix]:>10.3g}{spread(e)}"
                       f"{report[e]['precision' + suffix]:>6.2f}{report[e]['recall' + suffix]:>7.2f}" for e in extractors)

    lines.append(f"{'real vs real (floor)':<{width}}{scores(first, '_floor')}")
    for name, report in reports.items():
        lines.append(f"{name:<{width}}{scores(report)}{report['confident']:>11.1%}{report['classes_covered']:>8}"
                     f"{report['memorization']:>13.2f}")
    return "\n".join(lines)
