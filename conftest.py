"""How the suite is shared between pytest-xdist's two processes (``python3 tasks.py test`` runs ``-n 2``).

Each test file stays in one process (its module-scoped fixtures, such as the nbgrader course of
tests/test_nbgrader.py, are built once), and every lecture notebook runs in one process, in order,
because a later notebook uses what an earlier one saved. The notebooks and the nbgrader pipeline,
the two longest parts, are handed out first; every other file goes to whichever process is free.
Without ``-n`` the same order simply runs in one process.
"""
import pytest

LONGEST_FIRST = ("notebooks", "test_nbgrader.py")


def _group(item) -> str:
    return "notebooks" if item.path.parent.name == "notebooks" else item.path.name


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    rank = {group: i for i, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))  # stable: the order inside a group is kept
