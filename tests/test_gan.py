"""Specifications of course_lib.gan and course_lib.checks.gan."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib import gan
from course_lib.config import budgets
from course_lib.checks import gan as checks
from helpers import assert_passes_the_reference_and_names_each_mistake, train_a_few_steps


# --------------------------------------------------------------------------- models
def test_dcgan_generator_makes_28x28_digits_in_tanh_range():
    generator = gan.DCGANGenerator(latent_dim=16, width=8)
    images = generator(torch.randn(5, 16))
    assert images.shape == (5, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1


def test_dcgan_discriminator_gives_one_logit_per_image():
    for batch_norm in (True, False):
        discriminator = gan.DCGANDiscriminator(width=8, batch_norm=batch_norm)
        assert discriminator(torch.rand(3, 1, 28, 28) * 2 - 1).shape == (3,)


def test_generate_samples_in_eval_mode_in_batches_and_leaves_the_mode_as_it_was():
    generator = gan.DCGANGenerator(latent_dim=16, width=8).train()
    z = torch.randn(7, 16)
    images = gan.generate(generator, z, batch_size=3)
    assert images.shape == (7, 1, 28, 28) and images.device.type == "cpu"
    assert 0 <= images.min() and images.max() <= 1
    with torch.no_grad():
        one_pass = gan.to_unit_range(generator.eval()(z))
    assert torch.allclose(images, one_pass, atol=1e-6), "batches of 3 give what one eval-mode pass gives"
    assert gan.generate(generator.train(), z).shape == (7, 1, 28, 28) and generator.training


def test_generate_passes_class_labels_to_a_conditional_generator_batch_by_batch():
    from course_lib.conditional import ConditionalGenerator

    generator = ConditionalGenerator()
    z, labels = torch.randn(5, generator.latent_dim), torch.tensor([0, 1, 2, 3, 4])
    with torch.no_grad():
        one_pass = gan.to_unit_range(generator.eval()(z, labels))
    assert torch.allclose(gan.generate(generator, z, labels, batch_size=2), one_pass, atol=1e-6)
    with pytest.raises(ValueError, match="one class per latent: 4 labels for 5 latents"):
        gan.generate(generator, z, labels[:4])


def test_dcgan_init_sets_small_normal_weights():
    generator = gan.DCGANGenerator(latent_dim=16, width=8)
    generator.apply(gan.init_dcgan_weights)
    weight = generator.upsample[0].weight
    assert abs(weight.std().item() - 0.02) < 0.005


def test_fixed_noise_is_reproducible_and_to_unit_range_maps_tanh_to_unit_interval():
    assert torch.equal(gan.sample_latents(4, 8, seed=3), gan.sample_latents(4, 8, seed=3))
    assert torch.allclose(gan.to_unit_range(torch.tensor([-1.0, 0.0, 1.0])), torch.tensor([0.0, 0.5, 1.0]))


# --------------------------------------------------------------------------- losses
def test_losses_equal_their_log_formulas_on_probabilities():
    real, fake = torch.randn(64), torch.randn(64)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    assert torch.allclose(gan.discriminator_loss(real, fake, "minimax"), expected_d, atol=1e-5)
    assert torch.allclose(gan.generator_loss(fake, "minimax"), torch.log(1 - d_fake).mean(), atol=1e-5)
    assert torch.allclose(gan.generator_loss(fake, "non_saturating"), -torch.log(d_fake).mean(), atol=1e-5)


def test_discriminator_loss_matches_bce_with_logits():
    real, fake = torch.randn(32), torch.randn(32)
    bce = F.binary_cross_entropy_with_logits
    expected = bce(real, torch.ones(32)) + bce(fake, torch.zeros(32))
    assert torch.allclose(gan.discriminator_loss(real, fake), expected, atol=1e-6)


def test_losses_stay_finite_for_extreme_logits():
    logits = torch.tensor([-200.0, 200.0])
    for kind in gan.LOSS_KINDS:
        assert torch.isfinite(gan.discriminator_loss(logits, logits, kind))
        assert torch.isfinite(gan.generator_loss(logits, kind))


def test_hinge_and_wasserstein_losses_have_their_formulas():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert gan.discriminator_loss(real, fake, "hinge").item() == pytest.approx(0.25 + 0.5)
    assert gan.discriminator_loss(real, fake, "wasserstein").item() == pytest.approx(-1.0 - 1.25)
    assert gan.generator_loss(fake, "hinge").item() == pytest.approx(1.0)


def test_unknown_loss_kind_names_the_valid_choices():
    with pytest.raises(ValueError, match="non_saturating"):
        gan.generator_loss(torch.zeros(2), "least_squares")


def test_value_function_at_chance_is_minus_log_4():
    zeros = torch.zeros(10)
    assert gan.value_function(zeros, zeros).item() == pytest.approx(-math.log(4))


def test_gradient_penalty_is_zero_for_a_unit_slope_critic_and_differentiable():
    critic = torch.nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, 0.8, 0.0, 0.0]]))  # gradient norm exactly 1
    penalty = gan.gradient_penalty(critic, torch.randn(8, 4), torch.randn(8, 4))
    assert penalty.item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        critic.weight.mul_(3.0)  # norm 3 -> penalty (3 - 1)^2 = 4
    penalty = gan.gradient_penalty(critic, torch.randn(8, 4), torch.randn(8, 4))
    assert penalty.item() == pytest.approx(4.0, rel=1e-5)
    penalty.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_a_few_discriminator_steps_lower_its_loss_on_a_tiny_batch():
    torch.manual_seed(0)
    discriminator = gan.MLPDiscriminator(data_dim=2, hidden=16, depth=2)
    real, fake = torch.randn(32, 2) + 2, torch.randn(32, 2) - 2
    losses = train_a_few_steps(discriminator, lambda _: gan.discriminator_loss(discriminator(real), discriminator(fake)),
                               30, 1e-2)
    assert losses[-1] < 0.5 * losses[0]


# --------------------------------------------------------------------------- one adversarial step
class _Spy:
    """Wraps an optimizer; counts its calls and records, at each step(), which models hold gradients."""

    def __init__(self, optimizer, watched):
        self.optimizer, self.watched, self.calls, self.had_grad = optimizer, watched, [], []

    def zero_grad(self, set_to_none=True):
        self.calls.append("zero_grad")
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self):
        self.calls.append("step")
        self.had_grad.append({name: any(p.grad is not None for p in model.parameters())
                              for name, model in self.watched.items()})
        self.optimizer.step()


def _toy_gan(seed=0):
    torch.manual_seed(seed)
    generator, discriminator = gan.MLPGenerator(2, 2, 8, 2), gan.MLPDiscriminator(2, 8, 2)
    return generator, discriminator, torch.optim.SGD(generator.parameters(), 0.1), \
        torch.optim.SGD(discriminator.parameters(), 0.1)


def test_adversarial_step_updates_d_on_detached_fakes_then_g_each_once():
    generator, discriminator, opt_g, opt_d = _toy_gan()
    models = {"G": generator, "D": discriminator}
    spy_g, spy_d = _Spy(opt_g, models), _Spy(opt_d, models)
    gan.adversarial_step(generator, discriminator, spy_g, spy_d, torch.randn(16, 2), torch.randn(16, 2))
    assert spy_d.calls == spy_g.calls == ["zero_grad", "step"]
    assert spy_d.had_grad == [{"G": False, "D": True}], "the D step must not send gradients into G (detach)"
    assert spy_g.had_grad[0]["G"], "the G step learns through D"


def test_the_generator_step_scores_the_fakes_with_the_freshly_updated_discriminator():
    generator, discriminator, opt_g, opt_d = _toy_gan()
    z, real = torch.randn(16, 2), torch.randn(16, 2) + 1
    with torch.no_grad():
        fake, d_before = generator(z), copy.deepcopy(discriminator)
    losses = gan.adversarial_step(generator, discriminator, opt_g, opt_d, z, real)
    with torch.no_grad():
        assert losses.d_loss == gan.discriminator_loss(d_before(real), d_before(fake))
        assert losses.g_loss == gan.generator_loss(discriminator(fake))
        assert losses.g_loss != gan.generator_loss(d_before(fake))
        assert losses.d_real == torch.sigmoid(d_before(real)).mean()
    assert torch.equal(losses.fake, fake) and all(not value.requires_grad for value in losses)


def _hand_written_step(G, D, opt_g, opt_d, z, real, fabric):     # notebook 03's loop before adversarial_step
    fake = G(z)
    real_logits, fake_logits = D(real), D(fake.detach())
    d_loss = gan.discriminator_loss(real_logits, fake_logits, "non_saturating")
    opt_d.zero_grad(set_to_none=True)
    fabric.backward(d_loss)
    opt_d.step()
    g_loss = gan.generator_loss(D(fake), "non_saturating")
    opt_g.zero_grad(set_to_none=True)
    fabric.backward(g_loss)
    opt_g.step()
    return d_loss, g_loss


def test_adversarial_step_equals_the_hand_written_dcgan_step_bit_for_bit():
    from course_lib.training import make_fabric, setup_model

    fabric = make_fabric("cpu")
    runs = []
    for step_fn in (_hand_written_step, None):
        torch.manual_seed(0)
        G, D = gan.DCGANGenerator(latent_dim=8, width=4), gan.DCGANDiscriminator(width=4)
        G, opt_g = setup_model(fabric, G, torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)))
        D, opt_d = setup_model(fabric, D, torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999)))
        losses = []
        for _ in range(3):
            z, real = torch.randn(6, 8), torch.rand(6, 1, 28, 28) * 2 - 1
            if step_fn is not None:
                losses.append(step_fn(G, D, opt_g, opt_d, z, real, fabric))
            else:
                losses.append(gan.adversarial_step(G, D, opt_g, opt_d, z, real, fabric=fabric)[:2])
        runs.append((losses, [p.detach().clone() for p in (*G.parameters(), *D.parameters())]))
    (hand_losses, hand_weights), (step_losses, step_weights) = runs
    assert all(torch.equal(a, b) for pair_a, pair_b in zip(hand_losses, step_losses) for a, b in zip(pair_a, pair_b))
    assert all(torch.equal(a, b) for a, b in zip(hand_weights, step_weights))


def test_a_conditional_step_gives_d_the_labels_of_real_and_fake():
    from course_lib.conditional import ConditionalDiscriminator, ConditionalGenerator

    torch.manual_seed(0)
    G, D = ConditionalGenerator(latent_dim=4, width=4, conditioning="embedding"), ConditionalDiscriminator(4, "projection")
    real, real_y, z, fake_y = torch.rand(6, 1, 28, 28), torch.arange(6), torch.randn(6, 4), torch.arange(6).flip(0)
    with torch.no_grad():
        d_before, fake = copy.deepcopy(D), G(z, fake_y)
    losses = gan.adversarial_step(G, D, torch.optim.SGD(G.parameters(), 0.1), torch.optim.SGD(D.parameters(), 0.1),
                                  (z, fake_y), (real, real_y), (fake_y,))
    with torch.no_grad():
        assert torch.allclose(losses.d_loss, gan.discriminator_loss(d_before(real, real_y), d_before(fake, fake_y)))


def test_a_pix2pix_step_halves_d_loss_and_adds_lambda_l1_to_g_loss():
    from course_lib.pix2pix import PatchDiscriminator, UNet, pix2pix_discriminator_loss, pix2pix_generator_loss

    torch.manual_seed(0)
    G, D = UNet(1, 1, width=4, depth=1), PatchDiscriminator(2, width=4)
    x, y = torch.rand(4, 1, 16, 16), torch.rand(4, 1, 16, 16)
    with torch.no_grad():
        d_before, fake = copy.deepcopy(D), G(x)
    losses = gan.adversarial_step(G, D, torch.optim.SGD(G.parameters(), 0.1), torch.optim.SGD(D.parameters(), 0.1),
                                  x, (y, x), (x,), d_weight=0.5, g_extra_loss=lambda out: 100 * (out - y).abs().mean())
    with torch.no_grad():
        assert losses.d_loss == pix2pix_discriminator_loss(d_before, x, fake, y)
        assert losses.g_loss == pix2pix_generator_loss(D, x, fake, y, l1_weight=100)
        assert losses.g_loss > 100 * (fake - y).abs().mean()          # the L1 term plus a positive softplus


# --------------------------------------------------------------------------- toy data and measures
def test_eight_gaussians_cluster_around_their_centres():
    samples = gan.eight_gaussians(4000, std=0.05, generator=torch.Generator().manual_seed(0))
    coverage = gan.mode_coverage(samples, gan.mixture_centers(), std=0.05)
    assert coverage.modes_covered == 8 and coverage.high_quality > 0.99
    assert all(abs(f - 1 / 8) < 0.03 for f in coverage.per_mode)


def test_mode_coverage_detects_a_collapsed_generator():
    centres = gan.mixture_centers()
    collapsed = centres[[0, 3]].repeat(100, 1) + 0.01 * torch.randn(200, 2)
    coverage = gan.mode_coverage(collapsed, centres, std=0.05)
    assert coverage.modes_covered == 2
    far_away = torch.zeros(50, 2)
    assert gan.mode_coverage(far_away, centres, std=0.05).high_quality == 0.0


def test_optimal_discriminator_and_jsd_have_their_analytic_values():
    x = np.linspace(-12, 12, 20001)
    p, q = gan.gaussian_pdf(x, 0, 1), gan.gaussian_pdf(x, 1, 1)
    d_star = gan.optimal_discriminator(p, q)
    assert np.allclose(d_star, p / (p + q))
    assert gan.js_divergence(p, p, x) == pytest.approx(0.0, abs=1e-9)
    far = gan.gaussian_pdf(x, 8, 0.5)
    assert gan.js_divergence(gan.gaussian_pdf(x, -8, 0.5), far, x) == pytest.approx(math.log(2), rel=1e-4)
    # Eq. (2.3): V(D*, G) = -log 4 + 2 JSD
    v = np.trapezoid(p * np.log(d_star) + q * np.log(1 - d_star), x)
    assert v == pytest.approx(-math.log(4) + 2 * gan.js_divergence(p, q, x), rel=1e-6)


def test_optimal_discriminator_rejects_mismatched_densities():
    with pytest.raises(ValueError, match="same shape"):
        gan.optimal_discriminator(np.ones(3), np.ones(4))


# --------------------------------------------------------------------------- latent interpolation
def test_slerp_hits_both_end_points_and_keeps_the_norm_of_equal_norm_latents():
    z0 = torch.tensor([3.0, 0.0])
    z1 = torch.tensor([0.0, 3.0])
    assert torch.allclose(gan.slerp(z0, z1, 0.0), z0) and torch.allclose(gan.slerp(z0, z1, 1.0), z1, atol=1e-6)
    middle = gan.slerp(z0, z1, 0.5)
    assert middle.norm().item() == pytest.approx(3.0, rel=1e-5)
    assert (gan.latent_at(z0, z1, 0.5, "linear").norm().item()) == pytest.approx(3 / math.sqrt(2), rel=1e-5)


def test_slerp_of_parallel_latents_falls_back_to_linear():
    z = torch.tensor([1.0, 2.0])
    assert torch.allclose(gan.slerp(z, 2 * z, 0.5), 1.5 * z)


def test_interpolate_latents_returns_a_path_from_z0_to_z1():
    z0, z1 = torch.randn(8), torch.randn(8)
    path = gan.interpolate_latents(z0, z1, steps=5)
    assert path.shape == (5, 8)
    assert torch.allclose(path[0], z0, atol=1e-6) and torch.allclose(path[-1], z1, atol=1e-5)


def test_latent_interpolation_rejects_bad_input():
    z = torch.randn(4)
    with pytest.raises(ValueError, match="valid choices"):
        gan.latent_at(z, z, 0.5, "cubic")
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\]"):
        gan.slerp(z, -z, 1.5)
    with pytest.raises(ValueError, match="at least 2"):
        gan.interpolate_latents(z, z, 1)


# --------------------------------------------------------------------------- exercise checks
def _reference_step(D, G, real, z):
    fake = G(z)
    return (gan.discriminator_loss(D(real), D(fake.detach()), "minimax"),
            gan.generator_loss(D(fake), "non_saturating"))


def _reference_penalty(critic, real, fake, eps):
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grads, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grads.flatten(1).norm(dim=1) - 1) ** 2).mean()


CASES = [
    # (the three loss checks: tests/test_check_feedback.py)
    (checks.check_gan_step_losses, _reference_step, checks.STEP_MISTAKES),
    (checks.check_gradient_penalty, _reference_penalty, checks.GP_MISTAKES),
    # assignment 02
    (checks.check_jensen_shannon, checks._reference_jsd, checks.JSD_MISTAKES),
    (checks.check_lsgan_discriminator_loss, checks._reference_lsgan_d, checks.LSGAN_D_MISTAKES),
    (checks.check_lsgan_generator_loss, checks._reference_lsgan_g, checks.LSGAN_G_MISTAKES),
    (checks.check_gan_training_step, checks._reference_training_step, checks.TRAINING_STEP_MISTAKES),
]


@pytest.mark.parametrize("check, reference, mistakes", CASES, ids=[c[0].__name__ for c in CASES])
def test_each_check_passes_the_reference_and_names_every_listed_mistake(check, reference, mistakes):
    assert_passes_the_reference_and_names_each_mistake(check, reference, mistakes)


def test_the_assignment_mistakes_the_issue_lists_are_all_covered():
    names = {m.name for m in checks.D_LOSS_MISTAKES + checks.G_NON_SATURATING_MISTAKES + checks.STEP_MISTAKES}
    assert {"missing_log", "flipped_sign", "sum_not_mean", "log_free", "no_detach_in_d_step",
            "detach_in_g_step"} <= names


def test_checks_report_unimplemented_and_crashing_functions_without_a_traceback():
    def unimplemented(real_logits, fake_logits):
        raise NotImplementedError()

    assert checks.check_discriminator_loss(unimplemented).diagnosis == "not_implemented"
    assert checks.check_gradient_penalty(lambda *args: 1 / 0).diagnosis == "raised"


# --------------------------------------------------------------------------- assignment 03: a critic trained with the penalty
def _trained_critic_result(penalty, lr=None, steps=None):
    """Assignment 03's "train it" task on its fast-mode budget (the one CI runs), with ``penalty``."""
    budget = budgets("gan_losses_assignment", verbose=False)
    critic, gaps = checks.train_wgan_gp_critic(penalty, steps or budget.steps, budget.lr if lr is None else lr)
    return checks.check_critic_estimates_w1(critic, budget.max_error)


def test_the_two_gaussians_of_the_critic_task_are_w1_one_apart():
    unit_slope = torch.nn.Linear(2, 1, bias=False)  # f(x) = <x, shift>: 1-Lipschitz and optimal (Eq. 2.8)
    with torch.no_grad():
        unit_slope.weight.copy_(checks.W1_SHIFT)
    assert torch.linalg.vector_norm(checks.W1_SHIFT).item() == pytest.approx(checks.TRUE_W1)
    assert checks.critic_gap(unit_slope) == pytest.approx(checks.TRUE_W1, abs=0.03)  # 3 sd of 20,000 draws


def test_a_critic_trained_with_the_reference_penalty_estimates_w1():
    result = _trained_critic_result(_reference_penalty)
    assert result.passed and result.diagnosis == "correct", result.message


def test_the_trained_critic_check_fails_when_nothing_trains():
    result = _trained_critic_result(_reference_penalty, lr=0.0, steps=1)  # at lr 0 no step changes a weight
    assert not result.passed and result.diagnosis == "gap_below_w1", result.message


def test_the_trained_critic_check_fails_when_the_penalty_trains_nothing():
    no_create_graph = next(m for m in checks.GP_MISTAKES if m.name == "no_create_graph")
    result = _trained_critic_result(no_create_graph.implementation)
    assert not result.passed and result.diagnosis == "gap_above_w1" and "create_graph=True" in result.message


def test_a_jsd_that_computes_0_log_0_as_nan_is_told_the_convention():
    def naive(p, q, x):
        m = (p + q) / 2
        return 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)

    result = checks.check_jensen_shannon(naive)
    assert not result.passed and result.diagnosis == "not_finite_where_a_density_is_zero" and "0 log 0" in result.message


def test_a_training_step_without_detach_is_named_not_a_traceback():
    def no_detach(G, D, opt_g, opt_d, real, z):
        fake = G(z)
        d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(-D(fake)).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        return d_loss.item(), g_loss.item()

    result = checks.check_gan_training_step(no_detach)
    assert not result.passed and result.diagnosis == "no_detach_in_d_step" and "fake.detach()" in result.message
