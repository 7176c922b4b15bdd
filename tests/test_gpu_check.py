"""The GPU check script runs on any machine (here: the CPU) and reports every reference model."""
import importlib.util
from pathlib import Path

import torch

from course_lib import training

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)


def test_every_reference_model_trains_a_few_finite_steps_and_is_timed(monkeypatch):
    monkeypatch.setenv("COURSE_MNIST", "bundled")
    rows, info = gpu_check.run(steps=2, batch_size=8)
    assert [r["model"] for r in rows] == ["CNN classifier", "MLP VAE", "conv VAE", "DCGAN", "conditional GAN",
                                          "pix2pix (edges->digits)", "residual denoiser", "super-resolution x2"]
    assert all(r["finite"] and r["sane"] and r["ms_per_step"] > 0 for r in rows)
    assert info["device"] == str(training.make_fabric().device)  # the CPU here, cuda:0 on a GPU machine


def test_the_gpu_path_stays_off_on_the_cpu():
    fabric = training.make_fabric(accelerator="cpu")
    model = torch.nn.Conv2d(1, 4, 3)
    wrapped = training.setup_model(fabric, model)
    assert model.weight.is_contiguous(), "channels_last is for CUDA only"
    batch = training.to_device(fabric, (torch.rand(2, 1, 8, 8), torch.tensor([0, 1])))
    assert batch[0].is_contiguous() and not batch[0].is_pinned()
    assert wrapped(batch[0]).shape == (2, 4, 6, 6)


def test_channels_last_can_be_forced_for_a_conv_model():
    fabric = training.make_fabric(accelerator="cpu")
    model = torch.nn.Conv2d(1, 4, 3)
    training.setup_model(fabric, model, channels_last=True)
    assert model.weight.is_contiguous(memory_format=torch.channels_last)
