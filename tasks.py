#!/usr/bin/env python3
"""The course's task runner: needs nothing but Python >= 3.10 (no make, no conda).

    python3 tasks.py lab          set up .venv (what students need) and open the course in JupyterLab
    python3 tasks.py test         set up .venv (plus the test and docs tools) and run the whole test suite (fast mode)
    python3 tasks.py exercises    regenerate exercises/ from solutions/
    python3 tasks.py strip        remove outputs from every notebook (the git policy)
    python3 tasks.py bench        run the benchmarks (see benchmarks/README.md)
    python3 tasks.py site         build the course website with the reference models, offline (build/site)
    python3 tasks.py reference    retrain the shipped reference models in full mode and refresh course_lib/reference/
    python3 tasks.py links        write the repository address and release tag (pyproject.toml) everywhere
                                  (--check: only report what is stale)
    python3 tasks.py py2nb A.py B.ipynb   author a notebook from a "# %%" script

Set-up is idempotent: the install is skipped while pyproject.toml, the extras and the PyTorch build
are unchanged. PyTorch: on Linux without an NVIDIA driver the CPU-only wheels are installed (about
0.2 GB instead of several GB of CUDA libraries); ``COURSE_TORCH=cpu|cuda|auto`` overrides the choice
(``cuda`` = PyPI's default build). Changing the choice rebuilds .venv.
Extra arguments after the task go to the underlying tool, e.g.
``python3 tasks.py test -k data`` or ``python3 tasks.py lab --no-browser``. A headless JupyterLab
on a chosen loopback port with a token (what tests/test_browser.py starts):
``python3 tasks.py lab --no-browser --port=8899 --IdentityProvider.token=SECRET``.
``python3 tasks.py site --fresh`` re-executes every notebook (the default reuses the cache).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
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


# --------------------------------------------------------------------------- install
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CHOICES = ("auto", "cpu", "cuda")


def torch_build(system: str, has_nvidia_driver: bool, override: str | None) -> str:
    """Which PyTorch build to install: "cpu" (PyTorch's CPU wheel index) or "default" (PyPI's).

    ``override`` is COURSE_TORCH: "cpu" and "cuda" force a build ("cuda" means PyPI's default
    wheels, CUDA-enabled on Linux); "auto" or unset picks the CPU wheels on Linux without an NVIDIA
    driver, where PyPI's default would download several GB of CUDA libraries that cannot be used.
    macOS and Windows get PyPI's default, which has no CUDA libraries there anyway.
    """
    choice = (override or "auto").strip().lower()
    if choice not in TORCH_CHOICES:
        raise ValueError(f"COURSE_TORCH={override!r} is not one of {', '.join(TORCH_CHOICES)}")
    if choice == "cpu":
        return "cpu"
    if choice == "cuda":
        return "default"
    return "cpu" if system == "Linux" and not has_nvidia_driver else "default"


def has_nvidia_driver() -> bool:
    """An NVIDIA kernel driver is loaded (Linux) or nvidia-smi is on PATH."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def index_reachable(url: str, timeout: float = 3.0) -> bool:
    """True when ``url`` answers within ``timeout`` seconds (one short request, never a hang).

    The request runs in a daemon thread joined with a deadline, because a name lookup is not
    covered by urlopen's timeout and can block for much longer when DNS is unreachable.
    """
    import threading
    import urllib.request

    answered = []

    def probe():
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
                answered.append(True)
        except Exception:  # unreachable, refused, timed out, proxy error: fall back to the default index
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answered)


def install_stamp(pyproject: bytes, extras: tuple[str, ...], build: str) -> str:
    """What the install in .venv was made from: a new value means install again."""
    digest = hashlib.sha256(pyproject).hexdigest()
    return f"{digest} extras={','.join(sorted(extras))} torch={build}"


def _stamp_fields(stamp: str) -> dict:
    parts = stamp.split()
    fields = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    fields["pyproject"] = parts[0] if parts else ""
    return fields


def setup(extras: tuple[str, ...] = ("lab",)) -> None:
    """Create .venv and install the course with ``extras`` (skipped when up to date).

    An install that already has more extras than asked for counts as up to date; a different
    PyTorch build (COURSE_TORCH or a new driver) starts .venv over, so no unused CUDA library stays.
    """
    if sys.version_info < (3, 10):
        sys.exit(f"Python >= 3.10 is needed, this is {sys.version.split()[0]}")
    try:
        build = torch_build(platform.system(), has_nvidia_driver(), os.environ.get("COURSE_TORCH"))
    except ValueError as error:
        sys.exit(str(error))
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    old = _stamp_fields(STAMP.read_text().strip()) if STAMP.exists() else {}
    installed_extras = set(filter(None, old.get("extras", "").split(",")))
    if old and old.get("torch") not in (None, build):
        print(f"PyTorch build changes ({old.get('torch')} -> {build}): starting {VENV.name} over")
        shutil.rmtree(VENV)
        old, installed_extras = {}, set()
    wanted_extras = tuple(sorted(set(extras) | installed_extras))
    if old.get("pyproject") == hashlib.sha256(pyproject).hexdigest() and set(extras) <= installed_extras:
        print(f"environment up to date ({VENV}, torch: {build})")
        return
    if not PYTHON.exists():
        print(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [PYTHON, "-m", "pip", "install", "--disable-pip-version-check"]
    if build == "cpu":
        if index_reachable(TORCH_CPU_INDEX + "/torch/"):
            print(f"installing PyTorch's CPU-only build ({TORCH_CPU_INDEX})")
            if run(*pip, "torch", "torchvision", "--index-url", TORCH_CPU_INDEX) != 0:
                sys.exit("installing PyTorch failed: see the pip output above (README: Troubleshooting)")
        else:
            print(f"notice: {TORCH_CPU_INDEX} cannot be reached; installing PyTorch from the default index instead")
    if run(*pip, "-e", f".[{','.join(wanted_extras)}]") != 0:
        sys.exit("installing the course failed: see the pip output above (README: Troubleshooting)")
    STAMP.write_text(install_stamp(pyproject, wanted_extras, build))


def test_environment() -> dict:
    env = dict(os.environ)
    env.setdefault("COURSE_FAST", "1")
    env.setdefault("COURSE_HOME", str(ROOT / ".course_home" / "test"))
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("PYTHONHASHSEED", "0")
    # Two test processes (see conftest.py) with one thread each keep 2 cores busy without oversubscription.
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def task_lab(args):
    setup()
    run(PYTHON, "-m", "ipykernel", "install", "--user", "--name", "pixels-from-noise",
        "--display-name", "Python (Pixels from Noise)")
    # root_dir: serve the whole course (exercises/, solutions/), not only the opened notebook's folder
    return run(PYTHON, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={ROOT}", *args,
               "notebooks/00_start_here.ipynb")


def task_test(args):
    setup(("lab", "test", "docs"))
    # solutions/ is executed by tests/test_nbgrader.py (nbgrader's autograde, every cell error-free), not by nbval.
    # Two processes (pytest-xdist; conftest.py says which tests share one, longest first); `-n 0` runs in one.
    return run(PYTHON, "-m", "pytest", "tests", "notebooks", "--nbval-lax", "--nbval-current-env",
               "--nbval-cell-timeout=600", "-p", "no:cacheprovider", "-n", "2", *args,
               env=test_environment())


def task_exercises(args):
    setup()
    return run(PYTHON, "-m", "course_lib._notebooks", "exercises", *args)


def task_strip(args):
    setup()
    return run(PYTHON, "-m", "course_lib._notebooks", "strip", *NOTEBOOK_DIRS)


def task_py2nb(args):
    """Convert a percent-format script ("# %%" code cells, "# %% [markdown]" text cells) to a notebook."""
    if len(args) != 2:
        sys.exit("usage: python3 tasks.py py2nb SOURCE.py TARGET.ipynb")
    setup()
    return run(PYTHON, "-m", "course_lib._notebooks", "py2nb", *args)


# --------------------------------------------------------------------------- launch links
# The repository's address and the release tag are written once, in pyproject.toml ([project.urls]
# Repository, [project] version); `python3 tasks.py links` writes them into every place below and
# `python3 tasks.py links --check` (run by tests/test_launch.py) lists the places that disagree.
LAUNCH_START, LAUNCH_END = "<!-- LAUNCH:START (python3 tasks.py links) -->", "<!-- LAUNCH:END -->"
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"


def project_metadata(pyproject_text: str | None = None) -> dict:
    """{"repository": ..., "version": ..., "tag": "v<version>", "slug": "owner/name"} from pyproject.toml.

    Read with a regular expression (not tomllib) so tasks.py keeps working on Python 3.10.
    """
    text = (ROOT / "pyproject.toml").read_text() if pyproject_text is None else pyproject_text
    version = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    urls = re.search(r"^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    repository = re.search(r'^Repository\s*=\s*"([^"]+)"', urls.group(1), re.M) if urls else None
    if not version or not repository:
        raise ValueError("pyproject.toml needs [project] version and [project.urls] Repository")
    address = repository.group(1).rstrip("/")
    slug = re.fullmatch(r"https://github\.com/([\w.\-]+/[\w.\-]+?)(?:\.git)?", address)
    if not slug:
        raise ValueError(f"[project.urls] Repository must be https://github.com/OWNER/NAME, got {address!r}")
    return {"repository": address, "version": version.group(1), "tag": f"v{version.group(1)}",
            "slug": slug.group(1)}


def colab_install_source(meta: dict) -> str:
    """The first code cell of every notebook: installs the pinned release on Colab, nothing elsewhere."""
    return ("# On Google Colab this installs the course; anywhere else it does nothing.\n"
            "import sys\n"
            "if \"google.colab\" in sys.modules:\n"
            f"    %pip install -q \"pixels-from-noise @ git+{meta['repository']}@{meta['tag']}\"")


def launch_badges(meta: dict, notebook: str = FIRST_NOTEBOOK) -> str:
    binder = f"https://mybinder.org/v2/gh/{meta['slug']}/{meta['tag']}?urlpath=lab/tree/{notebook}"
    colab = f"https://colab.research.google.com/github/{meta['slug']}/blob/{meta['tag']}/{notebook}"
    return (f"[![Launch on Binder](https://mybinder.org/badge_logo.svg)]({binder})\n"
            f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab})")


def _replace_between_markers(text: str, body: str, where: str) -> str:
    start, end = text.find(LAUNCH_START), text.find(LAUNCH_END)
    if start < 0 or end < start:
        raise ValueError(f"{where}: the markers {LAUNCH_START} ... {LAUNCH_END} are missing")
    indent = text[text.rfind("\n", 0, start) + 1:start]
    inner = "".join(f"{indent}{line}\n" if line else "\n" for line in body.splitlines())
    return text[:start + len(LAUNCH_START)] + "\n" + inner + indent + text[end:]


def _notebook_with_colab_cell(raw: str, source: str) -> str:
    """The notebook (its JSON text, as nbformat writes it) whose first cell is the Colab install cell."""
    notebook = json.loads(raw)
    lines = source.splitlines(keepends=True)
    cells = notebook["cells"]
    if cells and cells[0]["cell_type"] == "code" and "google.colab" in "".join(cells[0]["source"]):
        cells[0]["source"] = lines
    else:  # a notebook added without one
        cells.insert(0, {"cell_type": "code", "execution_count": None, "id": "colab-install",
                         "metadata": {"tags": ["remove-cell"]}, "outputs": [], "source": lines})
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def launch_files(meta: dict) -> dict:
    """{path: (current text, text with the launch links written from ``meta``)} of every file that carries them."""
    files = {}
    for folder in NOTEBOOK_DIRS:
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            raw = path.read_text(encoding="utf-8")
            files[path] = (raw, _notebook_with_colab_cell(raw, colab_install_source(meta)))
    readme = ROOT / "README.md"
    files[readme] = (readme.read_text(), _replace_between_markers(readme.read_text(), launch_badges(meta), "README.md"))
    guide = ROOT / "CONTRIBUTING.md"
    block = f"```python\n{colab_install_source(meta)}\n```"
    files[guide] = (guide.read_text(), _replace_between_markers(guide.read_text(), block, "CONTRIBUTING.md"))
    book = ROOT / "book" / "_config.yml"
    text = book.read_text()
    updated = re.sub(r"^(repository:\n  url: ).*\n  branch: .*$",
                     lambda m: f"{m.group(1)}{meta['repository']}\n  branch: {meta['tag']}", text, flags=re.M)
    files[book] = (text, updated)
    return files


def task_links(args):
    """Write the repository address and release tag from pyproject.toml everywhere (--check: report only)."""
    meta = project_metadata()
    files = launch_files(meta)
    stale = [path for path, (current, wanted) in files.items() if current != wanted]
    if "--check" in args:
        for path in stale:
            print(f"stale launch link: {path.relative_to(ROOT)} (run: python3 tasks.py links)")
        return 1 if stale else 0
    for path in stale:
        path.write_text(files[path][1], encoding="utf-8")
        print(f"updated {path.relative_to(ROOT)}")
    print(f"launch links: {meta['repository']} @ {meta['tag']} ({len(stale)} files updated)")
    return 0


SITE_OUTPUT = ROOT / "build" / "site"


def task_site(args):
    """Build the course website (Jupyter Book 1.x, book/) with every lecture executed in fast mode,
    using the shipped reference models (COURSE_REFERENCE=1) wherever a notebook trains one, so its
    figures show the quality the text describes; offline.

    jupyter-cache (in build/site/_build/.jupyter_cache) re-executes only notebooks whose code
    changed; ``--fresh`` drops the cache first (e.g. after a course_lib change). Other arguments go
    to ``jupyter-book build`` (e.g. ``-W`` to fail on warnings, ``--path-output DIR``).
    """
    setup(("lab", "docs"))
    if "--fresh" in args:
        args = [a for a in args if a != "--fresh"]
        shutil.rmtree(SITE_OUTPUT / "_build" / ".jupyter_cache", ignore_errors=True)
    env = dict(os.environ)
    env["COURSE_FAST"] = "1"  # the cache is keyed on notebook code only, so the mode is fixed
    env["COURSE_REFERENCE"] = "1"  # every USE_REFERENCE_MODEL switch: the figures show full-mode models
    env.setdefault("COURSE_HOME", str(ROOT / ".course_home" / "site"))
    env.pop("MPLBACKEND", None)  # figures through the inline backend, as in JupyterLab
    output = Path(args[args.index("--path-output") + 1]) if "--path-output" in args[:-1] else SITE_OUTPUT
    started = time.monotonic()
    code = run(BIN / ("jupyter-book.exe" if os.name == "nt" else "jupyter-book"), "build", ROOT,
               "--config", "book/_config.yml", "--toc", "book/_toc.yml", "--path-output", SITE_OUTPUT, *args, env=env)
    if code == 0:
        print(f"website built in {time.monotonic() - started:.0f} s: open {output / '_build' / 'html' / 'index.html'}")
    return code


def task_reference(args):
    """Retrain the shipped reference models in full mode and refresh course_lib/reference/.

    Runs every notebook that trains one (course_lib.reference.MODELS) in full mode, in a fresh
    COURSE_HOME (.course_home/reference, or COURSE_HOME; a model no notebook trains, the second
    feature extractor "second_cnn", is trained by its recipe in course_lib.zoo), then writes the slim fp16 files and
    manifest.json (checksums, held-out quality). ``--no-train`` only refreshes from the checkpoints
    already there. Takes about 15 minutes on 2 idle CPU cores.
    """
    setup()
    env = dict(os.environ)
    env.pop("COURSE_FAST", None)
    env.pop("COURSE_REFERENCE", None)
    env.setdefault("COURSE_HOME", str(ROOT / ".course_home" / "reference"))
    env.setdefault("MPLBACKEND", "Agg")
    listing = subprocess.run([str(PYTHON), "-m", "course_lib.reference", "--notebooks"],
                             cwd=ROOT, capture_output=True, text=True, check=True)
    if "--no-train" not in args:
        for notebook in listing.stdout.split():
            started = time.monotonic()
            code = run(PYTHON, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                       "--output-dir", ROOT / "build" / "reference",
                       "--ExecutePreprocessor.timeout=3600", f"notebooks/{notebook}", env=env)
            if code != 0:
                sys.exit(f"{notebook} failed in full mode: nothing was refreshed")
            print(f"{notebook}: {time.monotonic() - started:.0f} s")
    return run(PYTHON, "-m", "course_lib.reference", Path(env["COURSE_HOME"]) / "checkpoints", env=env)


def task_bench(args):
    setup(("lab", "test"))
    return run(PYTHON, "benchmarks/run.py", *args)


TASKS = {name[5:]: fn for name, fn in globals().items() if name.startswith("task_")}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        print(__doc__)
        sys.exit(2)
    sys.exit(TASKS[sys.argv[1]](sys.argv[2:]))
