"""How the suite is shared between two processes (``python3 tasks.py test`` runs pytest-xdist's ``-n 2``).

Each test file stays in one process (its module-scoped fixtures, such as the nbgrader course of
tests/test_nbgrader.py, are built once), and every lecture notebook runs in one process, in order,
because a later notebook uses what an earlier one saved. The longest parts (the notebooks, the nbgrader
pipeline, then the longest test files) are handed out first; every other file goes to whichever process is free.
Without ``-n`` the same order simply runs in one process.

(xdist's own ``--dist loadgroup`` cannot do this with pytest 9, whose node ids it no longer rewrites,
so the grouping is a scheduler of our own: pytest-xdist's documented ``pytest_xdist_make_scheduler`` hook.)
"""
import pytest

# The browser test's fixture notebook runs inside JupyterLab (tests/test_browser.py checks every cell ran without an
# error there); nbval need not run it a second time in a plain kernel.
collect_ignore_glob = ["tests/browser/*.ipynb"]

# Longest first (measured, 2026-12-01): the rest fill the gaps, so neither process ends with a long file alone.
LONGEST_FIRST = ("notebooks", "tests/test_nbgrader.py", "tests/test_browser.py", "tests/test_training_matters.py",
                 "tests/test_ddp.py", "tests/test_diffusion.py", "tests/test_site.py", "tests/test_pix2pix_checks.py",
                 "tests/test_reference.py", "tests/test_metrics.py", "tests/test_reliability.py")


def _group(nodeid: str) -> str:
    """A test's unit of work: its file, or "notebooks" for every lecture notebook."""
    path = nodeid.split("::", 1)[0]
    return "notebooks" if path.startswith("notebooks/") else path


def pytest_collection_modifyitems(config, items):
    rank = {group: i for i, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item.nodeid), len(rank)))  # stable: order inside a group kept


@pytest.hookimpl(optionalhook=True)  # only called when pytest-xdist is installed
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByFileNotebooksTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid)

    config.option.loadscopereorder = False  # keep the collection order above: longest first
    return ByFileNotebooksTogether(config, log)
