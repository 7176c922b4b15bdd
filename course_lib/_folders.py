"""Plumbing of ``config``: the course's folders, created on first use, with an error that says how to fix them.

``config.course_home``, ``config.data_dir`` and ``config.checkpoint_dir`` are these functions.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def course_home() -> Path:
    """``COURSE_HOME``, else ``~/.cache/pixels-from-noise`` (a temporary folder when there is no home at all)."""
    configured = os.environ.get("COURSE_HOME", "").strip()
    if configured:
        return Path(configured).expanduser()
    try:
        return Path.home() / ".cache" / "pixels-from-noise"
    except (RuntimeError, KeyError, OSError):  # HOME unset and no password entry (some containers)
        return Path(tempfile.gettempdir()) / "pixels-from-noise"


class CourseHomeError(OSError):
    """A course folder cannot be created or written; the message names the folder and the fix."""


def _usable_folder(path: Path, what: str) -> Path:
    """``path``, created if needed, or a ``CourseHomeError`` saying why it cannot be (a file in the way...)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        raise CourseHomeError(error.errno, f"the {what} folder {path} cannot be created: {error.filename or path} "
                                           "is a file, not a folder. Set COURSE_HOME to a folder.") from None
    except OSError as error:
        raise CourseHomeError(error.errno, f"the {what} folder {path} cannot be created ({error.strerror or error}). "
                                           "Set COURSE_HOME to a writable folder.") from None
    return path  # an existing read-only folder is fine: a shared, pre-filled MNIST cache is read-only


def data_dir() -> Path:
    """``COURSE_DATA`` or ``COURSE_HOME/data``, created if needed (``CourseHomeError`` if it cannot be)."""
    return _usable_folder(Path(os.environ.get("COURSE_DATA") or course_home() / "data").expanduser(), "data")


def checkpoint_dir() -> Path:
    """``COURSE_HOME/checkpoints``, created if needed (``CourseHomeError`` if it cannot be)."""
    return _usable_folder(course_home() / "checkpoints", "checkpoint")
