"""Scale-out: the same training script as 2 CPU processes (DDP, gloo) trains like 1 process."""
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def _train(tmp_path, devices):
    prefix = tmp_path / f"devices{devices}"
    env = dict(os.environ, COURSE_MNIST="bundled", PYTHONUNBUFFERED="1")
    command = [sys.executable, str(ROOT / "scripts" / "train_classifier.py"), "--accelerator", "cpu",
               "--devices", str(devices), "--model", "mlp", "--steps", "15", "--batch-size", "32",
               "--limit", "480", "--no-augment", "--save-parameters", str(prefix)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return [torch.load(f"{prefix}.rank{r}.pt", weights_only=True) for r in range(devices)]


def test_two_ddp_processes_stay_identical_and_match_one_process_on_the_same_global_batch(tmp_path):
    rank0, rank1 = _train(tmp_path, 2)
    (single,) = _train(tmp_path, 1)
    for name in single:
        assert torch.equal(rank0[name], rank1[name]), f"{name} differs between the two processes"
        # DDP averages two half-batch gradients; one process takes the full-batch mean directly.
        # The two differ only by float rounding, which Adam's normalisation can amplify slightly.
        assert torch.allclose(rank0[name], single[name], atol=1e-5, rtol=1e-4), (
            f"{name}: max difference {(rank0[name] - single[name]).abs().max():.2e}")
    assert any(not torch.equal(single[name], torch.zeros_like(single[name])) for name in single)
