"""Feedback that is never wrong: a check names a cause only when the evidence supports it.

Property-based (hypothesis): a randomly perturbed wrong implementation of a loss is never called
correct, never gets the diagnosis of a *listed* mistake it is not, and never gets a generic cause
("constant factor", "sign") unless it really is one on every trial. The cases the issue observed
(a scalar loss that is simply wrong being called "0.9998 times the expected ones") are pinned below.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from course_lib.checks import conditional as conditional_checks
from course_lib.checks import gan as gan_checks
from course_lib.checks import vae as vae_checks

from helpers import assert_passes_the_reference_and_names_each_mistake

examples = settings(max_examples=25, deadline=None, derandomize=True)

# (check, reference, its listed mistakes); each reference maps the check's inputs to the right loss
LOSS_CHECKS = [
    (gan_checks.check_discriminator_loss, lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),
     gan_checks.D_LOSS_MISTAKES),
    (gan_checks.check_generator_loss_minimax, lambda f: -F.softplus(f).mean(), gan_checks.G_MINIMAX_MISTAKES),
    (gan_checks.check_generator_loss_non_saturating, lambda f: F.softplus(-f).mean(),
     gan_checks.G_NON_SATURATING_MISTAKES),
    (vae_checks.check_gaussian_kl, lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).sum(1),
     vae_checks.KL_MISTAKES),
]
IDS = [check.__name__ for check, _, _ in LOSS_CHECKS]


@pytest.mark.parametrize("check, reference, mistakes", LOSS_CHECKS, ids=IDS)
def test_each_loss_check_passes_the_reference_and_names_every_listed_mistake(check, reference, mistakes):
    assert_passes_the_reference_and_names_each_mistake(check, reference, mistakes)


def _first_tensor(args):
    return next(a for a in args if isinstance(a, torch.Tensor))


# Perturbations that are wrong but are no constant factor and no flipped sign: an offset, a term that depends
# on the inputs, a nonlinear distortion.
PERTURBATIONS = {
    "offset": lambda value, args, c: value + c,
    "input_dependent": lambda value, args, c: value + c * _first_tensor(args).abs().mean(),
    "nonlinear": lambda value, args, c: value + c * value.abs().pow(1.5),
}


@pytest.mark.parametrize("check, reference, mistakes", LOSS_CHECKS, ids=IDS)
@pytest.mark.parametrize("kind", sorted(PERTURBATIONS))
@examples
@given(c=st.floats(0.01, 5.0) | st.floats(-5.0, -0.01))
def test_a_perturbed_answer_is_never_correct_and_never_gets_another_mistakes_name(check, reference, mistakes,
                                                                                     kind, c):
    perturb = PERTURBATIONS[kind]

    def student(*args):
        return perturb(reference(*args), args, c)

    result = check(student)
    assert not result.passed
    assert result.diagnosis not in {m.name for m in mistakes}, (result.diagnosis, result.message)
    assert result.diagnosis not in {"factor", "sign"}, result.message
    assert "times the expected" not in result.message


@pytest.mark.parametrize("check, reference, mistakes", LOSS_CHECKS, ids=IDS)
@examples
@given(factor=st.floats(0.2, 0.9) | st.floats(1.1, 1.9) | st.floats(2.1, 5.0))
def test_a_true_constant_factor_is_named_as_one(check, reference, mistakes, factor):
    result = check(lambda *args: factor * reference(*args))
    assert not result.passed and result.diagnosis == "factor", result.message
    assert f"{factor:.4g} times the expected ones on all" in result.message


def test_an_unrecognised_wrong_scalar_is_told_where_and_by_how_much_not_a_guessed_cause():
    # a discriminator loss that adds 0.01: one number per trial always has *some* ratio to the right one
    result = gan_checks.check_discriminator_loss(lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean() + 0.01)
    assert result.diagnosis == "values"
    assert "off by +0.01" in result.message and "expected" in result.message and "times" not in result.message


@pytest.mark.parametrize("student, mistake", [
    # the issue's observations, each now named for what it is
    (lambda f: F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)), "label_zero"),
    (lambda f: torch.sigmoid(f).mean(), "minimises_d_of_fake"),
    (lambda f: F.binary_cross_entropy_with_logits(torch.sigmoid(f), torch.ones_like(f)), "sigmoid_twice"),
], ids=["label 0 in the generator step", "minimises E[D(G(z))]", "sigmoid twice"])
def test_the_generator_mistakes_the_issue_observed_are_named(student, mistake):
    result = gan_checks.check_generator_loss_non_saturating(student)
    assert not result.passed and result.diagnosis == mistake, result.message


def test_the_log_free_messages_state_true_facts():
    by_name = {m.name: m.message for m in gan_checks.D_LOSS_MISTAKES}
    assert "total-variation distance" in by_name["log_free_probabilities"]
    assert "no maximum" not in by_name["log_free_probabilities"]   # bounded for a probability-valued D
    assert "unconstrained real-valued critic" in by_name["log_free"]


def test_a_pix2pix_discriminator_that_ignores_its_condition_is_named():
    def shown_the_output_twice(discriminator, inputs, fake, target):
        real = discriminator(torch.cat([target, target], 1))
        fake_logits = discriminator(torch.cat([fake.detach(), fake.detach()], 1))
        return 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                      + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))

    result = conditional_checks.check_pix2pix_discriminator_loss(shown_the_output_twice)
    assert not result.passed and result.diagnosis == "condition_replaced_by_output", result.message
    assert "ignores the condition" in result.message


def test_the_step_with_the_fake_labels_reused_for_the_generator_is_named():
    def step(D, G, real, z):
        fake = G(z)
        real_logits, fake_logits = D(real), D(fake.detach())
        fake_labels = torch.zeros_like(fake_logits)
        d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                  + F.binary_cross_entropy_with_logits(fake_logits, fake_labels))
        return d_loss, F.binary_cross_entropy_with_logits(D(fake), fake_labels)

    result = gan_checks.check_gan_step_losses(step)
    assert not result.passed and result.diagnosis == "labels_reused_for_generator", result.message


def test_a_kl_missing_its_minus_one_and_log_terms_is_named():
    result = vae_checks.check_gaussian_kl(lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp()).sum(1))
    assert not result.passed and result.diagnosis == "kl_missing_terms" and "sigma -> 0" in result.message
