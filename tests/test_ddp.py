"""Scale-out: the same training script as 2 CPU processes (DDP, gloo) trains like 1 process."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


SCRIPT = ROOT / "scripts" / "train_classifier.py"


def _arguments(prefix, devices):
    return ["--accelerator", "cpu", "--devices", str(devices), "--model", "mlp", "--steps", "15", "--batch-size", "32",
            "--limit", "480", "--no-augment", "--save-parameters", str(prefix)]


def _train(tmp_path, devices, monkeypatch):
    """The script's final parameters, one dict per process: two DDP processes it starts itself, or one
    process (this one: ``main`` is what ``python scripts/train_classifier.py`` runs)."""
    prefix = tmp_path / f"devices{devices}"
    if devices == 1:
        monkeypatch.setenv("COURSE_MNIST", "bundled")
        spec = importlib.util.spec_from_file_location("train_classifier", SCRIPT)
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        script.main(_arguments(prefix, devices))
    else:
        env = dict(os.environ, COURSE_MNIST="bundled", PYTHONUNBUFFERED="1")
        done = subprocess.run([sys.executable, str(SCRIPT), *_arguments(prefix, devices)], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return [torch.load(f"{prefix}.rank{r}.pt", weights_only=True) for r in range(devices)]


def test_two_ddp_processes_stay_identical_and_match_one_process_on_the_same_global_batch(tmp_path, monkeypatch):
    rank0, rank1 = _train(tmp_path, 2, monkeypatch)
    (single,) = _train(tmp_path, 1, monkeypatch)
    for name in single:
        assert torch.equal(rank0[name], rank1[name]), f"{name} differs between the two processes"
        # DDP averages two half-batch gradients; one process takes the full-batch mean directly.
        # The two differ only by float rounding, which Adam's normalisation can amplify slightly.
        assert torch.allclose(rank0[name], single[name], atol=1e-5, rtol=1e-4), (
            f"{name}: max difference {(rank0[name] - single[name]).abs().max():.2e}")
    assert any(not torch.equal(single[name], torch.zeros_like(single[name])) for name in single)
