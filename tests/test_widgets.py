"""The notebooks' widgets work under ipywidgets 8 (JupyterLab 4) and 7 (Colab ships 7.7.1).

tests/widget_api.py drives every widget call the notebooks make. It runs in a subprocess with the
installed ipywidgets and, where a copy of ipywidgets 7 exists (COURSE_IPYWIDGETS7=<folder>, e.g.
``pip install --target /tmp/ipyw7 --no-deps ipywidgets==7.7.1 ipython_genutils``), with that one first
on the path. Without it the 7.x run is skipped; the one 7-vs-8 difference (FileUpload.value) is
also covered by tests/test_style.py.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from widget_api import WIDGETS  # noqa: E402


def _run(extra_path: str | None = None) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, str(ROOT), env.get("PYTHONPATH")) if p)
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "widget_api.py")], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_every_widget_the_notebooks_use_is_exercised():
    used = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb")):
        used |= set(re.findall(r"\bwidgets\.([A-Za-z_]+)", path.read_text()))
    assert used <= WIDGETS, f"add {sorted(used - WIDGETS)} to tests/widget_api.py (under both majors)"


def test_the_widget_callbacks_work_with_the_installed_ipywidgets():
    assert "widgets ok: ipywidgets" in _run()


def test_the_widget_callbacks_work_with_colabs_ipywidgets_7():
    folder = os.environ.get("COURSE_IPYWIDGETS7")
    if not folder or not Path(folder, "ipywidgets").is_dir():
        pytest.skip("set COURSE_IPYWIDGETS7 to a folder holding ipywidgets 7.x (see this file's docstring)")
    assert "widgets ok: ipywidgets 7." in _run(folder)
