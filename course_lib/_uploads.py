"""Plumbing of ``style``: the image a student uploads through the notebook's ipywidgets ``FileUpload``."""
from __future__ import annotations

import io

import torch


def decode_upload(value) -> torch.Tensor | None:
    """The image of an ipywidgets ``FileUpload`` value as (3, H, W) in [0, 1]; None if empty.

    Accepts ipywidgets 8 values (a tuple of dicts with ``content``), ipywidgets 7 values
    (a dict name -> dict) or raw bytes of a PNG/JPEG file.
    """
    import numpy as np
    from PIL import Image

    if not value:
        return None
    if isinstance(value, dict):
        value = tuple(value.values())
    if isinstance(value, (tuple, list)):
        value = value[0]["content"]
    try:
        picture = Image.open(io.BytesIO(bytes(value))).convert("RGB")
    except Exception as error:
        raise ValueError(f"the uploaded file is not an image Pillow can read (PNG, JPEG...): {error}") from error
    return torch.from_numpy(np.asarray(picture).copy()).permute(2, 0, 1).float() / 255.0
