#!/usr/bin/env python3
"""Write the code cells of every notebook to one .py file per notebook, for tools that read source.

    python scripts/notebook_code.py OUTPUT_DIR [NOTEBOOK_DIR]
    duplicates --repo OUTPUT_DIR --most 40      # repeated blocks across notebooks

Each cell is preceded by a ``# cell N`` comment; IPython magics and shell lines (``%``, ``!``)
become ``pass`` statements with the line as a comment, so the files stay valid Python.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _without_magic(line: str) -> str:
    """An IPython magic or shell line (``%pip ...``, ``!ls``) becomes ``pass  # %pip ...`` at its indentation:
    valid Python, and an ``if`` whose only body it was keeps a body."""
    stripped = line.lstrip()
    if not stripped.startswith(("%", "!")):
        return line
    return f"{line[:len(line) - len(stripped)]}pass  # {stripped}"


def code_of(notebook: Path) -> str:
    """The code cells of ``notebook`` as one Python source text."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    parts = []
    for number, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines = [_without_magic(line) for line in source.splitlines()]
        parts.append(f"# cell {number}\n" + "\n".join(lines) + "\n")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="folder for one .py file per notebook")
    parser.add_argument("notebooks", type=Path, nargs="?", default=Path(__file__).resolve().parents[1] / "notebooks")
    args = parser.parse_args(argv)
    output, notebooks = args.output, args.notebooks
    output.mkdir(parents=True, exist_ok=True)
    for notebook in sorted(notebooks.glob("*.ipynb")):
        (output / f"{notebook.stem}.py").write_text(code_of(notebook), encoding="utf-8")
    print(f"wrote {len(list(notebooks.glob('*.ipynb')))} files to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
