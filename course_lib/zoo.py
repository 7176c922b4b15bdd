"""The course's trained models, by name: the one way to load one.

``load("dcgan")`` returns notebook 03's trained generator in eval mode, ``load("evaluation_cnn")``
the digit classifier every sample-quality metric uses (``metrics.evaluation_network``). Each file
is read once, through the safe ``load_checkpoint``. A missing checkpoint (its notebook was never
run in this mode) is made by executing that notebook now, with a one-line notice: the training
code stays in its notebook, written out once.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from torch import nn

from ._model_config import build_within_limits, checked_config
from ._validate import check_choice
from .checkpoints import ArchitectureMismatch, CheckpointError, load_checkpoint, load_state_dict_checked
from .config import checkpoint_path, is_fast

__all__ = ["ENTRIES", "load", "notebook_path"]


def _builder(module: str, name: str, keys: tuple[str, ...] | None = None) -> Callable[[dict], nn.Module]:
    """config -> ``course_lib.<module>.<name>(**config)`` (only ``keys`` of it, when given), imported when used."""
    def build(config: dict) -> nn.Module:
        model = getattr(importlib.import_module(f"course_lib.{module}"), name)
        return model(**({key: config[key] for key in keys} if keys else config))
    return build


@dataclass(frozen=True)
class Entry:
    notebook: str | None                # the notebook that trains and saves it (None: ``recipe`` does)
    build: Callable[[dict], nn.Module]  # config -> an untrained model of the right shape
    key: str = "model"                  # its name in the checkpoint's "models"
    recipe: Callable[[Path], None] | None = None  # trains the model and saves it to the path, without a notebook


def train_second_cnn(path: Path) -> None:
    """The recipe of ``metrics.evaluate_samples``'s second feature extractor (``metrics.SecondDigitClassifier``).

    Independent of the evaluation network where it can be: another architecture, another seed (1, not 0),
    other augmentation (shifts of at most 1 pixel, not 2), other batches and learning rate
    (``config.BUDGETS["second_cnn"]``); the same training digits, the only ones that are not held out.
    """
    import torch
    import torch.nn.functional as F

    from .checkpoints import save_checkpoint
    from .cnn import accuracy
    from .config import budgets
    from .data import load_mnist, random_shift
    from .metrics import SecondDigitClassifier
    from .training import fit, seed_everything

    budget = budgets("second_cnn", verbose=False)
    seed_everything(1)
    model = SecondDigitClassifier()
    generator = torch.Generator().manual_seed(1)
    with torch.enable_grad():  # it may be asked for inside a no_grad evaluation
        fit(model, load_mnist("train"), lambda m, batch: F.cross_entropy(m(random_shift(batch[0], 1, generator)), batch[1]),
            optimizer=torch.optim.Adam(model.parameters(), lr=budget.lr), steps=budget.steps,
            batch_size=budget.batch_size, seed=1, desc="second CNN")
    save_checkpoint(path, models=model, config=model.config,
                    extra={"val_accuracy": accuracy(model, load_mnist("val")), "steps": budget.steps})


_unet, _time_unet, _vae = _builder("pix2pix", "UNet"), _builder("diffusion", "TimeUNet"), _builder("vae", "make_vae")
ENTRIES = {
    "evaluation_cnn": Entry("01_cnn_building_blocks.ipynb", _builder("cnn", "DigitClassifier")),
    "dcgan": Entry("03_dcgan.ipynb", _builder("gan", "DCGANGenerator", ("latent_dim", "width")), "generator"),
    "vae_mlp": Entry("04_vae_elbo.ipynb", _vae),
    "vae_conv": Entry("05_vae_latent_space.ipynb", _vae),
    "cgan": Entry("06_conditional_gan.ipynb", _builder("conditional", "ConditionalGenerator")),
    "pix2pix_edges_l1": Entry("07_pix2pix.ipynb", _unet),
    "pix2pix_edges_gan": Entry("07_pix2pix.ipynb", _unet),
    "diffusion": Entry("11_diffusion.ipynb", _time_unet),
    "flow": Entry("12_flow_matching.ipynb", _time_unet),
    "second_cnn": Entry(None, _builder("metrics", "SecondDigitClassifier"), recipe=train_second_cnn),
}


def notebook_path(name: str) -> Path:
    """Where the notebook that trains ``name`` lives (the repository's notebooks/ folder)."""
    entry = _entry(name)
    candidates = [Path(__file__).resolve().parents[1] / "notebooks", Path.cwd(), Path.cwd() / "notebooks"]
    for folder in candidates:
        if (folder / entry.notebook).exists():
            return folder / entry.notebook
    raise FileNotFoundError(f"{entry.notebook} (which trains {name!r}) was not found next to course_lib or in "
                            f"{Path.cwd()}; run it from the course's notebooks/ folder first")


def _entry(name: str) -> Entry:
    return ENTRIES[check_choice(name, sorted(ENTRIES), "model")]


def _train(name: str, reason: str, timeout_s: int = 1800) -> Path:
    """Run the notebook (or recipe) that trains ``name`` (in the current mode) and return its new checkpoint."""
    import nbformat
    from nbclient import NotebookClient

    path, recipe = checkpoint_path(name), _entry(name).recipe
    if recipe is not None:
        print(f"[zoo] {reason}: training it now ({recipe.__name__}, {'fast' if is_fast() else 'full'} mode)...",
              flush=True)
        recipe(path)
        return path
    notebook = notebook_path(name)
    print(f"[zoo] {reason}: running {notebook.name} to train it "
          f"({'fast' if is_fast() else 'full'} mode)...", flush=True)
    document = nbformat.read(notebook, as_version=4)
    NotebookClient(document, timeout=timeout_s, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    if not path.exists():
        raise FileNotFoundError(f"{notebook.name} ran but did not save {path.name}")
    return path


def load(name: str, train_if_missing: bool = True, verbose: bool = False) -> nn.Module:
    """The trained model ``name`` (see ``ENTRIES``) on the CPU, in eval mode, frozen.

    A checkpoint saved by an earlier version of the model's code (its tensors no longer fit) is
    retrained like a missing one, with a one-line notice, unless ``train_if_missing=False``.
    ``verbose`` prints which file was loaded and what its notebook recorded with it.
    """
    entry = _entry(name)
    path = checkpoint_path(name)
    if train_if_missing and not path.exists():
        path = _train(name, f"no {path.name} yet")
    try:
        model, extra = _load(entry, path)
    except ArchitectureMismatch:
        if not train_if_missing:
            raise
        path = _train(name, f"{path.name} was saved by an earlier version of this model")
        model, extra = _load(entry, path)
    if verbose:
        recorded = ", ".join(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
                             for key, value in extra.items())
        print(f"[zoo] {name}: {path.name}{f' ({recorded})' if recorded else ''}")
    return model


def _load(entry: Entry, path: Path) -> tuple[nn.Module, dict]:
    """Read the checkpoint once, through the safe loader; check its config; build; restore the weights.

    Returns the model and the numbers its notebook saved with it (``extra``: e.g. validation accuracy)."""
    checkpoint = load_checkpoint(path)  # weights_only, checksum verified: never runs code
    model = build_within_limits(entry.build, checked_config(checkpoint.get("config"), path), path)
    if entry.key not in checkpoint["models"]:
        raise CheckpointError(f"{path} has no model '{entry.key}'; it has {sorted(checkpoint['models'])}")
    load_state_dict_checked(model, checkpoint["models"][entry.key], entry.key)
    return model.eval().requires_grad_(False), dict(checkpoint.get("extra") or {})
