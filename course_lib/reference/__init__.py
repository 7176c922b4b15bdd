"""The course's reference models: trained in full mode by the notebooks, shipped inside the package.

For slow machines (Binder's single CPU) and the course website. Each training notebook keeps
"train it yourself" as the default and has one switch, ``USE_REFERENCE_MODEL = False``, that loads
the model from here instead; ``COURSE_REFERENCE=1`` flips every switch at once (``python3 tasks.py
site`` sets it, so the website's figures show full-mode quality). Notebook 10 uses these models
when the student has not trained their own.

Each file holds the model's weights only (no optimizer), saved with ``save_checkpoint`` and loaded
with ``load_checkpoint`` (``weights_only=True``, checksum verified); ``manifest.json`` records its
SHA-256, size, the quality measured on held-out data by ``quality()`` and the command that made it.
tests/test_reference.py loads every file into the current architecture and measures its quality
again, so a model change that makes a shipped file stale fails the suite.

Refresh them all with ``python3 tasks.py reference`` (runs the training notebooks in full mode,
then ``python -m course_lib.reference CHECKPOINT_FOLDER``).

Adding a model is one line in ``MODELS`` (plus a quality function if it is not sampled from a
latent vector like the GANs), then ``python3 tasks.py reference``.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from torch import nn

__all__ = ["MODELS", "FOLDER", "requested", "manifest", "path", "load", "history", "own_or_reference",
           "switch", "adopt", "quality", "TOLERANCE", "refresh"]

FOLDER = Path(__file__).resolve().parent
MANIFEST = FOLDER / "manifest.json"
COMMAND = "python3 tasks.py reference"


def requested() -> bool:
    """True when ``COURSE_REFERENCE`` is 1/true/yes: every notebook's switch then loads the reference."""
    return os.environ.get("COURSE_REFERENCE", "0").strip().lower() in {"1", "true", "yes", "on"}


# --------------------------------------------------------------------------- quality on held-out data
def _evaluation_network():
    return load("evaluation_cnn")


def _test_digits(limit: int | None = None):
    from ..data import load_mnist

    return load_mnist("test", source="bundled", limit=limit)


def _classifier_accuracy(model) -> dict:
    from ..cnn import accuracy

    return {"test_accuracy": accuracy(model, _test_digits())}


def _confident_samples(model, n: int = 1000) -> dict:
    """Share of ``n`` generated digits the reference evaluation network classifies with confidence >= 0.9."""
    from ..gan import generate
    from ..metrics import digit_predictions

    z = torch.randn(n, model.config["latent_dim"], generator=torch.Generator().manual_seed(0))
    _, confidence = digit_predictions(generate(model, z), _evaluation_network())
    return {"confident_fraction": (confidence >= 0.9).float().mean().item()}


def _class_accuracy(model, per_class: int = 100) -> dict:
    """How often the evaluation network recognises the digit the conditional generator was asked for."""
    from ..gan import generate
    from ..metrics import digit_predictions

    labels = torch.arange(model.num_classes).repeat_interleave(per_class)
    z = torch.randn(len(labels), model.latent_dim, generator=torch.Generator().manual_seed(0))
    predicted, _ = digit_predictions(generate(model, z, labels), _evaluation_network())
    return {"class_accuracy": (predicted == labels).float().mean().item()}


@torch.no_grad()
def _guided_class_accuracy(model, flow: bool, per_class: int = 20, steps: int = 10) -> dict:
    """Diffusion / flow: how often the evaluation network recognises the digit asked for (guidance w = 1).

    Class-balanced labels, ``steps`` DDIM steps (notebook 11: v-prediction, cosine T = 1000) or Euler
    steps (notebook 12's flow).
    """
    from ..diffusion import cosine_schedule, sample_diffusion, sample_flow, to_unit_range
    from ..metrics import digit_predictions

    labels = torch.arange(10).repeat_interleave(per_class)
    if flow:
        samples = sample_flow(model, len(labels), steps, "euler", labels=labels, guidance=1.0, seed=0)
    else:
        samples = sample_diffusion(model, cosine_schedule(1000), len(labels), steps, labels=labels, guidance=1.0,
                                   seed=0)
    predicted, _ = digit_predictions(to_unit_range(samples), _evaluation_network())
    return {"class_accuracy": (predicted == labels).float().mean().item()}


def _negative_elbo(model) -> dict:
    from ..vae import evaluate_elbo

    return {"test_nelbo": evaluate_elbo(model, _test_digits(), seed=0)["nelbo"]}


@torch.no_grad()
def _edges_to_digits_l1(model) -> dict:
    from ..pix2pix import edge_pairs

    edges, digits = edge_pairs(_test_digits().tensors[0])
    return {"test_l1": (model(edges) - digits).abs().mean().item()}


def _denoising_psnr(model) -> dict:
    """PSNR (dB) of the denoised held-out photos (grey, 192 px centre crop) at sigma = 25 / 255."""
    from ..data import load_photo, photo_names
    from ..enhance import add_noise, center_crop
    from ..metrics import psnr

    scores = []
    for i, name in enumerate(photo_names("heldout")):
        clean = center_crop(load_photo(name, colour=False), 192, 2)[None]
        noisy = add_noise(clean, 25 / 255, torch.Generator().manual_seed(i))
        scores.append(psnr(model.denoise(noisy), clean))
    return {"test_psnr_db": sum(scores) / len(scores)}


# Absolute tolerance of each re-measured number (same weights and seeds: only floating-point
# summation order differs between machines and thread counts).
TOLERANCE = {"test_accuracy": 0.004, "confident_fraction": 0.02, "class_accuracy": 0.02, "test_nelbo": 0.5,
             "test_l1": 0.002, "test_psnr_db": 0.1}


# --------------------------------------------------------------------------- the shipped models
def _classifier(config):
    from ..cnn import DigitClassifier
    return DigitClassifier(**config)


def _denoiser(config):
    from ..enhance import ResidualDenoiser
    return ResidualDenoiser(**config)


@dataclass(frozen=True)
class Reference:
    notebook: str | None                           # the notebook that trains it (in full mode); None: zoo's recipe
    build: Callable[[dict], nn.Module] | None      # config -> untrained model; None: zoo.ENTRIES has it
    quality: Callable[[nn.Module], dict]           # model -> {metric: value} on held-out data
    key: str = "model"                             # its name in the checkpoint's "models"


MODELS: dict[str, Reference] = {
    "evaluation_cnn": Reference("01_cnn_building_blocks.ipynb", _classifier, _classifier_accuracy),
    "second_cnn": Reference(None, None, _classifier_accuracy),  # metrics.evaluate_samples's second extractor
    "dcgan": Reference("03_dcgan.ipynb", None, _confident_samples, "generator"),
    "vae_mlp": Reference("04_vae_elbo.ipynb", None, _negative_elbo),
    "vae_conv": Reference("05_vae_latent_space.ipynb", None, _negative_elbo),
    "cgan": Reference("06_conditional_gan.ipynb", None, _class_accuracy),
    "pix2pix_edges_l1": Reference("07_pix2pix.ipynb", None, _edges_to_digits_l1),
    "pix2pix_edges_gan": Reference("07_pix2pix.ipynb", None, _edges_to_digits_l1),
    "denoiser": Reference("09_image_enhancement.ipynb", _denoiser, _denoising_psnr),
    "diffusion": Reference("11_diffusion.ipynb", None, partial(_guided_class_accuracy, flow=False)),
    "flow": Reference("12_flow_matching.ipynb", None, partial(_guided_class_accuracy, flow=True)),
}


def _spec(name: str) -> Reference:
    if name not in MODELS:
        raise ValueError(f"no reference model {name!r}; valid choices: {sorted(MODELS)}")
    return MODELS[name]


def _build(name: str, config: dict) -> nn.Module:
    spec = _spec(name)
    if spec.build is not None:
        return spec.build(config)
    from ..zoo import ENTRIES
    return ENTRIES[name].build(config)


def manifest() -> dict:
    """manifest.json: {name: {file, sha256, bytes, config, quality, made_by}}."""
    return json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}


def path(name: str) -> Path:
    """The shipped file of ``name``, after checking its SHA-256 against the manifest."""
    _spec(name)
    entry = manifest().get(name)
    if entry is None:
        raise FileNotFoundError(f"no reference model {name!r} is shipped yet; run: {COMMAND}")
    file = FOLDER / entry["file"]
    if not file.is_file():
        raise FileNotFoundError(f"{file} is missing from the package; reinstall it or run: {COMMAND}")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    if digest != entry["sha256"]:
        raise ValueError(f"{file.name} does not match its checksum in manifest.json ({digest[:12]} != "
                         f"{entry['sha256'][:12]}): the file is damaged; reinstall the package or run: {COMMAND}")
    return file


def load(name: str, verbose: bool = False) -> nn.Module:
    """The reference model ``name`` on the CPU, in eval mode, frozen (``weights_only=True``)."""
    from ..checkpoints import load_checkpoint

    file = path(name)
    config = manifest()[name]["config"]
    model = _build(name, config)
    load_checkpoint(file, models={_spec(name).key: model})  # converts the stored fp16 tensors back
    if verbose:
        recorded = ", ".join(f"{k} {v:.4g}" for k, v in manifest()[name]["quality"].items())
        print(f"[reference] {name}: the course's reference model ({recorded} on held-out data)")
    return model.float().eval().requires_grad_(False)


def history(name: str):
    """The ``History`` of the reference model's full-mode training (every n-th step), for a notebook's plots."""
    from ..checkpoints import load_checkpoint
    from ..training import History

    return History(load_checkpoint(path(name)).get("history") or {})


def switch(use: bool, budget, budget_name: str, *short: str) -> bool:
    """A training notebook's ``USE_REFERENCE_MODEL`` switch: True when set, or when ``COURSE_REFERENCE=1``.

    When on, the budgets named in ``short`` (the training steps, ...) take their fast-mode values, so the
    training cells still run, briefly, to show the loop; ``adopt`` then puts the reference model in place
    of what they trained. ``budget`` is changed in place.
    """
    from ..config import BUDGETS

    if not isinstance(use, bool):
        raise TypeError(f"USE_REFERENCE_MODEL must be True or False, got {use!r}")
    use = use or requested()
    if use:
        for key in short:
            setattr(budget, key, BUDGETS[budget_name][key].fast)
        print(f"[reference] USE_REFERENCE_MODEL: a short training run ({', '.join(f'{k}={getattr(budget, k)}' for k in short)}),"
              " then the course's reference model, trained in full mode, takes its place")
    return use


def adopt(name: str) -> nn.Module:
    """Put the reference model ``name`` where its notebook saves the student's model, and return it.

    Later notebooks (and notebook 10) then find it like a model trained here. Used by the
    ``USE_REFERENCE_MODEL`` branch of a training notebook, after its (short) training run.
    """
    import shutil

    from .._checkpoint_file import temporary_file_beside
    from ..config import checkpoint_path

    target = checkpoint_path(name)
    # staged under a name of its own, as save_checkpoint stages: two processes adopting at once never rename each
    # other's copy, and a copy left by a killed process is removed by the next load or save
    fd, staged = temporary_file_beside(target)
    os.close(fd)
    try:
        shutil.copyfile(path(name), staged)
        os.replace(staged, target)  # atomic: a crash never leaves half a file where a model belongs
    finally:
        if os.path.exists(staged):  # the copy failed: no half copy stays beside the model
            os.remove(staged)
    return load(name, verbose=True).requires_grad_(True)  # the notebook's own model again: it may take gradients


def own_or_reference(name: str) -> nn.Module:
    """The student's own trained ``name`` when its checkpoint exists in this mode, else the reference.

    One line says which. ``COURSE_REFERENCE=1`` always takes the reference. A checkpoint saved by an
    earlier version of the model's code falls back to the reference too (with its reason). If no
    reference is shipped for ``name``, the model is trained by running its notebook (``zoo.load``).
    """
    from ..checkpoints import CheckpointError
    from ..config import checkpoint_path
    from .. import zoo

    own = checkpoint_path(name)
    reason = "COURSE_REFERENCE=1" if requested() else f"no {own.name} of your own yet"
    if own.exists() and not requested():
        try:
            return zoo.load(name, train_if_missing=False)
        except CheckpointError as error:
            reason = f"{own.name} cannot be used ({str(error).splitlines()[0]})"
    if name not in manifest():
        return zoo.load(name)
    print(f"[reference] {name}: {reason}, using the course's reference model")
    return load(name, verbose=False)


def quality(name: str, model: nn.Module | None = None) -> dict:
    """Measure ``name``'s quality on held-out data (the shipped model unless ``model`` is given)."""
    with torch.no_grad():
        return _spec(name).quality(load(name) if model is None else model)


# --------------------------------------------------------------------------- refresh
def _thin(history: dict | None, points: int = 400) -> dict:
    """Every n-th (step, value) pair of each series, so a loss curve costs a few kB."""
    return {key: values[:: max(1, len(values) // points)] for key, values in (history or {}).items()}


def refresh(checkpoints: Path, names=None, dtype=torch.float16) -> dict:
    """Write the reference files and manifest.json from full-mode checkpoints in ``checkpoints``.

    Weights only, stored as ``dtype`` (fp16 halves the files; ``load`` converts back to fp32), then
    loaded back and measured by ``quality``: the manifest records what the shipped file achieves.
    """
    from ..checkpoints import load_checkpoint, save_checkpoint

    checkpoints = Path(checkpoints)
    entries = manifest()
    for name in names or MODELS:
        source = checkpoints / f"{name}.pt"
        if not source.exists() and MODELS[name].notebook is None:  # no notebook trains it: zoo's recipe does
            from ..zoo import ENTRIES
            ENTRIES[name].recipe(source)
        if not source.exists():
            raise FileNotFoundError(f"{source} is missing: run {MODELS[name].notebook} in full mode first")
        model = _build(name, load_checkpoint(source)["config"])
        original = load_checkpoint(source, models={MODELS[name].key: model})
        slim = _build(name, original["config"]).to(dtype)
        slim.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in model.state_dict().items()})
        extra = {k: v for k, v in (original.get("extra") or {}).items() if isinstance(v, (int, float, str))}
        file = FOLDER / f"{name}.pt"
        save_checkpoint(file, models={MODELS[name].key: slim}, config=original["config"],
                        history=_thin(original.get("history")), extra=extra, step=int(original.get("step", 0)))
        entries[name] = {"file": file.name, "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
                         "bytes": file.stat().st_size, "dtype": str(dtype).replace("torch.", ""),
                         "config": original["config"], "notebook": MODELS[name].notebook, "made_by": COMMAND}
        MANIFEST.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")
        entries[name]["quality"] = {k: round(float(v), 5) for k, v in quality(name).items()}
        MANIFEST.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")
        print(f"{name}: {file.stat().st_size / 1e6:.2f} MB, {entries[name]['quality']}")
    total = sum(e["bytes"] for e in entries.values())
    print(f"reference models: {len(entries)} files, {total / 1e6:.2f} MB in all")
    return entries
