"""``python -m course_lib.reference CHECKPOINT_FOLDER [NAME ...]``: refresh the shipped reference models
from full-mode checkpoints (``python3 tasks.py reference`` trains them first)."""
import sys
from pathlib import Path

from . import refresh

if len(sys.argv) < 2:
    sys.exit(__doc__)
refresh(Path(sys.argv[1]), sys.argv[2:] or None)
