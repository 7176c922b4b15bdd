"""Specification of course_lib.diffusion, its assignment checks (notebooks 11 and 12) and the recipe sweep."""
import ast
import importlib.util
from pathlib import Path

import pytest
import torch

from course_lib import diffusion
from course_lib.checks import diffusion as checks
from helpers import assert_names_the_mistake, train_a_few_steps

ROOT = Path(__file__).resolve().parents[1]


def test_cosine_schedule_starts_clean_ends_in_noise_and_its_snr_falls():
    schedule = diffusion.cosine_schedule(1000)
    assert schedule.alpha_bar[0] == 1 and schedule.alpha_bar[-1] < 1e-4
    assert (schedule.snr()[1:] < schedule.snr()[:-1]).all()
    assert torch.allclose(torch.cumprod(1 - schedule.beta[1:], 0), schedule.alpha_bar[1:], rtol=1e-4)


def test_forward_process_in_one_jump_matches_the_markov_chain():
    schedule, generator = diffusion.cosine_schedule(50), torch.Generator().manual_seed(0)
    x0 = torch.full((100_000,), 0.5)
    x = x0.clone()
    for t in range(1, 31):
        x = (1 - schedule.beta[t]).sqrt() * x + schedule.beta[t].sqrt() * torch.randn(x.shape, generator=generator)
    jump = diffusion.q_sample(x0[:, None], torch.full((100_000,), 30), torch.randn(100_000, 1, generator=generator),
                              schedule)
    assert abs(x.mean() - jump.mean()) < 0.01 and abs(x.var() - jump.var()) < 0.01


def test_v_prediction_converts_back_to_eps_and_x0_exactly():
    schedule = diffusion.cosine_schedule(100)
    x0, eps, t = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4), torch.tensor([1, 50, 100])
    a = schedule.at(t, x0)
    v = a.sqrt() * eps - (1 - a).sqrt() * x0
    eps_hat, x0_hat = diffusion.predict_eps_x0(v, diffusion.q_sample(x0, t, eps, schedule), t, schedule)
    assert torch.allclose(eps_hat, eps, atol=1e-5) and torch.allclose(x0_hat, x0, atol=1e-4)


def test_the_library_steps_pass_the_assignment_checks():
    assert checks.check_q_sample(lambda x0, t, eps, ab: diffusion.q_sample(x0, t, eps, diffusion.Schedule(ab))).passed
    assert checks.check_ddpm_step(lambda x, e, t, ab, z: diffusion.ddpm_step(x, e, t, diffusion.Schedule(ab), z)).passed
    assert checks.check_ddim_step(lambda x, e, t, s, ab: diffusion.ddim_step(x, e, t, s, diffusion.Schedule(ab))).passed


ALL = [(checks.check_q_sample, checks._q, checks.Q_SAMPLE_MISTAKES),
       (checks.check_eps_loss, checks._eps_loss, checks.EPS_LOSS_MISTAKES),
       (checks.check_ddpm_step, checks._ddpm, checks.DDPM_STEP_MISTAKES),
       (checks.check_ddim_step, checks._ddim, checks.DDIM_STEP_MISTAKES),
       (checks.check_guided_eps, checks._guided, checks.GUIDANCE_MISTAKES),
       (checks.check_flow_matching_loss, checks._flow_loss, checks.FLOW_LOSS_MISTAKES)]


@pytest.mark.parametrize("check, reference, mistakes", ALL, ids=lambda x: getattr(x, "__name__", ""))
def test_reference_passes_and_each_listed_mistake_is_named(check, reference, mistakes):
    assert check(lambda *args: reference(*args)).passed
    for mistake in mistakes:
        assert_names_the_mistake(check(mistake.implementation), mistake)


def test_the_issue_s_mistakes_each_have_their_own_message():
    named = {m.name for _, _, mistakes in ALL for m in mistakes}
    for required in ("index_t_minus_1", "variance_for_std", "missing_sqrt", "noise_at_last_step",
                     "guidance_sign_flipped", "target_reversed"):
        assert required in named, required


def test_unet_keeps_the_image_shape_and_starts_at_zero_output():
    model = diffusion.TimeUNet(width=8)
    out = model(torch.randn(2, 1, 28, 28), torch.rand(2), torch.tensor([3, diffusion.NO_LABEL]))
    assert out.shape == (2, 1, 28, 28) and out.abs().max() == 0  # zero-initialised head


@pytest.mark.parametrize("method", ["ddim", "ddpm"])
def test_diffusion_sampling_returns_images_in_range_and_is_reproducible(method):
    model, schedule = diffusion.TimeUNet(width=8).eval(), diffusion.cosine_schedule(100)
    torch.nn.init.normal_(model.head[-1].weight, std=0.1)
    a = diffusion.sample_diffusion(model, schedule, 3, 5, method, labels=torch.tensor([0, 1, 2]), guidance=1.0)
    b = diffusion.sample_diffusion(model, schedule, 3, 5, method, labels=torch.tensor([0, 1, 2]), guidance=1.0)
    assert a.shape == (3, 1, 28, 28) and a.min() >= -1 and a.max() <= 1 and torch.equal(a, b)


def test_flow_sampling_with_the_exact_velocity_reaches_the_data():
    class Exact(torch.nn.Module):  # data = a point mass at 2: v(x, t) = (2 - x) / (1 - t)
        def __init__(self):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, t, labels):
            return (2 - x) / (1 - t).clamp(min=1e-3)[:, None]

    for method in ("euler", "heun"):
        out = diffusion.sample_flow(Exact(), 5, 4, method, shape=(1,))
        assert torch.allclose(out, torch.full((5, 1), 2.0), atol=1e-4), method


def test_guidance_is_linear_extrapolation_in_one_batched_call():
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, t, labels):
            return x + (labels != diffusion.NO_LABEL).float().view(-1, 1, 1, 1)

    x = torch.zeros(2, 1, 2, 2)
    out = diffusion.guided_output(Model(), x, torch.rand(2), torch.tensor([1, 2]), guidance=2.0)
    assert torch.allclose(out, torch.full_like(x, 3.0))  # (1 + 2) * 1 - 2 * 0


def test_training_lowers_both_losses_and_lr_zero_does_not():
    labels = torch.randint(0, 10, (64,))
    images = torch.where(labels.view(-1, 1, 1, 1) < 5, -1.0, 1.0).expand(64, 1, 28, 28)  # two flat "classes"
    schedule = diffusion.cosine_schedule(100)
    for loss_fn in (lambda m, g: diffusion.diffusion_loss(m, images, schedule, labels, "v", g),
                    lambda m, g: diffusion.flow_matching_loss(m, images, labels, g)):
        for lr, should_fall in ((3e-3, True), (0.0, False)):
            torch.manual_seed(0)
            model = diffusion.TimeUNet(width=8)
            losses = train_a_few_steps(model, lambda step: loss_fn(model, torch.Generator().manual_seed(step % 4)), 40, lr)
            assert (sum(losses[-4:]) < 0.8 * sum(losses[:4])) == should_fall, (lr, losses[:4], losses[-4:])


@pytest.mark.parametrize("bad, error", [(dict(n=0), ValueError), (dict(steps=0), ValueError),
                                        (dict(method="euler"), ValueError), (dict(steps=1000), ValueError)])
def test_sampling_rejects_bad_arguments(bad, error):
    kwargs = dict(n=2, steps=5, method="ddim") | bad
    with pytest.raises(error):
        diffusion.sample_diffusion(diffusion.TimeUNet(width=8), diffusion.cosine_schedule(100), **kwargs)


def test_schedule_rejects_an_increasing_alpha_bar():
    with pytest.raises(ValueError, match="decrease"):
        diffusion.Schedule(torch.tensor([1.0, 0.5, 0.7]))


spec = importlib.util.spec_from_file_location("diffusion_sweep", ROOT / "benchmarks" / "diffusion_sweep.py")
sweep = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sweep)


def test_sweep_fid_is_the_course_metric(evaluation_network):
    """The sweep scores with metrics.frechet_distance on the evaluation network's features: the notebooks' FID."""
    from course_lib.data import load_mnist
    from course_lib.metrics import classifier_fid, frechet_distance
    assert sweep.frechet_distance is frechet_distance
    a, b = load_mnist("test").tensors[0][:200], load_mnist("val").tensors[0][:200]
    fa, _ = sweep.features_and_predictions(evaluation_network, a, "cpu")
    fb, _ = sweep.features_and_predictions(evaluation_network, b, "cpu")
    assert sweep.frechet_distance(fa, fb) == pytest.approx(classifier_fid(a, b, evaluation_network), rel=1e-6)


@pytest.mark.parametrize("objective", ["v", "flow"])
def test_a_sweep_variant_trains_and_reports_its_quality(evaluation_network, capsys, objective):
    sweep.main([f"objective={objective}", "steps=2", "every=2", "device=cpu", "width=8", "samples=130",
                "guidance=1"])
    evals = [line for line in capsys.readouterr().out.splitlines() if line.startswith("EVAL")]
    result = ast.literal_eval(evals[-1][5:].replace("true", "True").replace("false", "False"))
    assert result["step"] == 2 and result["ms"] > 0
    assert all(0 <= v["confident"] <= 1 and v["fid"] > 0 for v in result.values() if isinstance(v, dict))
    assert 0 <= result["cfg1"]["worst"] <= result["cfg1"]["accuracy"] <= 1
