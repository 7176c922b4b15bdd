"""Shared test set-up: fast mode, a scratch COURSE_HOME, headless matplotlib."""
import os
import tempfile

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
if "COURSE_HOME" not in os.environ:
    os.environ["COURSE_HOME"] = tempfile.mkdtemp(prefix="course-home-")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(scope="session")
def evaluation_network():
    """The fast-mode evaluation network (trained once per session if missing, about 10 s)."""
    from course_lib.metrics import evaluation_network as load

    return load(verbose=False)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    yield
