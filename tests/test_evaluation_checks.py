"""The checks of assignment 10 (evaluation) accept right answers, name each listed mistake, and nothing else.

The reference Fréchet distance is pinned three ways: the 1-D closed form (m1 - m2)^2 + (s1 - s2)^2, scipy's
matrix square root, and torchmetrics' FID (the course's ``classifier_fid``) on the evaluation network's features.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings, strategies as st

from course_lib.checks import evaluation as checks
from course_lib.config import BUDGETS
from course_lib.data import load_mnist
from course_lib.metrics import classifier_fid
from course_lib.vae import MLPVAE, negative_elbo, sample_prior

from helpers import assert_passes_the_reference_and_names_each_mistake, train_a_few_steps

CASES = [(checks.check_frechet_distance, checks._frechet_distance, checks.FRECHET_MISTAKES),
         (checks.check_fid_from_features, checks._fid_from_features, checks.FID_FROM_FEATURES_MISTAKES),
         (checks.check_memorization_score, checks._memorization_score, checks.MEMORIZATION_MISTAKES),
         (checks.check_evaluate_samples, checks._evaluate_samples, checks.EVALUATE_SAMPLES_MISTAKES)]
IDS = [check.__name__ for check, _, _ in CASES]
examples = settings(max_examples=20, deadline=None, derandomize=True)


@pytest.mark.parametrize("check, reference, mistakes", CASES, ids=IDS)
def test_each_check_passes_the_reference_and_names_every_listed_mistake(check, reference, mistakes):
    assert_passes_the_reference_and_names_each_mistake(check, reference, mistakes)


# --------------------------------------------------------------------------- the Fréchet distance itself
@examples
@given(m1=st.floats(-5, 5), s1=st.floats(0.1, 5), m2=st.floats(-5, 5), s2=st.floats(0.1, 5))
def test_in_one_dimension_the_frechet_distance_is_the_closed_form(m1, s1, m2, s2):
    as_1d = lambda m, s: (torch.tensor([m], dtype=torch.float64), torch.tensor([[s * s]], dtype=torch.float64))
    distance = checks._frechet_distance(*as_1d(m1, s1), *as_1d(m2, s2))
    assert math.isclose(float(distance), (m1 - m2) ** 2 + (s1 - s2) ** 2, rel_tol=1e-9, abs_tol=1e-9)


def test_the_checks_one_dimensional_case_is_the_closed_form():
    mu1, sigma1, mu2, sigma2 = checks.ONE_DIMENSIONAL_CASE
    closed_form = (mu1 - mu2).item() ** 2 + (sigma1.sqrt() - sigma2.sqrt()).item() ** 2
    assert float(checks._frechet_distance(*checks.ONE_DIMENSIONAL_CASE)) == pytest.approx(closed_form, rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_the_frechet_distance_agrees_with_scipys_matrix_square_root(seed):
    mu1, sigma1, mu2, sigma2 = checks._frechet_inputs(torch.Generator().manual_seed(seed))
    root = scipy.linalg.sqrtm(sigma1.numpy() @ sigma2.numpy())
    expected = ((mu1 - mu2) ** 2).sum().item() + np.trace(sigma1.numpy() + sigma2.numpy() - 2 * root).real
    assert float(checks._frechet_distance(mu1, sigma1, mu2, sigma2)) == pytest.approx(expected, rel=1e-8)


def test_fid_from_features_is_torchmetrics_fid_on_the_evaluation_networks_features(evaluation_network):
    real = load_mnist("test").tensors[0][:200]
    noisy = (load_mnist("train").tensors[0][:200] + 0.2 * torch.randn(200, 1, 28, 28)).clamp(0, 1)
    with torch.no_grad():
        ours = checks._fid_from_features(evaluation_network.features(real).double(),
                                         evaluation_network.features(noisy).double())
    assert float(ours) == pytest.approx(classifier_fid(real, noisy, evaluation_network), rel=1e-4)


@pytest.mark.parametrize("n, d", [(50, 16), (400, 16), (200, 4)])
def test_the_fid_of_two_samples_of_one_gaussian_is_biased_by_about_2d_plus_d_d_plus_1_over_2_over_n(n, d):
    # the claim of the reference answer to Question 1: E[FID] ~ (2d + d(d + 1)/2) / n for N(0, I_d)
    generator = torch.Generator().manual_seed(n + d)
    draws = [float(checks._fid_from_features(torch.randn(n, d, generator=generator, dtype=torch.float64),
                                             torch.randn(n, d, generator=generator, dtype=torch.float64)))
             for _ in range(40)]
    assert min(draws) > 0
    assert np.mean(draws) == pytest.approx((2 * d + d * (d + 1) / 2) / n, rel=0.1)


# --------------------------------------------------------------------------- other right answers pass too
def _frechet_with_scipy(mu1, sigma1, mu2, sigma2):
    root = scipy.linalg.sqrtm(sigma1.numpy() @ sigma2.numpy())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1.numpy() + sigma2.numpy() - 2 * root).real)


def _frechet_with_eigvals(mu1, sigma1, mu2, sigma2):  # torchmetrics' way
    return ((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace()
            - 2 * torch.linalg.eigvals(sigma1 @ sigma2).sqrt().real.sum())


def _fid_with_numpy(real, fake):
    fit = lambda x: (torch.from_numpy(x.numpy().mean(0)), torch.from_numpy(np.cov(x.numpy(), rowvar=False)))
    return _frechet_with_scipy(*fit(real), *fit(fake))


def _memorization_with_numpy(samples, train, heldout):
    nearest = lambda x: scipy.spatial.distance.cdist(x.flatten(1).numpy(), train.flatten(1).numpy()).min(1)
    return np.median(nearest(samples)) / np.median(nearest(heldout))


@pytest.mark.parametrize("check, answer", [
    (checks.check_frechet_distance, _frechet_with_scipy),
    (checks.check_frechet_distance, _frechet_with_eigvals),
    (checks.check_fid_from_features, _fid_with_numpy),
    (checks.check_memorization_score, _memorization_with_numpy),
], ids=["scipy sqrtm", "eigvals", "np.cov rowvar=False", "scipy cdist and np.median"])
def test_other_correct_implementations_pass(check, answer):
    import scipy.spatial  # noqa: F401  (used by _memorization_with_numpy)

    assert check(answer).passed


def test_a_matrix_instead_of_a_number_is_told_to_take_the_trace():
    result = checks.check_frechet_distance(lambda m1, s1, m2, s2: s1 + s2 - 2 * checks._sqrtm_psd(s1 @ s2))
    assert not result.passed and result.diagnosis == "matrix_not_number" and "trace" in result.message


def test_a_complex_result_is_told_to_keep_the_real_part():
    result = checks.check_frechet_distance(
        lambda m1, s1, m2, s2: torch.complex(_frechet_with_eigvals(m1, s1, m2, s2), torch.tensor(1e-9, dtype=torch.float64)))
    assert not result.passed and result.diagnosis == "complex" and ".real" in result.message


def test_evaluate_samples_must_return_the_four_named_numbers():
    result = checks.check_evaluate_samples(lambda s, h, t, f: {"fid": 1.0, "floor": 1.0})
    assert not result.passed and result.diagnosis == "keys" and "fid_over_floor" in result.message


# --------------------------------------------------------------------------- perturbed answers are never right
PERTURBATIONS = {
    "offset": lambda value, c: value + c,
    "scaled_and_shifted": lambda value, c: (1 + c) * value + c,
    "nonlinear": lambda value, c: value + c * abs(value) ** 1.5,
}


def _perturbed(reference, kind, c):
    perturb = PERTURBATIONS[kind]

    def student(*args):
        value = reference(*args)
        if isinstance(value, dict):  # evaluate_samples: one of the four numbers is off
            return {**value, "fid_over_floor": perturb(value["fid_over_floor"], c)}
        return perturb(float(value), c)

    return student


@pytest.mark.parametrize("check, reference, mistakes", CASES, ids=IDS)
@pytest.mark.parametrize("kind", sorted(PERTURBATIONS))
@examples
@given(c=st.floats(0.01, 3.0) | st.floats(-3.0, -0.01))
def test_a_perturbed_answer_is_never_correct_and_never_gets_a_listed_mistakes_name(check, reference, mistakes,
                                                                                      kind, c):
    result = check(_perturbed(reference, kind, c))
    assert not result.passed
    assert result.diagnosis not in {m.name for m in mistakes} | {"correct"}, (result.diagnosis, result.message)


@pytest.mark.parametrize("check, reference, mistakes", CASES, ids=IDS)
@examples
@given(c=st.floats(0.01, 3.0) | st.floats(-3.0, -0.01))
def test_a_perturbed_mistake_is_not_given_that_mistakes_name(check, reference, mistakes, c):
    for mistake in mistakes:
        result = check(_perturbed(mistake.implementation, "offset", c))
        assert not result.passed and result.diagnosis != mistake.name, (mistake.name, result.message)


# --------------------------------------------------------------------------- the training task's check
def _train_vae(images, steps, lr):
    """The loop of the solution's train_vae (Exercise 5)."""
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=16, hidden=256)

    def loss_of_step(step):
        batch = images[torch.randint(0, len(images), (64,))]
        logits, mu, logvar = model(batch)
        return negative_elbo(logits, batch, mu, logvar)

    train_a_few_steps(model, loss_of_step, steps, lr)
    return model


THRESHOLDS = {name: budget.fast for name, budget in BUDGETS["evaluation_assignment"].items()
              if name.startswith(("max_", "min_"))}


def test_the_training_check_fails_when_the_learning_rate_is_zero(evaluation_network):
    train = load_mnist("train").tensors[0]
    heldout = torch.cat([load_mnist("test").tensors[0], load_mnist("val").tensors[0]])
    n = 150

    @torch.no_grad()
    def features(images):
        return evaluation_network.features(images).double()

    def report(images, steps, lr):
        samples = sample_prior(_train_vae(images, steps, lr), n, generator=torch.Generator().manual_seed(1))
        return checks._evaluate_samples(samples, heldout[:2 * n], images, features)

    at_lr_zero = [report(train, 5, 0.0), report(train[:10], 5, 0.0), report(train, 0, 0.0)]
    result = checks.check_training_results(*at_lr_zero, **THRESHOLDS)
    assert not result.passed and result.diagnosis == "not_trained", result.message
    assert "learning rate" in result.message


def _reports(ratio_everything, memorization_everything, memorization_few, ratio_untrained=40.0):
    row = lambda ratio, memorization: {"fid": ratio * 100, "floor": 100.0, "fid_over_floor": ratio,
                                       "memorization": memorization}
    return (row(ratio_everything, memorization_everything), row(ratio_everything, memorization_few),
            row(ratio_untrained, 2.5))


def test_the_training_check_passes_a_trained_model_and_a_memorizing_one():
    fine = _reports(0.5 * THRESHOLDS["max_ratio_to_untrained"] * 40.0, THRESHOLDS["min_memorization_everything"] + 0.1,
                    THRESHOLDS["max_memorization_few"] - 0.2)
    result = checks.check_training_results(*fine, **THRESHOLDS)
    assert result.passed and result.diagnosis == "correct"


@pytest.mark.parametrize("change, diagnosis", [
    ({"ratio_everything": 0.9 * 40.0}, "not_trained"),
    ({"memorization_few": 1.0}, "few_not_memorizing"),
    ({"memorization_everything": 0.5}, "everything_memorizing"),
], ids=["FID/floor near the untrained model's", "the ten-digit model does not copy", "the full model copies"])
def test_the_training_check_says_which_expectation_failed(change, diagnosis):
    values = {"ratio_everything": 0.1 * 40.0, "memorization_everything": 1.05, "memorization_few": 0.5} | change
    result = checks.check_training_results(*_reports(**values), **THRESHOLDS)
    assert not result.passed and result.diagnosis == diagnosis, result.message


def test_the_training_check_refuses_an_infinite_ratio_with_its_likely_cause():
    everything, few, untrained = _reports(4.0, 1.0, 0.5)
    result = checks.check_training_results({**everything, "fid_over_floor": math.inf}, few, untrained, **THRESHOLDS)
    assert not result.passed and result.diagnosis == "not_finite" and "floor" in result.message
