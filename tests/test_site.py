"""The course website (`python3 tasks.py site`, Jupyter Book 1.x, config in book/) builds offline.

One build of the real book (every lecture notebook becomes a page), in a scratch folder, with
notebook 00 executed in fast mode: the other notebooks are rendered without running them here
(nbval already runs each one; ``python3 tasks.py site`` runs them all, cached by jupyter-cache).
The network is blocked for the kernels (COURSE_OFFLINE=1, see conftest.py) and nothing needs it.
"""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("jupyter_book", reason="Jupyter Book is a dev dependency: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = "00_start_here"
LECTURES = sorted((ROOT / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(ROOT))
from tasks import project_metadata  # noqa: E402  the one source of the address and release tag

META = project_metadata()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(html folder, build log) of the book built with only notebook 00 executed."""
    scratch = tmp_path_factory.mktemp("site")
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    config["execute"]["exclude_patterns"] = [f"*{p.stem}*" for p in LECTURES if p.stem != EXECUTED]
    (scratch / "_config.yml").write_text(yaml.safe_dump(config))
    before = hashlib.sha256((ROOT / "notebooks" / f"{EXECUTED}.ipynb").read_bytes()).hexdigest()
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(ROOT / "tasks.py"), "site", "--config", str(scratch / "_config.yml"),
                             "--path-output", str(scratch / "out")], cwd=ROOT, capture_output=True, text=True,
                            timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"the site build failed:\n{log[-6000:]}"
    print(f"\nsite built in {time.monotonic() - started:.0f} s: {scratch / 'out' / '_build' / 'html'}")
    after = hashlib.sha256((ROOT / "notebooks" / f"{EXECUTED}.ipynb").read_bytes()).hexdigest()
    assert before == after, "building the site modified the notebook"
    return scratch / "out" / "_build" / "html", log


def test_every_lecture_notebook_becomes_a_page_of_the_site(site):
    html, _ = site
    assert (html / "index.html").exists()
    missing = [p.name for p in LECTURES if not (html / "notebooks" / f"{p.stem}.html").exists()]
    assert not missing, f"no page for {missing}"


def test_the_executed_notebook_shows_its_outputs_and_no_error(site):
    html, _ = site
    page = (html / "notebooks" / f"{EXECUTED}.html").read_text()
    assert "all checks passed" in page, "the last cell's output is missing: was the notebook executed?"
    assert re.search(r'<img[^>]+src="[^"]*\.png"', page), "the digits figure is missing"
    assert "FAST (COURSE_FAST=1)" in page, "the site must be built in fast mode"
    assert "Traceback" not in page


def test_pages_have_binder_and_colab_launch_buttons(site):
    html, _ = site
    page = (html / "notebooks" / f"{EXECUTED}.html").read_text()
    assert f"mybinder.org/v2/gh/{META['slug']}/{META['tag']}?urlpath=lab/tree/notebooks/{EXECUTED}.ipynb" in page
    assert f"colab.research.google.com/github/{META['slug']}/blob/{META['tag']}/notebooks/{EXECUTED}.ipynb" in page


def test_the_build_writes_nothing_into_the_repository(site):
    assert not (ROOT / "_build").exists(), "jupyter-book wrote _build/ into the repository root"
    assert not list((ROOT / "notebooks").glob("*.html"))
