#!/usr/bin/env python3
"""The course's benchmarks: one command, results as JSON and a Markdown table.

    python3 tasks.py bench                                   # everything (full mode takes a while)
    python3 tasks.py bench --only overhead                   # training-helper overhead only
    python3 tasks.py bench --only notebooks --mode fast      # every notebook in fast mode
    python3 tasks.py bench --only notebooks --notebooks 03   # notebooks whose name contains "03"
    python3 tasks.py bench --only assignments --mode both    # every solution's "train it" task

Sections:
1. overhead   -- ``course_lib.training.fit`` against a hand-written PyTorch loop on the same
                 model, data and seed, interleaved in one run; target: at most 5 % slower per step.
2. notebooks  -- each notebook executed in a fresh kernel: wall time and the kernel's peak memory,
                 in fast and/or full mode, plus the quality figures the notebook records
                 (``course_lib._results.record_results``): this is the time-to-quality table.
3. assignments -- each notebook of ``solutions/`` executed in a fresh kernel: wall time, peak memory and
                 the time of its "train it with your own code" task (the graded cell whose grade_id starts
                 with ``test_train`` and the training cell before it), with what that check printed.
4. machine    -- CPU model, cores, torch version, device.

Results go to benchmarks/results/latest.json and latest.md, and the README's benchmark
section (between the BENCHMARKS markers) is replaced by the new table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
START, END = "<!-- BENCHMARKS:START -->", "<!-- BENCHMARKS:END -->"


# --------------------------------------------------------------------------- machine
def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}


# --------------------------------------------------------------------------- 1. overhead
def overhead(steps: int = 120, repeats: int = 5) -> dict:
    """Seconds per step of fit() vs a plain loop, same model/data/seed, runs interleaved A B A B..."""
    import torch
    from torch.utils.data import DataLoader

    from course_lib.cnn import DigitClassifier, classification_loss
    from course_lib.data import load_mnist
    from course_lib.training import fit, make_fabric, seed_everything

    dataset = load_mnist("train", source="bundled")
    fabric = make_fabric(accelerator="cpu")

    def loss_fn(model, batch):
        return classification_loss(model, batch, augment=False)

    def plain():
        seed_everything(0)
        model = DigitClassifier()
        optimizer = torch.optim.Adam(model.parameters(), 1e-3)
        loader = DataLoader(dataset, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
        started, step = time.perf_counter(), 0
        while step < steps:
            for batch in loader:
                model.train()
                loss = loss_fn(model, batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                if step >= steps:
                    break
        return (time.perf_counter() - started) / steps

    def helper():
        seed_everything(0)
        model = DigitClassifier()
        optimizer = torch.optim.Adam(model.parameters(), 1e-3)
        started = time.perf_counter()
        fit(model, dataset, loss_fn, optimizer=optimizer, steps=steps, batch_size=64, fabric=fabric, desc="fit")
        return (time.perf_counter() - started) / steps

    plain(), helper()  # warm-up
    plain_times, helper_times = [], []
    for _ in range(repeats):
        plain_times.append(plain())
        helper_times.append(helper())
    ratios = [h / p for h, p in zip(helper_times, plain_times)]
    return {"steps": steps, "repeats": repeats, "plain_ms_per_step": 1000 * statistics.median(plain_times),
            "fit_ms_per_step": 1000 * statistics.median(helper_times),
            "overhead_percent": 100 * (statistics.median(ratios) - 1), "target_percent": 5.0}


# --------------------------------------------------------------------------- 2. notebooks
def execute_one(path: Path, timeout: int) -> dict:
    """Run one notebook in a fresh kernel (this process is itself fresh); report time and peak memory.

    For an assignment (cells with nbgrader metadata) also report ``train_seconds``: the graded "train it"
    cell (grade_id ``test_train...``) and the cell before it, timed by nbclient; ``train_output``: the last
    lines that cell pair printed."""
    import resource

    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    error = None
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except Exception as exc:  # report, don't crash the whole benchmark
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else ''}"
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_mb = peak / 1024 if sys.platform != "darwin" else peak / 2**20
    row = {"seconds": round(seconds, 1), "peak_memory_mb": round(peak_mb), "error": error}
    training = training_cells(notebook.cells)
    if training:
        row["train_seconds"] = round(sum(cell_seconds(cell) for cell in training), 1)
        printed = "".join(out.get("text", "") for cell in training for out in cell.get("outputs", [])
                          if out.get("output_type") == "stream")
        row["train_output"] = " / ".join(printed.strip().splitlines()[-2:])[:300]
    return row


def training_cells(cells) -> list:
    """The graded "train it with your own code" cell (grade_id test_train...) and the code cell before it."""
    code = [cell for cell in cells if cell.cell_type == "code"]
    for i, cell in enumerate(code):
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_train"):
            return code[max(0, i - 1):i + 1]
    return []


def cell_seconds(cell) -> float:
    """How long nbclient saw a cell run (its recorded execute_input -> execute_reply timestamps)."""
    from datetime import datetime

    timing = cell.metadata.get("execution", {})
    try:
        started, ended = (datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                          for key in ("iopub.execute_input", "shell.execute_reply"))
    except (KeyError, ValueError):
        return 0.0
    return (ended - started).total_seconds()


def notebooks(modes: list[str], pattern: str | None, timeout: int, folder: str = "notebooks") -> dict:
    paths = sorted((ROOT / folder).glob("*.ipynb"))
    if pattern:
        paths = [p for p in paths if pattern in p.name]
    out: dict = {}
    for mode in modes:
        home = ROOT / ".course_home" / f"bench-{mode}"  # the notebooks' and the assignments' models shared
        home.mkdir(parents=True, exist_ok=True)
        results_file = home / "results.json"
        results_file.unlink(missing_ok=True)
        env = dict(os.environ, COURSE_HOME=str(home), COURSE_RESULTS=str(results_file), MPLBACKEND="Agg",
                   COURSE_FAST="1" if mode == "fast" else "0")
        for path in paths:
            print(f"[bench] {mode:>4} {path.name} ...", flush=True)
            done = subprocess.run([sys.executable, __file__, "--execute-one", str(path), "--timeout", str(timeout)],
                                  env=env, capture_output=True, text=True)
            try:
                row = json.loads(done.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                row = {"seconds": None, "peak_memory_mb": None, "error": done.stderr[-300:]}
            print(f"[bench] {mode:>4} {path.name}: {row}", flush=True)
            out.setdefault(path.stem, {})[mode] = row
        recorded = json.loads(results_file.read_text()) if results_file.exists() else {}
        for name, values in recorded.items():
            stem = next((s for s in out if s.startswith(name) or name in s), name)
            out.setdefault(stem, {}).setdefault(mode, {})["results"] = values
    return out


# --------------------------------------------------------------------------- report
def table_value(row: dict, key: str) -> str:
    """One table cell of a run: "error" if the notebook failed, "–" if not measured, else the number."""
    if row.get("error"):
        return "error"
    return "–" if row.get(key) is None else f"{row[key]:g}"


def markdown(report: dict) -> str:
    lines = []
    m = report.get("machine", {})
    lines.append(f"Measured on {m.get('cpu', '?')} ({m.get('cores', '?')} cores, {m.get('threads', '?')} torch threads), "
                 f"torch {m.get('torch', '?')}, device {m.get('device', '?')}, {m.get('date', '?')}.")
    if "overhead" in report:
        o = report["overhead"]
        lines += ["", "| training-helper overhead | plain loop | `fit` | overhead | target |", "|---|---|---|---|---|",
                  f"| DigitClassifier, batch 64, {o['steps']} steps × {o['repeats']} | {o['plain_ms_per_step']:.1f} ms/step "
                  f"| {o['fit_ms_per_step']:.1f} ms/step | {o['overhead_percent']:+.1f} % | ≤ {o['target_percent']:.0f} % |"]
    if "notebooks" in report:
        lines += ["", "| notebook | fast: s | fast: peak MB | full: s | full: peak MB | full-mode results |",
                  "|---|---|---|---|---|---|"]
        for name, modes in sorted(report["notebooks"].items()):
            fast, full = modes.get("fast", {}), modes.get("full", {})
            results = full.get("results") or fast.get("results") or {}
            shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in results.items())
            if not full.get("results") and fast.get("results"):
                shown = "(fast) " + shown
            lines.append(f"| {name} | {table_value(fast, 'seconds')} | {table_value(fast, 'peak_memory_mb')} "
                         f"| {table_value(full, 'seconds')} | {table_value(full, 'peak_memory_mb')} | {shown} |")
    if "assignments" in report:
        lines += ["", "| assignment | fast: train s | fast: s | full: train s | full: s | full: peak MB "
                  "| what the training check printed (full mode, else fast) |", "|---|---|---|---|---|---|---|"]
        for name, modes in sorted(report["assignments"].items()):
            fast, full = modes.get("fast", {}), modes.get("full", {})
            printed = (full.get("train_output") or fast.get("train_output") or "").replace("|", "/")
            lines.append(f"| {name} | {table_value(fast, 'train_seconds')} | {table_value(fast, 'seconds')} "
                         f"| {table_value(full, 'train_seconds')} | {table_value(full, 'seconds')} "
                         f"| {table_value(full, 'peak_memory_mb')} | {printed} |")
    return "\n".join(lines) + "\n"


def update_readme(table: str) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        readme.write_text(f"{head}{START}\n{table}{END}{tail}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="overhead,notebooks,assignments", help="comma-separated: overhead, notebooks, assignments")
    parser.add_argument("--mode", default="both", choices=["fast", "full", "both"])
    parser.add_argument("--notebooks", default=None,
                        help="only notebooks (and assignments) whose file name contains this")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--execute-one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-readme", action="store_true", help="don't update README.md")
    args = parser.parse_args(argv)
    if args.execute_one:
        print(json.dumps(execute_one(args.execute_one, args.timeout)))
        return 0
    sections = set(args.only.split(","))
    previous = RESULTS / "latest.json"
    report = json.loads(previous.read_text()) if previous.exists() else {}
    report["machine"] = machine()
    if "overhead" in sections:
        report["overhead"] = overhead()
        print(json.dumps(report["overhead"], indent=2))
    if "notebooks" in sections:
        modes = ["fast", "full"] if args.mode == "both" else [args.mode]
        fresh = notebooks(modes, args.notebooks, args.timeout)
        merged = report.setdefault("notebooks", {})
        for name, per_mode in fresh.items():
            merged.setdefault(name, {}).update(per_mode)
    if "assignments" in sections:
        modes = ["fast", "full"] if args.mode == "both" else [args.mode]
        fresh = notebooks(modes, args.notebooks, args.timeout, folder="solutions")
        merged = report.setdefault("assignments", {})
        for name, per_mode in fresh.items():
            merged.setdefault(name, {}).update(per_mode)
    RESULTS.mkdir(parents=True, exist_ok=True)
    previous.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    table = markdown(report)
    (RESULTS / "latest.md").write_text(table)
    if not args.no_readme:
        update_readme(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
