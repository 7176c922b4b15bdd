"""The course as a student meets it: JupyterLab in a real (headless) browser.

The test starts JupyterLab exactly the way the README's run command does (``python3 tasks.py lab``,
plus options for a headless run: no browser, a free loopback port, a random token), drives it with
Playwright in Debian's Chromium (``/usr/bin/chromium``; Playwright never downloads a browser), and

1. opens ``notebooks/00_start_here.ipynb``, runs all cells from the *Run* menu and checks that every
   code cell ran and none shows an error;
2. opens a notebook with an ipywidgets slider, drags it, and checks that the picture redraws.

Screenshots land in ``$COURSE_BROWSER_ARTIFACTS`` (default ``.course_home/browser-artifacts``); the
path is printed. Widget notebooks: ``tests/browser/widget_check.ipynb`` (a latent-interpolation
slider built like notebook 03's, with an untrained generator) plus the first course notebook of
``REAL_WIDGET_NOTEBOOKS`` that exists; ``COURSE_BROWSER_WIDGET_NOTEBOOKS=path[,path...]`` replaces
the course notebooks (set but empty: the fixture only).

Skipped, with the reason, where Chromium or Playwright is missing (e.g. on macOS), unless
``COURSE_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip into a failure.
JupyterLab runs with COURSE_FAST=1 and isolated Jupyter settings: autosave is off, so outputs are
never written back into the repository (a test checks the files are byte-for-byte unchanged).
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
START_HERE = "notebooks/00_start_here.ipynb"
WIDGET_FIXTURE = "tests/browser/widget_check.ipynb"
# Course notebooks with a slider that redraws an image; the first one that exists is tested. 09's noise slider
# comes first: the cheapest to run (the fixture already stands in for 03's latent slider).
REAL_WIDGET_NOTEBOOKS = ("notebooks/09_image_enhancement.ipynb", "notebooks/03_dcgan.ipynb",
                         "notebooks/05_vae_latent_space.ipynb")
ARTIFACTS = Path(os.environ.get("COURSE_BROWSER_ARTIFACTS", ROOT / ".course_home" / "browser-artifacts"))
SERVER_START_TIMEOUT_S = 120
RUN_ALL_TIMEOUT_S = float(os.environ.get("COURSE_BROWSER_RUN_ALL_TIMEOUT_S", 300))  # per notebook; a bound, not a goal
REDRAW_TIMEOUT_S = 30


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium; or set COURSE_CHROMIUM)"
    return None


_MISSING = _missing_browser()
if _MISSING and os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"COURSE_REQUIRE_BROWSER=1 but the browser test cannot run: {_MISSING}")
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")


def widget_notebooks() -> list[str]:
    chosen = os.environ.get("COURSE_BROWSER_WIDGET_NOTEBOOKS")
    if chosen is not None:  # set but empty: the fixture only
        real = [p.strip() for p in chosen.split(",") if p.strip()]
    else:
        real = [p for p in REAL_WIDGET_NOTEBOOKS if (ROOT / p).exists()][:1]
    return [WIDGET_FIXTURE, *real]


# --------------------------------------------------------------------------- the JupyterLab server
# Isolated user settings: no autosave (outputs must never reach the repository), every cell in the DOM,
# no news or update checks (offline, and no toast over the screenshots).
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def _free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``python3 tasks.py lab`` started headless on 127.0.0.1 with a token, in its own process group."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.port = _free_loopback_port()
        self.token = secrets.token_hex(24)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = scratch / "jupyterlab.log"
        self.runtime_dir = scratch / "runtime"
        settings_dir = scratch / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            path = settings_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = dict(os.environ)
        env.pop("MPLBACKEND", None)  # the kernel must use the inline backend, as for a student
        env.update(COURSE_FAST="1", JUPYTER_CONFIG_DIR=str(scratch / "config"), JUPYTER_DATA_DIR=str(scratch / "data"),
                   JUPYTER_RUNTIME_DIR=str(self.runtime_dir), JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
                   JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"), PYTHONUNBUFFERED="1")
        self.command = [sys.executable, str(ROOT / "tasks.py"), "lab", "--no-browser", f"--port={self.port}",
                        "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                        "--LabApp.expose_app_in_browser=True", "--LabApp.extension_manager=readonly"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            self.command.append("--allow-root")  # containers and CI machines often run as root
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def get(self, path: str, token: bool = True) -> int:
        request = urllib.request.Request(self.base_url + path)
        if token:
            request.add_header("Authorization", f"token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.get("/api/status") == 200:
                    return
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_TIMEOUT_S} s:\n{self.log_tail()}")

    def listening_addresses(self) -> set[str]:
        """IP addresses that the server and its kernels listen on (TCP)."""
        import psutil

        addresses = set()
        for process in [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]:
            try:
                connections = process.net_connections(kind="inet")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            addresses |= {c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN}
        return addresses

    def stop(self) -> None:
        """SIGTERM the whole process group (tasks.py, JupyterLab, kernels); SIGKILL what is left after 15 s."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._log.close()


def _sha256(relative: str) -> str:
    return hashlib.sha256((ROOT / relative).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    print(f"\nbrowser-test screenshots: {ARTIFACTS}")
    return ARTIFACTS


@pytest.fixture(scope="module")
def notebook_hashes():
    """The notebooks the test opens, hashed before: the browser must never write outputs into them."""
    paths = [START_HERE, *widget_notebooks()]
    return {p: _sha256(p) for p in paths if (ROOT / p).exists()}


@pytest.fixture(scope="module")
def lab(artifacts, notebook_hashes):
    with tempfile.TemporaryDirectory(prefix="course-lab-") as scratch:
        server = LabServer(Path(scratch))
        try:
            server.wait_until_ready()
            yield server
        finally:
            server.stop()
            shutil.copy(server.log_path, artifacts / "jupyterlab.log")


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def page(lab, browser):
    """One JupyterLab page for every test, as a student keeps one tab open (``?reset``: no workspace restored).

    It opens on the address ``python3 tasks.py lab`` opens (notebook 00 in JupyterLab); each later notebook is
    opened from inside the app (File > Open does the same) and closed at the end of its test: JupyterLab itself
    loads once, not once per notebook.
    """
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.console_log = []
    page.on("console", lambda message: page.console_log.append(f"{message.type}: {message.text}"))
    page.goto(f"{lab.base_url}/lab/tree/{START_HERE}?reset&token={lab.token}")
    wait_until_current(page, START_HERE)  # before opening anything else: JupyterLab opens this one last
    yield page
    page.close()


# --------------------------------------------------------------------------- driving JupyterLab
# The notebook's cells as JupyterLab's own model sees them (window.jupyterapp: --LabApp.expose_app_in_browser).
CELLS_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  const list = panel.content.model.cells;
  for (let i = 0; i < list.length; i++) {
    const cell = list.get(i);
    if (cell.type !== 'code') continue;
    const outputs = [];
    for (let j = 0; j < cell.outputs.length; j++) outputs.push(cell.outputs.get(j).toJSON());
    cells.push({index: i, executionCount: cell.executionCount,
                source: cell.sharedModel.getSource(), outputs: outputs});
  }
  return {path: panel.context.path, kernelStatus: kernel ? kernel.status : 'none', cells: cells};
}"""


# Shut every open notebook's kernel down and close its tab unsaved (autosave is off: nothing is written).
CLOSE_NOTEBOOKS_JS = """async () => {
  for (const widget of Array.from(window.jupyterapp.shell.widgets('main'))) {
    if (!widget.context || !widget.sessionContext) continue;  // the launcher
    await widget.sessionContext.shutdown();
    widget.context.model.dirty = false;
    widget.dispose();
  }
}"""


def open_notebook(page, relative: str):
    """Opens ``relative`` in the JupyterLab page and waits until it is the current tab with an idle kernel.

    Any other open notebook (one a failed test left) is closed first: the page shows one notebook at a time.
    """
    current = page.evaluate("() => { const w = window.jupyterapp.shell.currentWidget; return w && w.context ? "
                            "w.context.path : null; }")
    if current != relative:  # notebook 00 is already open from the page's address
        page.evaluate(CLOSE_NOTEBOOKS_JS)
        page.console_log.clear()
        page.evaluate("(path) => { window.jupyterapp.commands.execute('docmanager:open', {path, factory: 'Notebook'}); }",
                      relative)
    wait_until_current(page, relative)


def wait_until_current(page, relative: str) -> None:
    """Waits until ``relative`` is JupyterLab's current tab and its kernel is idle."""
    page.wait_for_function(
        """(path) => { const app = window.jupyterapp; const panel = app && app.shell.currentWidget;
                       const kernel = panel && panel.sessionContext && panel.sessionContext.session
                                      && panel.sessionContext.session.kernel;
                       return panel && panel.context && panel.context.path === path && kernel
                              && kernel.status === 'idle'; }""",
        arg=relative, timeout=SERVER_START_TIMEOUT_S * 1000)


def run_all_cells_from_the_menu(page) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def wait_until_all_cells_ran(page, timeout_s: float = RUN_ALL_TIMEOUT_S) -> dict:
    """Waits until the kernel is idle and every code cell ran (or one failed: Run All then stops).

    The returned state has ``timed_out`` set when the notebook was still running after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        state = page.evaluate(CELLS_JS)
        executed = [c["executionCount"] is not None for c in state["cells"]]
        failed = any(o["output_type"] == "error" for c in state["cells"] for o in c["outputs"])
        if state["kernelStatus"] == "idle" and (all(executed) or failed):
            page.wait_for_timeout(500)  # let the last outputs render before the caller looks at the page
            return {**page.evaluate(CELLS_JS), "timed_out": False}
        if time.monotonic() > deadline:
            return {**state, "timed_out": True}
        page.wait_for_timeout(500)


def describe_errors(state: dict) -> list[str]:
    problems = []
    if state["timed_out"]:
        return [f"{state['path']} was still running after {RUN_ALL_TIMEOUT_S:.0f} s (kernel {state['kernelStatus']}; "
                f"{sum(c['executionCount'] is not None for c in state['cells'])} of {len(state['cells'])} code cells "
                "done); COURSE_BROWSER_RUN_ALL_TIMEOUT_S raises the limit"]
    for cell in state["cells"]:
        for output in cell["outputs"]:
            if output["output_type"] == "error":
                problems.append(f"cell {cell['index']} ({cell['source'][:40]!r}...): "
                                f"{output['ename']}: {output['evalue']}")
        if cell["executionCount"] is None:
            problems.append(f"cell {cell['index']} ({cell['source'][:40]!r}...) did not run")
    return problems


def screenshot_whole_notebook(page, path: Path) -> None:
    """The notebook scrolls inside JupyterLab, so grow the viewport to its full height for one picture."""
    scroller = page.locator(".jp-NotebookPanel:visible .jp-WindowedPanel-outer").first
    extra = scroller.evaluate("e => e.scrollHeight - e.clientHeight")
    page.set_viewport_size({"width": 1280, "height": int(min(900 + extra + 50, 16000))})
    scroller.evaluate("e => { e.scrollTop = 0; }")
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1280, "height": 900})


def close(page, artifacts: Path, name: str) -> None:
    """Shuts the notebook's kernel down (memory) and closes its tab unsaved, saving the console log."""
    (artifacts / f"{name}_console.log").write_text("\n".join(page.console_log))
    page.evaluate(CLOSE_NOTEBOOKS_JS)


# --------------------------------------------------------------------------- the tests
def test_jupyterlab_listens_only_on_loopback_and_requires_the_token(lab):
    assert lab.get("/api/contents", token=False) == 403, "JupyterLab answered without the token"
    assert lab.get("/api/contents") == 200
    addresses = lab.listening_addresses()
    assert addresses and addresses <= {"127.0.0.1"}, f"JupyterLab or a kernel listens beyond loopback: {addresses}"
    assert f"--IdentityProvider.token={lab.token}" in lab.command and "--ServerApp.ip=127.0.0.1" in (
        ROOT / "tasks.py").read_text()


def test_start_here_runs_every_cell_in_jupyterlab_without_an_error(page, artifacts):
    open_notebook(page, START_HERE)
    page.screenshot(path=str(artifacts / "00_start_here_opened.png"))
    started = time.monotonic()
    run_all_cells_from_the_menu(page)
    state = wait_until_all_cells_ran(page)
    print(f"{START_HERE}: Run All took {time.monotonic() - started:.0f} s in JupyterLab")
    screenshot_whole_notebook(page, artifacts / "00_start_here_after_run_all.png")
    problems = describe_errors(state)
    assert not problems, "\n".join(problems)
    # what a student should see: the digits figure, and the last cell's verdict
    assert page.locator(".jp-OutputArea-output img").count() >= 1, "no figure was rendered"
    last = state["cells"][-1]["outputs"]
    assert any("all checks passed" in "".join(o.get("text", "")) for o in last), last
    close(page, artifacts, "00_start_here")


@pytest.mark.parametrize("relative", widget_notebooks())
def test_moving_a_slider_redraws_the_image(page, artifacts, relative):
    assert (ROOT / relative).exists(), f"{relative} does not exist"
    name = Path(relative).stem
    open_notebook(page, relative)
    started = time.monotonic()
    run_all_cells_from_the_menu(page)
    state = wait_until_all_cells_ran(page)
    print(f"{relative}: Run All took {time.monotonic() - started:.0f} s in JupyterLab")
    problems = describe_errors(state)
    if problems:
        screenshot_whole_notebook(page, artifacts / f"{name}_errors.png")
    assert not problems, "\n".join(problems)

    slider = page.locator(".jp-OutputArea-output .widget-slider").first
    slider.wait_for(state="visible", timeout=REDRAW_TIMEOUT_S * 1000)
    cell = page.locator(".jp-CodeCell", has=slider).first
    images = cell.locator(".jp-OutputArea-output img")
    images.first.wait_for(state="visible", timeout=REDRAW_TIMEOUT_S * 1000)
    before = images.evaluate_all("imgs => imgs.map(i => i.src)")
    readout_before = slider.locator(".widget-readout").inner_text()
    cell.scroll_into_view_if_needed()
    cell.screenshot(path=str(artifacts / f"{name}_slider_before.png"))

    # drag the handle to 3/4 of the track, as a student would
    handle = slider.locator(".noUi-handle").first
    track = slider.locator(".noUi-target").first
    handle_box, track_box = handle.bounding_box(), track.bounding_box()
    y = handle_box["y"] + handle_box["height"] / 2
    page.mouse.move(handle_box["x"] + handle_box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track_box["x"] + 0.75 * track_box["width"], y, steps=8)
    page.mouse.up()

    page.wait_for_function(
        """([cellIndex, before]) => {
             const cell = document.querySelectorAll('.jp-CodeCell')[cellIndex];
             const now = Array.from(cell.querySelectorAll('.jp-OutputArea-output img')).map(i => i.src);
             return now.length > 0 && now.some((src, k) => src !== before[k]) && now.every(src => src.length > 0);
           }""",
        arg=[cell.evaluate("c => Array.from(document.querySelectorAll('.jp-CodeCell')).indexOf(c)"), before],
        timeout=REDRAW_TIMEOUT_S * 1000)
    page.wait_for_timeout(500)
    readout_after = slider.locator(".widget-readout").inner_text()
    cell.screenshot(path=str(artifacts / f"{name}_slider_after.png"))
    assert readout_after != readout_before, f"the slider did not move (readout {readout_before!r})"
    after = images.evaluate_all("imgs => imgs.map(i => i.src)")
    assert after != before
    if relative != WIDGET_FIXTURE:
        screenshot_whole_notebook(page, artifacts / f"{name}_after_run_all.png")
        # training cells show tqdm.auto bars: ipywidgets progress bars in JupyterLab (CONTRIBUTING.md, item 4)
        trains = any(word in cell["source"] for cell in state["cells"] for word in ("progress(", "fit("))
        bars = page.locator(".jp-OutputArea-output .widget-hprogress").count()
        assert bars >= 1 or not trains, f"{relative} trains but shows no progress-bar widget"
    close(page, artifacts, name)


def test_the_browser_never_writes_outputs_into_the_repository(lab, notebook_hashes):
    """Autosave is off in the test's JupyterLab settings; the opened notebooks are unchanged byte for byte."""
    changed = [p for p, digest in notebook_hashes.items() if _sha256(p) != digest]
    assert not changed, f"JupyterLab modified {changed}"
