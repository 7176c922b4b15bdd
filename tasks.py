#!/usr/bin/env python3
"""The course's task runner: needs nothing but Python >= 3.10 (no make, no conda).

    python3 tasks.py lab          set up .venv and open the course in JupyterLab
    python3 tasks.py test         set up .venv and run the whole test suite (fast mode)
    python3 tasks.py exercises    regenerate exercises/ from solutions/
    python3 tasks.py strip        remove outputs from every notebook (the git policy)
    python3 tasks.py bench        run the benchmarks (see benchmarks/README.md)
    python3 tasks.py site         build the course website, notebooks executed in fast mode (build/site)
    python3 tasks.py py2nb A.py B.ipynb   author a notebook from a "# %%" script

Set-up is idempotent: the install is skipped while pyproject.toml is unchanged.
Extra arguments after the task go to the underlying tool, e.g.
``python3 tasks.py test -k data`` or ``python3 tasks.py lab --no-browser``. A headless JupyterLab
on a chosen loopback port with a token (what tests/test_browser.py starts):
``python3 tasks.py lab --no-browser --port=8899 --IdentityProvider.token=SECRET``.
``python3 tasks.py site --fresh`` re-executes every notebook (the default reuses the cache).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".course-installed"
NOTEBOOK_DIRS = ("notebooks", "solutions", "exercises")


def run(*command, env=None):
    print("+", " ".join(map(str, command)), flush=True)
    return subprocess.call([str(c) for c in command], cwd=ROOT, env=env)


def setup() -> None:
    """Create .venv and install the course with its dev extras (skipped when up to date)."""
    if sys.version_info < (3, 10):
        sys.exit(f"Python >= 3.10 is needed, this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        print(f"environment up to date ({VENV})")
        return
    code = run(PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-e", ".[dev]")
    if code != 0:
        sys.exit("installing the course failed: see the pip output above (README: Troubleshooting)")
    STAMP.write_text(wanted)


def test_environment() -> dict:
    env = dict(os.environ)
    env.setdefault("COURSE_FAST", "1")
    env.setdefault("COURSE_HOME", str(ROOT / ".course_home" / "test"))
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def task_lab(args):
    setup()
    run(PYTHON, "-m", "ipykernel", "install", "--user", "--name", "pixels-from-noise",
        "--display-name", "Python (Pixels from Noise)")
    # root_dir: serve the whole course (exercises/, solutions/), not only the opened notebook's folder
    return run(PYTHON, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={ROOT}", *args,
               "notebooks/00_start_here.ipynb")


def task_test(args):
    setup()
    # solutions/ is executed by tests/test_nbgrader.py (nbgrader's autograde, every cell error-free), not by nbval
    return run(PYTHON, "-m", "pytest", "tests", "notebooks", "--nbval-lax", "--nbval-current-env",
               "--nbval-cell-timeout=600", "-p", "no:cacheprovider", *args, env=test_environment())


def task_exercises(args):
    setup()
    return run(PYTHON, "-m", "course_lib.exercises", *args)


def task_strip(args):
    setup()
    code = ("import nbformat, pathlib, sys\n"
            "for d in sys.argv[1:]:\n"
            "    for p in sorted(pathlib.Path(d).glob('*.ipynb')):\n"
            "        nb = nbformat.read(p, as_version=4)\n"
            "        for c in nb.cells:\n"
            "            if c.cell_type == 'code':\n"
            "                c.outputs, c.execution_count = [], None\n"
            "            c.metadata.pop('execution', None)\n"
            "        nb.metadata.pop('widgets', None)\n"
            "        nbformat.write(nb, p)\n")
    return run(PYTHON, "-c", code, *NOTEBOOK_DIRS)


def task_py2nb(args):
    """Convert a percent-format script ("# %%" code cells, "# %% [markdown]" text cells) to a notebook."""
    if len(args) != 2:
        sys.exit("usage: python3 tasks.py py2nb SOURCE.py TARGET.ipynb")
    setup()
    code = ("import nbformat, re, sys\n"
            "src = open(sys.argv[1], encoding='utf-8').read()\n"
            "parts = re.split(r'^# %%(.*)$', src, flags=re.M)\n"
            "cells = []\n"
            "for header, body in zip(parts[1::2], parts[2::2]):\n"
            "    body = body.strip('\\n')\n"
            "    if '[markdown]' in header:\n"
            "        text = '\\n'.join(l[2:] if l.startswith('# ') else l.lstrip('#') for l in body.splitlines())\n"
            "        cells.append(nbformat.v4.new_markdown_cell(text))\n"
            "    elif body:\n"
            "        cell = nbformat.v4.new_code_cell(body)\n"
            "        if 'google.colab' in body:  # the Colab install cell: hidden on the website\n"
            "            cell.metadata['tags'] = ['remove-cell']\n"
            "        cells.append(cell)\n"
            "nb = nbformat.v4.new_notebook(cells=cells, metadata={'kernelspec': {'name': 'python3', "
            "'display_name': 'Python 3', 'language': 'python'}, 'language_info': {'name': 'python'}})\n"
            "nbformat.write(nb, sys.argv[2])\n")
    return run(PYTHON, "-c", code, *args)


SITE_OUTPUT = ROOT / "build" / "site"


def task_site(args):
    """Build the course website (Jupyter Book 1.x, book/) with every lecture executed in fast mode.

    jupyter-cache (in build/site/_build/.jupyter_cache) re-executes only notebooks whose code
    changed; ``--fresh`` drops the cache first (e.g. after a course_lib change). Other arguments go
    to ``jupyter-book build`` (e.g. ``-W`` to fail on warnings, ``--path-output DIR``).
    """
    setup()
    if "--fresh" in args:
        args = [a for a in args if a != "--fresh"]
        shutil.rmtree(SITE_OUTPUT / "_build" / ".jupyter_cache", ignore_errors=True)
    env = dict(os.environ)
    env["COURSE_FAST"] = "1"  # the cache is keyed on notebook code only, so the mode is fixed
    env.setdefault("COURSE_HOME", str(ROOT / ".course_home" / "site"))
    env.pop("MPLBACKEND", None)  # figures through the inline backend, as in JupyterLab
    output = Path(args[args.index("--path-output") + 1]) if "--path-output" in args[:-1] else SITE_OUTPUT
    started = time.monotonic()
    code = run(BIN / ("jupyter-book.exe" if os.name == "nt" else "jupyter-book"), "build", ROOT,
               "--config", "book/_config.yml", "--toc", "book/_toc.yml", "--path-output", SITE_OUTPUT, *args, env=env)
    if code == 0:
        print(f"website built in {time.monotonic() - started:.0f} s: open {output / '_build' / 'html' / 'index.html'}")
    return code


def task_bench(args):
    setup()
    return run(PYTHON, "benchmarks/run.py", *args)


TASKS = {name[5:]: fn for name, fn in globals().items() if name.startswith("task_")}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        print(__doc__)
        sys.exit(2)
    sys.exit(TASKS[sys.argv[1]](sys.argv[2:]))
