"""The shipped reference models load safely, fit today's architectures, and still reach their recorded quality.

Each file in course_lib/reference/ was trained in full mode by its notebook (``python3 tasks.py
reference``). If a model's code changes so that a shipped file no longer fits, or fits but no longer
performs, these tests fail: refresh the files with ``python3 tasks.py reference``.

Tolerance: the recorded quality is re-measured on the same held-out digits/photos with the same
seeds, so only floating-point summation order differs; ``reference.TOLERANCE`` gives the absolute
tolerance of each metric (0.4 points of accuracy, 2 points of confident/class accuracy, 0.5 nats of
-ELBO, 0.002 of L1, 0.1 dB of PSNR).
"""
import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from course_lib import reference
from course_lib.checkpoints import ArchitectureMismatch

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = reference.manifest()


def test_every_reference_model_is_shipped_and_the_total_stays_small():
    missing = sorted(set(reference.MODELS) - set(MANIFEST))
    assert not missing, f"no shipped file for {missing}: run python3 tasks.py reference"
    total = sum(entry["bytes"] for entry in MANIFEST.values())
    assert total < 10e6, f"the reference models take {total / 1e6:.1f} MB; aim under 10 MB"
    for name, entry in MANIFEST.items():
        assert (reference.FOLDER / entry["file"]).stat().st_size == entry["bytes"], name
        assert entry["made_by"] == "python3 tasks.py reference" and entry["quality"], name


@pytest.mark.parametrize("name", sorted(reference.MODELS))
def test_the_shipped_model_loads_with_weights_only_and_fits_the_current_architecture(name):
    if name not in MANIFEST:
        pytest.fail(f"{name} is not shipped: run python3 tasks.py reference")
    torch.load(reference.path(name), map_location="cpu", weights_only=True)  # tensors and plain containers only
    model = reference.load(name)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.mark.parametrize("name", sorted(reference.MODELS))
def test_the_shipped_model_still_reaches_its_recorded_quality_on_held_out_data(name):
    if name not in MANIFEST:
        pytest.fail(f"{name} is not shipped: run python3 tasks.py reference")
    recorded = MANIFEST[name]["quality"]
    measured = reference.quality(name)
    assert set(measured) == set(recorded)
    for metric, value in recorded.items():
        assert abs(measured[metric] - value) <= reference.TOLERANCE[metric], (
            f"{name}: {metric} {measured[metric]:.4f}, recorded {value:.4f} (tolerance {reference.TOLERANCE[metric]}); "
            "the model's code changed since the file was made: run python3 tasks.py reference")


def test_a_file_that_no_longer_fits_the_architecture_is_an_error_that_names_the_mismatch(monkeypatch):
    name = "evaluation_cnn"
    if name not in MANIFEST:
        pytest.skip("not shipped yet")
    entry = dict(MANIFEST[name], config={**MANIFEST[name]["config"], "width": MANIFEST[name]["config"]["width"] * 2})
    monkeypatch.setattr(reference, "manifest", lambda: {**MANIFEST, name: entry})
    with pytest.raises(ArchitectureMismatch, match="does not fit"):
        reference.load(name)


def test_a_damaged_file_is_refused_by_its_checksum(tmp_path, monkeypatch):
    name = next(iter(MANIFEST), None)
    if name is None:
        pytest.skip("nothing shipped yet")
    shutil.copy(reference.FOLDER / MANIFEST[name]["file"], tmp_path / MANIFEST[name]["file"])
    with open(tmp_path / MANIFEST[name]["file"], "r+b") as file:
        file.seek(-100, 2)
        byte = file.read(1)
        file.seek(-100, 2)
        file.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(reference, "FOLDER", tmp_path)
    with pytest.raises(ValueError, match="checksum"):
        reference.path(name)


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid choices"):
        reference.load("gan9000")


def test_the_students_own_model_wins_over_the_reference(tmp_path, monkeypatch, capsys):
    from course_lib import zoo

    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    monkeypatch.delenv("COURSE_REFERENCE", raising=False)
    if "vae_mlp" not in MANIFEST:
        pytest.skip("not shipped yet")
    fallback = reference.own_or_reference("vae_mlp")
    assert "using the course's reference model" in capsys.readouterr().out
    mine = zoo.ENTRIES["vae_mlp"].build(MANIFEST["vae_mlp"]["config"])
    from course_lib.checkpoints import save_checkpoint
    from course_lib.config import checkpoint_path

    save_checkpoint(checkpoint_path("vae_mlp"), models=mine, config=mine.config)
    own = reference.own_or_reference("vae_mlp")
    assert "reference" not in capsys.readouterr().out
    assert torch.equal(own.state_dict()[next(iter(own.state_dict()))], mine.state_dict()[next(iter(mine.state_dict()))])
    assert not torch.equal(own.state_dict()[next(iter(own.state_dict()))],
                           fallback.state_dict()[next(iter(fallback.state_dict()))])
    monkeypatch.setenv("COURSE_REFERENCE", "1")
    reference.own_or_reference("vae_mlp")
    assert "COURSE_REFERENCE=1" in capsys.readouterr().out


@pytest.mark.parametrize("notebook", sorted({m.notebook for m in reference.MODELS.values() if m.notebook}))
def test_each_training_notebook_has_one_clearly_marked_switch_off_by_default(notebook):
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    switches = [s for s in code if re.search(r"^USE_REFERENCE_MODEL = False\b", s, re.M)]
    assert len(switches) == 1, f"{notebook}: one cell must set USE_REFERENCE_MODEL = False (train it yourself)"
    assert "reference.switch(USE_REFERENCE_MODEL," in switches[0], f"{notebook}: COURSE_REFERENCE=1 (the website) must flip it"
    assert sum("if USE_REFERENCE_MODEL" in s for s in code) >= 1, f"{notebook}: nothing reads the switch"


def test_notebook_10_uses_the_reference_models_instead_of_running_other_notebooks():
    source = (ROOT / "notebooks" / "10_comparison_and_outlook.ipynb").read_text()
    assert "own_or_reference" in source and "zoo.load(" not in source


def test_the_website_is_built_with_the_reference_models():
    source = (ROOT / "tasks.py").read_text().split("def task_site")[1].split("\ndef ")[0]
    assert 'env["COURSE_REFERENCE"] = "1"' in source


def test_two_processes_adopting_the_same_model_at_once_both_succeed(tmp_path, monkeypatch):
    """The test processes adopt the evaluation network into one fresh COURSE_HOME at the same moment: neither
    may rename the other's staged copy away (here a second adopt runs between the first one's copy and rename)."""
    import os

    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    rename, calls = os.replace, []

    def rename_after_another_process_adopted(source, target):
        calls.append(source)
        if len(calls) == 1:
            reference.adopt("evaluation_cnn")
        return rename(source, target)

    monkeypatch.setattr(os, "replace", rename_after_another_process_adopted)
    reference.adopt("evaluation_cnn")
    assert len(calls) == 2 and sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["evaluation_cnn_fast.pt"]
