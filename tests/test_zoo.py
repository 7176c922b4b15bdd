"""course_lib.zoo hands notebook 10 the models trained earlier, retraining what is missing or out of date."""
import pytest
import torch
from torch import nn

from course_lib import zoo
from course_lib.checkpoints import ArchitectureMismatch, save_checkpoint
from course_lib.config import checkpoint_path
from course_lib.gan import DCGANGenerator


class OlderGenerator(nn.Module):
    """A generator with the same name and config but other layers, as an earlier version of the code saved it."""

    def __init__(self):
        super().__init__()
        self.project = nn.Linear(16, 8)


@pytest.fixture
def fake_training(monkeypatch):
    """Replace 'run the notebook' with saving a current DCGAN checkpoint; record each call's reason."""
    reasons = []

    def train(name, reason, timeout_s=1800):
        reasons.append(reason)
        generator = DCGANGenerator(latent_dim=16, width=8)
        return save_checkpoint(checkpoint_path(name), models={"generator": generator}, config=generator.config)

    monkeypatch.setattr(zoo, "_train", train)
    return reasons


def test_a_saved_model_loads_frozen_in_eval_mode_without_retraining(fake_training):
    generator = DCGANGenerator(latent_dim=16, width=8)
    save_checkpoint(checkpoint_path("dcgan"), models={"generator": generator}, config=generator.config)
    model = zoo.load("dcgan")
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert torch.equal(model.project[0].weight, generator.project[0].weight)
    assert fake_training == []


def test_a_missing_model_is_trained_by_its_notebook(fake_training):
    checkpoint_path("dcgan").unlink(missing_ok=True)
    assert isinstance(zoo.load("dcgan"), DCGANGenerator)
    assert fake_training == [f"no {checkpoint_path('dcgan').name} yet"]


def test_a_checkpoint_from_an_earlier_version_of_the_model_is_retrained_with_a_notice(fake_training):
    save_checkpoint(checkpoint_path("dcgan"), models={"generator": OlderGenerator()},
                    config={"latent_dim": 16, "width": 8})
    assert isinstance(zoo.load("dcgan"), DCGANGenerator)
    assert fake_training == [f"{checkpoint_path('dcgan').name} was saved by an earlier version of this model"]


def test_without_training_an_out_of_date_checkpoint_says_what_does_not_fit(fake_training):
    save_checkpoint(checkpoint_path("dcgan"), models={"generator": OlderGenerator()},
                    config={"latent_dim": 16, "width": 8})
    with pytest.raises(ArchitectureMismatch, match="does not fit this architecture"):
        zoo.load("dcgan", train_if_missing=False)
    assert fake_training == []


def test_an_unknown_model_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown model 'gan'.*'dcgan'"):
        zoo.load("gan")


def test_a_model_no_notebook_trains_is_trained_on_the_spot_by_its_recipe(monkeypatch, tmp_path):
    from course_lib.config import BUDGETS, Budget
    from course_lib.metrics import SecondDigitClassifier

    monkeypatch.setenv("COURSE_HOME", str(tmp_path))  # nothing saved yet, and the suite's own models untouched
    monkeypatch.setitem(BUDGETS["second_cnn"], "steps", Budget(full=3, fast=3))
    model = zoo.load("second_cnn")
    assert isinstance(model, SecondDigitClassifier) and checkpoint_path("second_cnn").exists()
    assert zoo.ENTRIES["second_cnn"].notebook is None


def test_the_recipe_trains_even_when_asked_for_inside_no_grad(monkeypatch, tmp_path):
    from course_lib.config import BUDGETS, Budget

    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    monkeypatch.setitem(BUDGETS["second_cnn"], "steps", Budget(full=2, fast=2))
    with torch.no_grad():  # as evaluate_samples asks for it
        zoo.load("second_cnn")
    assert checkpoint_path("second_cnn").exists()
