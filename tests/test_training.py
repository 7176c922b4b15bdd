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
    report = training.environment_report(print_it=False)
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


def test_fit_calls_the_sample_callback_periodically():
    calls = []
    model = nn.Linear(3, 1)
    training.fit(model, _tiny_problem(), _mse, optimizer=torch.optim.SGD(model.parameters(), 0.01), steps=9,
                 batch_size=16, sample_fn=lambda m, step: calls.append(step), sample_every=3)
    assert calls == [3, 6, 9]


def test_fit_resumed_from_a_checkpoint_matches_an_uninterrupted_run_bit_for_bit(tmp_path):
    def run(steps, path, resume, seed):
        training.seed_everything(seed)
        model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.2), nn.Linear(8, 1))
        training.fit(model, _tiny_problem(), _mse, optimizer=torch.optim.Adam(model.parameters(), 0.01),
                     steps=steps, batch_size=10, checkpoint=path, resume=resume)
        return model

    straight = run(20, tmp_path / "a.pt", False, 0)
    run(13, tmp_path / "b.pt", False, 0)          # "interrupted" after 13 steps (mid-epoch)
    resumed = run(20, tmp_path / "b.pt", True, 99)  # a different seed: the checkpoint's RNG state must win
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert load_checkpoint(tmp_path / "b.pt")["step"] == 20


def test_fit_keeps_model_and_history_on_keyboard_interrupt(tmp_path, capsys):
    model = nn.Linear(3, 1)

    def interrupting_loss(m, batch):
        if len(history_steps) == 5:
            raise KeyboardInterrupt
        history_steps.append(1)
        return _mse(m, batch)

    history_steps = []
    history = training.fit(model, _tiny_problem(), interrupting_loss, optimizer=torch.optim.SGD(model.parameters(), 0.1),
                           steps=50, batch_size=8, checkpoint=tmp_path / "c.pt", checkpoint_every=2)
    assert history.interrupted and len(history["loss"]) == 5
    assert "interrupted at step 5" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "c.pt")["step"] == 4


def test_a_nan_loss_stops_training_naming_the_step_and_usual_causes():
    model = nn.Linear(3, 1)
    calls = []

    def exploding(m, batch):
        calls.append(1)
        return _mse(m, batch) * (float("nan") if len(calls) == 3 else 1.0)

    with pytest.raises(training.TrainingDiverged, match=r"loss became nan at step 2.*learning rate"):
        training.fit(model, _tiny_problem(), exploding, optimizer=torch.optim.SGD(model.parameters(), 0.1),
                     steps=10, batch_size=8)


@pytest.mark.parametrize("kwargs, message", [({"steps": 0}, "steps"), ({"batch_size": -1}, "batch_size")])
def test_fit_rejects_non_positive_budgets(kwargs, message):
    model = nn.Linear(3, 1)
    arguments = dict(optimizer=torch.optim.SGD(model.parameters(), 0.1), steps=5, batch_size=4) | kwargs
    with pytest.raises(ValueError, match=message):
        training.fit(model, _tiny_problem(), _mse, **arguments)


def test_fit_rejects_an_empty_dataset():
    model = nn.Linear(3, 1)
    empty = torch.utils.data.TensorDataset(torch.zeros(0, 3), torch.zeros(0, 1))
    with pytest.raises(ValueError, match="empty"):
        training.fit(model, empty, _mse, optimizer=torch.optim.SGD(model.parameters(), 0.1), steps=5)


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
