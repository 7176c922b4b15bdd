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
# Every name environment.yml may ask conda-forge for, each one checked by hand on
# https://anaconda.org/conda-forge/<name> (there is no network in the tests, so no solver runs here):
CONDA_FORGE_NAMES = {
    "python", "pip",
    "pytorch-cpu",       # metapackage: conda-forge's pytorch, CPU build (the CUDA one does not fit Binder)
    "torchvision",       # conda-forge builds it against its own pytorch
    "torchmetrics",
    "numpy", "scipy", "tqdm", "ipywidgets", "jupyterlab", "ipykernel",
    "matplotlib-base",   # matplotlib without a Qt backend (Binder has no display)
    "scikit-image",
    "pywavelets",        # conda-forge spells it in lower case
    "mlxtend",
}
# Not on conda-forge under its PyPI name, so environment.yml lists it under pip:
#   lightning-fabric (conda-forge ships Fabric inside "lightning" and "pytorch-lightning" only)
PIP_ONLY = {"lightning-fabric"}


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


def _requirements(section):
    return [_name_and_spec(r.split(";")[0]) for r in section]


def test_environment_yml_lists_every_runtime_and_lab_dependency_with_the_same_lower_bound():
    """Binder runs the lab, so it gets pyproject's dependencies plus the `lab` extra (the stricter bound wins)."""
    _, conda, pip = _environment()
    project = _pyproject()["project"]
    wanted = dict(_requirements(project["dependencies"]))
    wanted.update(_requirements(project["optional-dependencies"]["lab"]))
    for name, spec in wanted.items():
        conda_name = CONDA_NAMES.get(name, name)
        found = pip.get(name) if name in PIP_ONLY else conda.get(conda_name)
        assert found is not None, f"{name} is missing from environment.yml ({'pip' if name in PIP_ONLY else conda_name})"
        assert found == spec, f"{name}: pyproject says {spec!r}, environment.yml says {found!r}"


def test_environment_yml_asks_conda_forge_only_for_names_it_provides():
    _, conda, pip = _environment()
    unknown = sorted(set(conda) - CONDA_FORGE_NAMES)
    assert not unknown, (f"{unknown} are not in the checked list of conda-forge names; check each on "
                         "anaconda.org/conda-forge and add it to CONDA_FORGE_NAMES, or list it under pip:")
    assert not set(conda) & PIP_ONLY, "lightning-fabric is not a conda-forge package: list it under pip"
    assert PIP_ONLY <= set(pip)


def test_colab_keeps_its_ipywidgets_7_and_the_lab_gets_8():
    """The package accepts ipywidgets 7 (Colab ships 7.7.1; 8 is unsupported there) and JupyterLab 4 needs 8."""
    project = _pyproject()["project"]
    assert dict(_requirements(project["dependencies"]))["ipywidgets"] == ">=7.6"
    assert dict(_requirements(project["optional-dependencies"]["lab"]))["ipywidgets"] == ">=8.0"


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
