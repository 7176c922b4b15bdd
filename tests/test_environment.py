"""The project's own files install everything, and they agree with each other."""
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
# pip name -> conda-forge name, where they differ
CONDA_NAMES = {"torch": "pytorch-cpu", "matplotlib": "matplotlib-base"}


def _name_and_spec(requirement: str):
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip.update(_name_and_spec(r) for r in entry["pip"])
        else:
            name, spec = _name_and_spec(entry.replace("=", "==", 1) if re.match(r"^[\w\-]+=[^=]", entry) else entry)
            conda[name] = spec
    return env, conda, pip


def test_environment_yml_lists_every_runtime_dependency_with_the_same_lower_bound():
    _, conda, pip = _environment()
    for requirement in _pyproject()["project"]["dependencies"]:
        name, spec = _name_and_spec(requirement)
        conda_name = CONDA_NAMES.get(name, name)
        found = conda.get(conda_name, pip.get(name))
        assert found is not None, f"{name} (conda: {conda_name}) is missing from environment.yml"
        assert found == spec, f"{name}: pyproject says {spec!r}, environment.yml says {found!r}"


def test_environment_yml_uses_cpu_only_pytorch_from_conda_forge():
    env, conda, pip = _environment()
    assert env["channels"][0] == "conda-forge"
    assert "pytorch-cpu" in conda and "torch" not in pip and "pytorch" not in conda


def test_environment_yml_includes_what_binder_needs_to_run_the_notebooks():
    _, conda, pip = _environment()
    for needed in ("jupyterlab", "ipykernel", "ipywidgets"):
        assert needed in conda or needed in pip
    assert "pip install --no-deps -e ." in (ROOT / "postBuild").read_text()


def test_python_version_agrees():
    env, conda, _ = _environment()
    minimum = _pyproject()["project"]["requires-python"].lstrip(">=")
    assert tuple(map(int, conda["python"].lstrip("=").split("."))) >= tuple(map(int, minimum.split(".")))


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 tasks.py test" in readme and "python3 tasks.py lab" in readme
    assert re.search(r"^python3 tasks\.py test$", ci, re.M)


NOTEBOOKS = sorted(p for d in ("notebooks", "solutions", "exercises") for p in (ROOT / d).glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebooks_are_committed_without_outputs(path):
    """Policy: outputs are stripped (python3 tasks.py strip); nbval executes every notebook instead."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb")),
                         ids=lambda p: p.name)
def test_every_notebook_installs_on_colab_first_and_ends_with_checks(path):
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert "google.colab" in code[0].source and "%pip install" in code[0].source
    assert "assert" in code[-1].source, f"{path.name}: the last cell must assert what the notebook claims"


def test_notebooks_import_the_installed_course_lib_not_sys_path_tricks():
    for path in NOTEBOOKS:
        text = path.read_text()
        assert "sys.path.insert" not in text and "sys.path.append" not in text, path.name
