"""Opening the course works: one repository address, a pinned Colab install, a lean install, packaging.

The address and release tag live once in pyproject.toml; ``python3 tasks.py links`` writes them into
every notebook's first cell, the README's badges, CONTRIBUTING and book/_config.yml. The install
decision (which PyTorch build) is a pure function of the platform, the driver and COURSE_TORCH.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import tasks  # noqa: E402

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
META = tasks.project_metadata()
NOTEBOOKS = sorted(p for d in tasks.NOTEBOOK_DIRS for p in (ROOT / d).glob("*.ipynb"))


# --------------------------------------------------------------------------- one address
def test_the_address_and_tag_come_from_pyproject():
    assert META["repository"] == PYPROJECT["project"]["urls"]["Repository"]
    assert META["tag"] == "v" + PYPROJECT["project"]["version"]
    assert META["slug"] == META["repository"].removeprefix("https://github.com/")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_notebook_starts_with_the_generated_colab_cell_pinned_to_the_release(path):
    first = json.loads(path.read_text())["cells"][0]
    source = "".join(first["source"])
    assert first["cell_type"] == "code" and source == tasks.colab_install_source(META), (
        f"{path.name}: its first cell is not the Colab install cell; run python3 tasks.py links")
    assert f"git+{META['repository']}@{META['tag']}\"" in source, "Colab must install the release tag, not a branch"


def test_links_check_finds_nothing_stale():
    result = subprocess.run([sys.executable, str(ROOT / "tasks.py"), "links", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_file_carries_the_address_except_the_generated_ones():
    generated = set(tasks.launch_files(META)) | {ROOT / "pyproject.toml"}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    carriers = []
    for name in tracked:
        path = ROOT / name
        if path.suffix in {".pt", ".png", ".npz"} or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if META["slug"] in text and path not in generated and path.parent.name != "tests":
            carriers.append(name)
    assert not carriers, f"these files hard-code the repository address; derive it from pyproject.toml: {carriers}"


def test_a_fork_changes_every_launch_link_by_editing_pyproject_only():
    fork_text = (ROOT / "pyproject.toml").read_text().replace(META["repository"], "https://github.com/someone/my-fork")
    fork = tasks.project_metadata(fork_text)
    assert fork["slug"] == "someone/my-fork" and fork["tag"] == META["tag"]
    for path, (_, wanted) in tasks.launch_files(fork).items():
        assert "someone/my-fork" in wanted, f"{path.name} would keep the old address"
        assert META["slug"] not in wanted.replace(f"{META['slug']}/issues", ""), path.name


def test_a_notebook_added_later_gets_the_colab_cell():
    bare = json.dumps({"cells": [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": ["# 11"]}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    cells = json.loads(tasks._notebook_with_colab_cell(bare, tasks.colab_install_source(META)))["cells"]
    assert "".join(cells[0]["source"]) == tasks.colab_install_source(META)
    assert cells[0]["metadata"]["tags"] == ["remove-cell"] and cells[1]["source"] == ["# 11"]


def test_a_malformed_address_is_refused_with_a_clear_error():
    text = (ROOT / "pyproject.toml").read_text().replace(META["repository"], "git@github.com:a/b")
    with pytest.raises(ValueError, match="https://github.com/OWNER/NAME"):
        tasks.project_metadata(text)


# --------------------------------------------------------------------------- lean install
@pytest.mark.parametrize("system, driver, override, expected", [
    ("Linux", False, None, "cpu"),          # a laptop without an NVIDIA GPU: no CUDA libraries
    ("Linux", True, None, "default"),       # a GPU machine: PyPI's CUDA build
    ("Linux", False, "auto", "cpu"),
    ("Linux", True, "cpu", "cpu"),          # forced
    ("Linux", False, "cuda", "default"),    # forced
    ("Linux", False, " CUDA ", "default"),  # case and spaces do not matter
    ("Darwin", False, None, "default"),     # PyPI's macOS and Windows wheels carry no CUDA
    ("Windows", False, None, "default"),
    ("Windows", False, "cpu", "cpu"),
])
def test_the_pytorch_build_follows_platform_driver_and_override(system, driver, override, expected):
    assert tasks.torch_build(system, driver, override) == expected


def test_an_unknown_course_torch_value_names_the_valid_ones():
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        tasks.torch_build("Linux", False, "rocm")


def test_the_install_stamp_changes_with_the_build_the_extras_and_pyproject():
    base = tasks.install_stamp(b"x", ("lab",), "cpu")
    assert base == tasks.install_stamp(b"x", ("lab",), "cpu")
    assert base != tasks.install_stamp(b"x", ("lab",), "default")
    assert base != tasks.install_stamp(b"x", ("lab", "test"), "cpu")
    assert base != tasks.install_stamp(b"y", ("lab",), "cpu")


def test_an_unreachable_wheel_index_is_detected_quickly():
    started = time.monotonic()
    assert tasks.index_reachable("http://192.0.2.1/whl/cpu/", timeout=0.5) is False  # TEST-NET-1: never answers
    assert tasks.index_reachable("http://127.0.0.1:9/", timeout=0.5) is False      # refused
    assert time.monotonic() - started < 10, "the probe must give up after its timeout, never hang"


@pytest.fixture
def fake_venv(tmp_path, monkeypatch):
    """tasks.setup() against a scratch .venv, recording the pip commands instead of running them."""
    venv_dir = tmp_path / ".venv"
    python = venv_dir / "bin" / "python"
    commands = []
    monkeypatch.setattr(tasks, "VENV", venv_dir)
    monkeypatch.setattr(tasks, "PYTHON", python)
    monkeypatch.setattr(tasks, "STAMP", venv_dir / ".course-installed")
    monkeypatch.setattr(tasks, "has_nvidia_driver", lambda: False)
    monkeypatch.setattr(tasks.platform, "system", lambda: "Linux")
    monkeypatch.setattr(tasks, "run", lambda *c, env=None: commands.append([str(x) for x in c]) or 0)

    class Builder:
        def __init__(self, **kwargs):
            pass

        def create(self, path):
            python.parent.mkdir(parents=True)
            python.touch()

    monkeypatch.setattr(tasks.venv, "EnvBuilder", Builder)
    monkeypatch.delenv("COURSE_TORCH", raising=False)
    return commands


def test_lab_on_linux_without_a_gpu_installs_cpu_wheels_then_the_lab_extra(fake_venv, monkeypatch):
    monkeypatch.setattr(tasks, "index_reachable", lambda url, timeout=3.0: True)
    tasks.setup(("lab",))
    torch_install, course_install = fake_venv
    assert torch_install[-4:] == ["torch", "torchvision", "--index-url", tasks.TORCH_CPU_INDEX]
    assert course_install[-2:] == ["-e", ".[lab]"]  # torch is already satisfied by the CPU wheel


def test_an_unreachable_cpu_index_falls_back_to_the_default_index_with_one_notice(fake_venv, monkeypatch, capsys):
    monkeypatch.setattr(tasks, "index_reachable", lambda url, timeout=3.0: False)
    tasks.setup(("lab",))
    notices = [line for line in capsys.readouterr().out.splitlines() if line.startswith("notice:")]
    assert len(notices) == 1 and "default index" in notices[0]
    assert fake_venv == [[*map(str, [tasks.PYTHON]), "-m", "pip", "install", "--disable-pip-version-check",
                          "-e", ".[lab]"]]


def test_setup_is_skipped_while_nothing_changed_and_repeats_when_the_build_changes(fake_venv, monkeypatch):
    monkeypatch.setattr(tasks, "index_reachable", lambda url, timeout=3.0: False)
    tasks.setup(("lab", "test"))
    installs = len(fake_venv)
    tasks.setup(("lab",))  # fewer extras than installed: up to date
    assert len(fake_venv) == installs
    monkeypatch.setenv("COURSE_TORCH", "cuda")
    tasks.setup(("lab",))  # another PyTorch build: .venv starts over, with the extras asked for now
    assert len(fake_venv) == installs + 1 and fake_venv[-1][-1] == ".[lab]"
    assert "torch=default" in tasks.STAMP.read_text()


def test_students_get_the_lab_extra_and_contributors_test_and_docs_on_top():
    extras = {name: {r.split(">")[0].split("<")[0].split("[")[0] for r in reqs}
              for name, reqs in PYPROJECT["project"]["optional-dependencies"].items()}
    assert {"jupyterlab", "ipykernel"} <= extras["lab"]
    assert not extras["lab"] & {"pytest", "hypothesis", "playwright", "jupyter-book", "nbval"}
    assert {"pytest", "nbval", "hypothesis", "playwright"} <= extras["test"]
    assert "jupyter-book" in extras["docs"]
    source = (ROOT / "tasks.py").read_text()
    assert 'setup(("lab", "test", "docs"))' in source.split("def task_test")[1].split("def ")[0]


# --------------------------------------------------------------------------- packaging
def test_the_license_is_an_spdx_expression_with_its_file():
    assert PYPROJECT["project"]["license"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    requirement = next(r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools"))
    assert tuple(map(int, requirement.split(">=")[1].split("."))) >= (77,), "SPDX license needs setuptools >= 77"


def test_the_package_version_is_the_release_the_colab_cells_install():
    import course_lib

    assert course_lib.__version__ == PYPROJECT["project"]["version"]


def test_the_reference_models_ship_inside_the_package():
    """Colab and pip installs get the files too, not only a clone (package data, not a data folder)."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert "course_lib.reference" in setuptools["packages"]
    assert {"*.pt", "manifest.json"} <= set(setuptools["package-data"]["course_lib.reference"])
