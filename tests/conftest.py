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


@pytest.fixture(scope="session")
def evaluation_network():
    """The fast-mode evaluation network (trained once per session if missing, about 10 s)."""
    from course_lib.metrics import evaluation_network as load

    return load(verbose=False)


@pytest.fixture(scope="session", autouse=True)
def _no_network():
    """Every test runs with the network blocked (loopback allowed): nothing may depend on a download."""
    from course_lib.config import block_network

    block_network()
    yield


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    yield
