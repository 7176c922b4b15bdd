"""scripts/notebook_code.py turns every notebook's code cells into valid Python, for `duplicates` and linters."""
import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("notebook_code", ROOT / "scripts" / "notebook_code.py")
notebook_code = importlib.util.module_from_spec(spec)
spec.loader.exec_module(notebook_code)


def test_every_notebook_becomes_one_parsable_python_file_with_its_cells_numbered(tmp_path):
    assert notebook_code.main([str(tmp_path), str(ROOT / "notebooks")]) == 0
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    written = sorted(tmp_path.glob("*.py"))
    assert [p.stem for p in written] == [p.stem for p in notebooks]
    for path in written:
        source = path.read_text(encoding="utf-8")
        ast.parse(source, filename=str(path))  # magics such as %pip became comments
        assert source.startswith("# cell ")


def test_help_prints_usage_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        notebook_code.main(["--help"])
    assert stop.value.code == 0 and "usage" in capsys.readouterr().out
    assert not any(tmp_path.iterdir()), "--help is not an output folder"
