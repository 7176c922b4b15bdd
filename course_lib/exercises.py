"""Generate ``exercises/`` from ``solutions/`` (the single source), nbgrader-style.

In a solution notebook:

* code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes
  ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` (same indentation);
* code between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` is removed;
* a markdown cell containing ``### BEGIN SOLUTION`` becomes ``YOUR ANSWER HERE``;
* outputs and execution counts are stripped.

These are nbgrader's own markers, so an instructor can hand ``solutions/`` to
nbgrader unchanged. Usage::

    python -m course_lib.exercises            # regenerate exercises/
    python -m course_lib.exercises --check    # exit 1 if exercises/ is out of date
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

__all__ = ["strip_solution_code", "make_exercise", "generate", "out_of_date"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def _replace_blocks(source: str, begin: str, end: str, replacement: list[str] | None) -> str:
    lines, out, inside, indent = source.split("\n"), [], False, ""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise ValueError(f"line {number}: {begin!r} inside another block")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            out.extend(indent + r for r in (replacement or []))
        elif stripped == end:
            if not inside:
                raise ValueError(f"line {number}: {end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{begin!r} is never closed by {end!r}")
    return "\n".join(out)


def strip_solution_code(source: str) -> str:
    """The exercise version of one code cell's source."""
    if not isinstance(source, str):
        raise TypeError(f"source must be a cell's source text (str), got {type(source).__name__}")
    source = _replace_blocks(source, BEGIN, END, ["# YOUR CODE HERE", "raise NotImplementedError()"])
    source = _replace_blocks(source, BEGIN_HIDDEN, END_HIDDEN, None)
    return re.sub(r"\n{3,}", "\n\n", source).rstrip() + ("\n" if source.endswith("\n") else "")


def make_exercise(notebook):
    """A stripped copy of a solution notebook (nbformat node)."""
    if not isinstance(notebook, dict) or "cells" not in notebook:
        raise TypeError(f"notebook must be a notebook read with nbformat.read(...), got {type(notebook).__name__}")
    exercise = nbformat.from_dict(nbformat.from_dict(notebook))  # deep copy
    for cell in exercise.cells:
        if cell.cell_type == "code":
            cell.source = strip_solution_code(cell.source)
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown" and BEGIN in cell.source:
            cell.source = "YOUR ANSWER HERE"
        cell.metadata.pop("execution", None)
    exercise.metadata.pop("widgets", None)
    return exercise


def _pairs(solutions: Path, exercises: Path):
    for path in sorted(solutions.glob("*.ipynb")):
        yield path, exercises / path.name


def _render(path: Path) -> str:
    return nbformat.writes(make_exercise(nbformat.read(path, as_version=4))) + "\n"


def _check_folder(solutions) -> Path:
    solutions = Path(solutions)
    if not solutions.is_dir():
        raise FileNotFoundError(f"no solutions folder at {solutions}; expected the folder of solution notebooks "
                                "(solutions/ at the repository root)")
    return solutions


def generate(solutions: Path, exercises: Path) -> list[Path]:
    solutions, exercises = _check_folder(solutions), Path(exercises)
    exercises.mkdir(parents=True, exist_ok=True)
    written = []
    for source, target in _pairs(solutions, exercises):
        text = _render(source)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(target)
    return written


def out_of_date(solutions: Path, exercises: Path) -> list[str]:
    """Names of exercise notebooks that differ from what ``generate`` would write (or are orphans)."""
    solutions, exercises = _check_folder(solutions), Path(exercises)
    stale = [target.name for source, target in _pairs(solutions, exercises)
             if not target.exists() or target.read_text(encoding="utf-8") != _render(source)]
    expected = {p.name for p in solutions.glob("*.ipynb")}
    stale += [p.name + " (no solution)" for p in sorted(exercises.glob("*.ipynb")) if p.name not in expected]
    return stale


def main(argv=None) -> int:
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report whether exercises/ is up to date")
    parser.add_argument("--solutions", type=Path, default=root / "solutions")
    parser.add_argument("--exercises", type=Path, default=root / "exercises")
    args = parser.parse_args(argv)
    if args.check:
        stale = out_of_date(args.solutions, args.exercises)
        for name in stale:
            print(f"out of date: exercises/{name}")
        if stale:
            print("run: python -m course_lib.exercises")
        return 1 if stale else 0
    for path in generate(args.solutions, args.exercises):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
