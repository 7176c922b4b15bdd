"""Plumbing for maintainers: notebook files. ``python3 tasks.py exercises|strip|py2nb`` call this.

* ``strip``: notebooks are committed without outputs (nbval executes them instead).
* ``py2nb``: a percent-format script ("# %%" code cells, "# %% [markdown]" text) to a notebook.
* ``exercises``: generate ``exercises/`` from ``solutions/`` (the single source), nbgrader-style.

In a solution notebook:

* code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes
  ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` (same indentation);
* code between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` is removed;
* a markdown cell containing ``### BEGIN SOLUTION`` becomes ``YOUR ANSWER HERE``;
* outputs and execution counts are stripped.

These are nbgrader's own markers. nbgrader also needs to know each cell's role, from
``metadata.nbgrader``; ``add_grading_metadata`` derives it from the markers and keeps it in the
solution notebooks (it is written back to ``solutions/`` when missing or inconsistent):

* a code cell with a solution region: a solution cell (the student edits it);
* a code cell with hidden tests: an autograded test cell, read-only, worth ``points`` (default 1);
* a markdown cell with a solution region: a manually graded answer, worth ``points`` (default 2);
* every other cell: read-only.

``grade_id`` and ``points`` already present are kept, so an instructor sets the points once
(nbgrader's "Create Assignment" toolbar or the notebook's JSON) and they survive regeneration.
An instructor hands ``solutions/`` to nbgrader as the assignment's source (README, "For instructors"). Usage::

    python -m course_lib._notebooks exercises            # regenerate exercises/
    python -m course_lib._notebooks exercises --check    # exit 1 if exercises/ is out of date
    python -m course_lib._notebooks strip notebooks solutions exercises
    python -m course_lib._notebooks py2nb SOURCE.py TARGET.ipynb
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

__all__ = ["strip_outputs", "strip", "py2nb", "strip_solution_code", "add_grading_metadata", "make_exercise",
           "generate", "out_of_date"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def strip_outputs(notebook):
    """Clear every output and execution count, and the saved widget state (in place); return the notebook."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("widgets", None)
    return notebook


def strip(*folders: Path) -> None:
    """Strip the outputs of every notebook in ``folders`` (the form they are committed in)."""
    for folder in folders:
        for path in sorted(Path(folder).glob("*.ipynb")):
            nbformat.write(strip_outputs(nbformat.read(path, as_version=4)), path)


def py2nb(source: Path, target: Path) -> None:
    """Convert a percent-format script to a notebook; the Colab install cell is hidden on the website."""
    parts = re.split(r"^# %%(.*)$", Path(source).read_text(encoding="utf-8"), flags=re.M)
    cells = []
    for header, body in zip(parts[1::2], parts[2::2]):
        body = body.strip("\n")
        if "[markdown]" in header:
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(text))
        elif body:
            cell = nbformat.v4.new_code_cell(body)
            if "google.colab" in body:
                cell.metadata["tags"] = ["remove-cell"]
            cells.append(cell)
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernel, "language_info": {"name": "python"}})
    nbformat.write(notebook, target)


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
    return source.rstrip() + ("\n" if source.endswith("\n") else "")


NBGRADER_SCHEMA = 3
DEFAULT_POINTS = {"autograded": 1, "manual": 2}


def _role(cell) -> str:
    if cell.cell_type == "code" and BEGIN_HIDDEN in cell.source:
        return "autograded"
    if BEGIN in cell.source:
        return "solution" if cell.cell_type == "code" else "manual"
    return "readonly"


def _readable_id(cell, role: str) -> str:
    """A grade_id a person recognises: the function a cell defines or checks, else the cell's id."""
    if role == "solution" and (match := re.search(r"^def (\w+)", cell.source, re.M)):
        return match.group(1)
    if role == "autograded" and (match := re.search(r"\bcheck_(\w+)\(", cell.source)):
        return f"test_{match.group(1)}"
    prefix = {"manual": "answer", "autograded": "test", "solution": "solution"}.get(role, "cell")
    return f"{prefix}_{cell.get('id') or 'x'}"


def add_grading_metadata(notebook):
    """A copy of a solution notebook whose every cell carries consistent ``metadata.nbgrader``."""
    notebook = nbformat.from_dict(nbformat.from_dict(notebook))  # deep copy
    used = set()
    for cell in notebook.cells:
        role, old = _role(cell), cell.metadata.get("nbgrader", {})
        grade_id = old.get("grade_id") or _readable_id(cell, role)
        base, suffix = grade_id, 2
        while grade_id in used:
            grade_id, suffix = f"{base}_{suffix}", suffix + 1
        used.add(grade_id)
        meta = {"grade": role in ("autograded", "manual"), "grade_id": grade_id,
                "locked": role in ("autograded", "readonly"), "schema_version": NBGRADER_SCHEMA,
                "solution": role in ("solution", "manual")}
        if meta["grade"]:
            meta["points"] = old.get("points", DEFAULT_POINTS[role])
        if role == "manual":
            meta["task"] = False
        cell.metadata["nbgrader"] = meta
    return notebook


def make_exercise(notebook):
    """A stripped copy of a solution notebook (nbformat node)."""
    if not isinstance(notebook, dict) or "cells" not in notebook:
        raise TypeError(f"notebook must be a notebook read with nbformat.read(...), got {type(notebook).__name__}")
    exercise = strip_outputs(nbformat.from_dict(nbformat.from_dict(notebook)))  # a deep copy
    for cell in exercise.cells:
        if cell.cell_type == "code":
            cell.source = strip_solution_code(cell.source)
        elif cell.cell_type == "markdown" and BEGIN in cell.source:
            cell.source = "YOUR ANSWER HERE"
    return exercise


def _pairs(solutions: Path, exercises: Path):
    for path in sorted(solutions.glob("*.ipynb")):
        yield path, exercises / path.name


def _rendered(source: Path) -> tuple[str, str]:
    """The texts ``generate`` writes: (the solution with its grading metadata, its exercise)."""
    solution = add_grading_metadata(nbformat.read(source, as_version=4))
    return nbformat.writes(solution) + "\n", nbformat.writes(make_exercise(solution)) + "\n"


def _differs(path: Path, text: str) -> bool:
    return not path.exists() or path.read_text(encoding="utf-8") != text


def _check_folder(solutions) -> Path:
    solutions = Path(solutions)
    if not solutions.is_dir():
        raise FileNotFoundError(f"no solutions folder at {solutions}; expected the folder of solution notebooks "
                                "(solutions/ at the repository root)")
    return solutions


def generate(solutions: Path, exercises: Path) -> list[Path]:
    """Write each exercise, and each solution whose grading metadata was missing or stale."""
    solutions, exercises = _check_folder(solutions), Path(exercises)
    exercises.mkdir(parents=True, exist_ok=True)
    written = []
    for source, target in _pairs(solutions, exercises):
        for path, text in zip((source, target), _rendered(source)):
            if _differs(path, text):
                path.write_text(text, encoding="utf-8")
                written.append(path)
    return written


def out_of_date(solutions: Path, exercises: Path) -> list[str]:
    """Names of notebooks that differ from what ``generate`` would write (or are orphans)."""
    solutions, exercises = _check_folder(solutions), Path(exercises)
    stale = []
    for source, target in _pairs(solutions, exercises):
        solution_text, exercise_text = _rendered(source)
        if _differs(source, solution_text):
            stale.append(f"{solutions.name}/{source.name} (grading metadata)")
        if _differs(target, exercise_text):
            stale.append(f"{exercises.name}/{target.name}")
    expected = {p.name for p in solutions.glob("*.ipynb")}
    stale += [f"{exercises.name}/{p.name} (no solution)" for p in sorted(exercises.glob("*.ipynb"))
              if p.name not in expected]
    return stale


def main(argv=None) -> int:
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    generate_exercises = commands.add_parser("exercises", help="regenerate exercises/ from solutions/")
    generate_exercises.add_argument("--check", action="store_true", help="only report whether exercises/ is up to date")
    generate_exercises.add_argument("--solutions", type=Path, default=root / "solutions")
    generate_exercises.add_argument("--exercises", type=Path, default=root / "exercises")
    commands.add_parser("strip", help="clear the outputs of the notebooks in FOLDERS").add_argument(
        "folders", type=Path, nargs="+")
    convert = commands.add_parser("py2nb", help="percent-format script to notebook")
    convert.add_argument("source", type=Path)
    convert.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    if args.command == "strip":
        strip(*args.folders)
    elif args.command == "py2nb":
        py2nb(args.source, args.target)
    elif args.check:
        stale = out_of_date(args.solutions, args.exercises)
        for name in stale:
            print(f"out of date: {name}")
        if stale:
            print("run: python3 tasks.py exercises")
        return 1 if stale else 0
    else:
        for path in generate(args.solutions, args.exercises):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
