"""benchmarks/dcgan_sweep.py, which produced the "DCGAN depth" table, trains every variant it offers."""
import ast
import importlib.util
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("dcgan_sweep", ROOT / "benchmarks" / "dcgan_sweep.py")
sweep = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sweep)


def test_diffaugment_keeps_shape_and_range_and_changes_every_image():
    torch.manual_seed(0)
    images = torch.ones(16, 1, 28, 28)
    for kinds in ("translation", "cutout", "translation,cutout"):
        out = sweep.augment(images, kinds)
        assert out.shape == images.shape and out.min() >= -1 and out.max() <= 1
        assert ((out == -1).flatten(1).sum(1) > 0).all(), f"{kinds}: every image gets some background"
    cut = sweep.augment(images, "cutout")
    assert ((cut == -1).flatten(1).sum(1) <= 13 * 13).all(), "cutout blanks at most one 13 x 13 square"
    assert torch.equal(sweep.augment(images, ""), images), "no augmentation asked, none applied"


def test_cutout_and_translation_let_gradients_through():
    images = torch.rand(4, 1, 28, 28, requires_grad=True)
    sweep.augment(images * 2 - 1, "translation,cutout").sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


@pytest.mark.parametrize("options", [["layers=2", "width=8"], ["layers=3", "width=8", "r1=1", "aug=cutout",
                                                                "topk=1", "dropout=0.2", "loss=hinge"]])
def test_a_variant_trains_and_reports_its_quality(evaluation_network, capsys, options):
    sweep.main(["steps=2", "every=2", "device=cpu", "samples=200", *options])
    evals = [line for line in capsys.readouterr().out.splitlines() if line.startswith("EVAL")]
    step, ms, confident, smallest, largest, fid = ast.literal_eval(evals[-1][evals[-1].index("("):])
    assert step == 2 and ms > 0 and 0 <= smallest <= largest <= 1 and 0 <= confident <= 1 and fid > 0


def test_an_unknown_option_is_named():
    with pytest.raises(SystemExit, match="unknown option 'widht'"):
        sweep.main(["widht=8"])
