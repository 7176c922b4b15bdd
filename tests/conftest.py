"""Shared test set-up: fast mode, a scratch COURSE_HOME, headless matplotlib, no network.

The network is blocked for the whole session (``COURSE_OFFLINE=1`` and the
``_no_network`` fixture): any connection or DNS lookup to a non-loopback address
raises ``NetworkBlockedError``. Loopback and Unix sockets still work, and notebook
kernels started by nbval inherit ``COURSE_OFFLINE=1`` (so they block their own
network when they import course_lib) while talking to pytest over loopback ZMQ.
"""
import os
import tempfile

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["COURSE_OFFLINE"] = "1"
if "COURSE_HOME" not in os.environ:
    os.environ["COURSE_HOME"] = tempfile.mkdtemp(prefix="course-home-")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def evaluation_network():
    """The course's evaluation network: the shipped reference classifier (notebook 01, full mode, 98 %).

    Returned from the shipped file itself, never from COURSE_HOME: notebook 01 under nbval saves its own
    fast-mode classifier there (the one the later notebooks use), and a spec must not depend on whether that
    notebook already ran in the other test process. Where COURSE_HOME has none yet, the reference is put there
    too (with the second feature extractor of ``metrics.evaluate_samples``), so every metric that loads the
    network by itself finds one instead of running notebook 01 first.
    """
    from course_lib import reference
    from course_lib.config import checkpoint_path

    for name in ("evaluation_cnn", "second_cnn"):  # the two feature extractors of metrics.evaluate_samples
        if not checkpoint_path(name).exists():
            reference.adopt(name)
    return reference.load("evaluation_cnn")


@pytest.fixture(scope="session", autouse=True)
def _no_network():
    """Every test runs with the network blocked (loopback allowed): nothing may depend on a download."""
    from course_lib._network import block_network

    block_network()
    yield


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    yield
