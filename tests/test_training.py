"""Specification of course_lib.config and course_lib.training."""
import pytest
import torch
from torch import nn

from course_lib import config, training
from course_lib.checkpoints import load_checkpoint


def _tiny_problem(n=64):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    return torch.utils.data.TensorDataset(x, y)


def _mse(model, batch):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def test_budgets_use_the_fast_value_only_in_fast_mode(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_FAST", "1")
    fast = config.budgets("cnn")
    assert "full:" in capsys.readouterr().out, "a reader sees both values"
    monkeypatch.setenv("COURSE_FAST", "0")
    full = config.budgets("cnn", verbose=False)
    assert fast.steps == config.BUDGETS["cnn"]["steps"].fast < full.steps == config.BUDGETS["cnn"]["steps"].full


def test_unknown_budget_set_names_the_valid_ones():
    with pytest.raises(ValueError, match="cnn"):
        config.budgets("gann")


def test_fast_and_full_checkpoints_never_share_a_file(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    fast = config.checkpoint_path("dcgan")
    monkeypatch.setenv("COURSE_FAST", "0")
    assert fast != config.checkpoint_path("dcgan") and fast.name == "dcgan_fast.pt"


def test_make_fabric_chooses_fp32_on_cpu():
    fabric = training.make_fabric(accelerator="cpu")
    assert fabric.device.type == "cpu" and training.default_precision("cpu") == "32-true"


def test_seed_everything_makes_random_draws_repeat():
    training.seed_everything(7)
    a = torch.randn(3)
    training.seed_everything(7)
    assert torch.equal(a, torch.randn(3))


def test_environment_report_names_device_mode_and_data_source(monkeypatch):
    monkeypatch.setenv("COURSE_MNIST", "bundled")
    report = training.environment_report(verbose=False)
    assert {"torch", "device", "precision", "mnist source", "mode"} <= set(report)
    assert report["mnist source"] == "bundled"


def test_fit_reduces_the_loss_and_records_history_and_evaluations():
    training.seed_everything(0)
    model = nn.Linear(3, 1)
    history = training.fit(model, _tiny_problem(), _mse, optimizer=torch.optim.Adam(model.parameters(), 0.05),
                           steps=60, batch_size=16, eval_fn=lambda m: {"weight_norm": m.weight.norm()}, eval_every=20)
    assert len(history["loss"]) == 60 and history.steps("loss")[-1] == 60
    assert history["loss"][-1] < history["loss"][0] / 10
    assert history.steps("weight_norm") == [20, 40, 60]


def test_fit_trains_on_the_fabrics_device_and_hands_the_model_back_where_it_came_from():
    """On a GPU the steps run on CUDA; afterwards the model is back on the CPU, so CPU tensors go straight in."""
    model, devices_seen = nn.Linear(3, 1), []

    def loss(m, batch):
        devices_seen.append(next(m.parameters()).device.type)
        return _mse(m, batch)

    fabric = training.make_fabric()
    training.fit(model, _tiny_problem(), loss, optimizer=torch.optim.SGD(model.parameters(), 0.1), steps=3,
                 batch_size=8, fabric=fabric)
    assert devices_seen == [fabric.device.type] * 3
    assert next(model.parameters()).device.type == "cpu" and not model.training
    assert model(torch.zeros(2, 3)).shape == (2, 1)


def test_fit_checkpoints_every_eval_every_steps_and_at_the_end_with_the_models_config(tmp_path):
    path, seen_by_eval = tmp_path / "run.pt", []
    model = nn.Linear(3, 1)
    model.config = {"in_features": 3}

    def last_checkpoint_step(m):  # called just before each save
        seen_by_eval.append(load_checkpoint(path)["step"] if path.exists() else None)
        return {}

    training.fit(model, _tiny_problem(), _mse, optimizer=torch.optim.SGD(model.parameters(), 0.01), steps=10,
                 batch_size=16, eval_fn=last_checkpoint_step, eval_every=4, checkpoint=path)
    assert seen_by_eval == [None, 4, 8]
    assert load_checkpoint(path)["step"] == 10 and load_checkpoint(path)["config"] == {"in_features": 3}


def test_history_survives_a_round_trip_through_its_state_dict():
    history = training.History()
    history.log(1, loss=2.0, accuracy=0.5)
    history.log(2, loss=1.0)
    again = training.History(history.state_dict())
    assert again["loss"] == [2.0, 1.0] and again.steps("accuracy") == [1]
    with pytest.raises(KeyError, match="accuracy"):
        again["acc"]


def test_progress_bars_refresh_rarely_in_fast_mode_and_in_ci(monkeypatch):
    from course_lib.training import progress

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("COURSE_FAST", "1")
    assert progress(range(3)).mininterval == 5.0
    monkeypatch.setenv("COURSE_FAST", "0")
    assert progress(range(3)).mininterval == 0.5
    monkeypatch.setenv("CI", "true")
    assert progress(range(3)).mininterval == 5.0
    assert progress(range(3), mininterval=1.0).mininterval == 1.0   # an explicit value wins
