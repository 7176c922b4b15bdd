"""``python -m course_lib.reference CHECKPOINT_FOLDER [NAME ...]``: refresh the shipped reference models
from full-mode checkpoints (``python3 tasks.py reference`` trains them first).
``python -m course_lib.reference --notebooks`` lists the notebooks that train them, one per line."""
import sys
from pathlib import Path

from . import MODELS, refresh

if len(sys.argv) < 2:
    sys.exit(__doc__)
if sys.argv[1] == "--notebooks":
    print("\n".join(dict.fromkeys(model.notebook for model in MODELS.values() if model.notebook)))
else:
    refresh(Path(sys.argv[1]), sys.argv[2:] or None)
