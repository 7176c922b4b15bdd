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
    """The course's evaluation network: the shipped reference classifier (notebook 01, full mode, 99 %).

    The second feature extractor of ``metrics.evaluate_samples`` is adopted from the reference models too.

    Put where notebook 01 saves its own (if that is missing), so every metric that loads the network by
    itself finds it instead of running notebook 01 first; notebook 01 under nbval still trains and saves its own.
    """
    from course_lib import metrics, reference
    from course_lib.config import checkpoint_path

    for name in ("evaluation_cnn", "second_cnn"):  # the two feature extractors of metrics.evaluate_samples
        if not checkpoint_path(name).exists():
            reference.adopt(name)
    return metrics.evaluation_network(verbose=False)


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
