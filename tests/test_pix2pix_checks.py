"""The checks of assignment 07 (pix2pix) accept right answers, name each listed mistake and never guess.

Property-based (hypothesis): randomly perturbed wrong implementations of the receptive field and of the training
step are never called correct and never get the name of a listed mistake they are not. The "train it" check fails
when the student's step does not train (learning rate 0).
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch import nn

from course_lib.checks import pix2pix as checks
from course_lib.config import BUDGETS
from course_lib.pix2pix import PatchDiscriminator, conv_layers, numerical_receptive_field, receptive_field

from helpers import assert_names_the_mistake

RECEPTIVE_FIELD_NAMES = {m.name for m in checks.RECEPTIVE_FIELD_MISTAKES}
STEP_NAMES = {m.name for m in checks.TRAINING_STEP_MISTAKES}


# --------------------------------------------------------------------------- receptive field
def test_the_reference_receptive_field_is_the_gradient_support_of_the_course_patchgan():
    for n_down in (1, 2):
        D = PatchDiscriminator(in_channels=2, width=4, n_down=n_down)
        assert checks._reference_receptive_field(conv_layers(D)) == numerical_receptive_field(D, 2, size=64)
    assert checks._reference_receptive_field([(4, 2), (4, 2), (4, 2), (4, 1), (4, 1)]) == 70  # the paper's


def test_a_right_receptive_field_passes_whichever_way_it_is_written():
    def from_the_output_backwards(layers):          # r_{l-1} = s_l r_l + (k_l - s_l), from one output pixel
        field = 1
        for kernel, stride in reversed(layers):
            field = stride * field + (kernel - stride)
        return field

    def closed_form(layers):
        total, product = 1, 1
        for kernel, stride in layers:
            total, product = total + (kernel - 1) * product, product * stride
        return float(total)                        # a whole float is accepted as an integer

    for student in (receptive_field, from_the_output_backwards, closed_form):
        assert checks.check_receptive_field(student).passed, student.__name__


@pytest.mark.parametrize("mistake", checks.RECEPTIVE_FIELD_MISTAKES, ids=lambda m: m.name)
def test_each_receptive_field_mistake_is_named(mistake):
    assert_names_the_mistake(checks.check_receptive_field(mistake.implementation), mistake)


examples = settings(max_examples=20, deadline=None, derandomize=True)


def _perturbed_field(kind, c):
    def field(layers):
        total, jump = 1 + (c if kind == "start" else 0), 1
        for kernel, stride in layers:
            total += (kernel - 1) * jump + (c if kind == "per_layer" else 0)
            jump *= stride + (c if kind == "stride" else 0)
        return total
    return field


@pytest.mark.parametrize("kind", ["start", "per_layer", "stride"])
@examples
@given(c=st.integers(1, 6) | st.integers(-6, -2))   # -1 at the start is the listed off_by_one
def test_a_perturbed_receptive_field_is_never_correct_and_never_gets_a_listed_name(kind, c):
    if kind == "stride" and c < 0:
        c = -c                                     # strides stay positive
    result = checks.check_receptive_field(_perturbed_field(kind, c))
    assert not result.passed
    assert result.diagnosis not in RECEPTIVE_FIELD_NAMES, (result.diagnosis, result.message)
    assert "times the expected" not in result.message


# --------------------------------------------------------------------------- the training step
def _bce(logits, label):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


def notebook_solution(G, D, opt_g, opt_d, inputs, targets, l1_weight=100.0):
    fake = G(inputs)
    real_logits, fake_logits = D(targets, inputs), D(fake.detach(), inputs)
    d_loss = 0.5 * (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                    + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    logits = D(fake, inputs)
    adversarial = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    g_loss = adversarial + l1_weight * (fake - targets).abs().mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def stacked_pairs_softplus_and_one_d_call(G, D, opt_g, opt_d, inputs, targets, l1_weight=100.0):
    """Other spellings of the same step: the pair stacked by hand, softplus, real and fake in one D call,
    both optimizers zeroed up front, G(x) computed again, D frozen during G's step, F.l1_loss."""
    opt_d.zero_grad(set_to_none=False)
    opt_g.zero_grad(set_to_none=False)
    with torch.no_grad():
        fake = G(inputs)
    logits = D(torch.cat([torch.cat([inputs, targets], 1), torch.cat([inputs, fake], 1)]))
    real_logits, fake_logits = logits.chunk(2)
    d_loss = (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()) / 2
    d_loss.backward()
    opt_d.step()
    D.requires_grad_(False)
    fake = G(inputs)
    logits = D(torch.cat([inputs, fake], 1))
    g_loss = nn.BCEWithLogitsLoss()(logits, torch.ones_like(logits)) + l1_weight * F.l1_loss(fake, targets)
    g_loss.backward()
    opt_g.step()
    D.requires_grad_(True)
    return d_loss.item(), g_loss.item()


@pytest.mark.parametrize("student", [checks._reference_training_step, notebook_solution,
                                     stacked_pairs_softplus_and_one_d_call], ids=lambda f: f.__name__)
def test_a_right_training_step_passes_whichever_way_it_is_written(student):
    assert checks.check_pix2pix_training_step(student).passed


@pytest.mark.parametrize("mistake", checks.TRAINING_STEP_MISTAKES, ids=lambda m: m.name)
def test_each_training_step_mistake_is_named(mistake):
    assert_names_the_mistake(checks.check_pix2pix_training_step(mistake.implementation), mistake)


def test_the_same_mistakes_written_as_students_write_them_get_their_names():
    def fake_labels_reused_for_the_generator(G, D, opt_g, opt_d, inputs, targets, l1_weight=100.0):
        fake = G(inputs)
        real_logits, fake_logits = D(targets, inputs), D(fake.detach(), inputs)
        real_labels, fake_labels = torch.ones_like(real_logits), torch.zeros_like(fake_logits)
        d_loss = 0.5 * (F.binary_cross_entropy_with_logits(real_logits, real_labels)
                        + F.binary_cross_entropy_with_logits(fake_logits, fake_labels))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_logits = D(fake, inputs)
        g_loss = F.binary_cross_entropy_with_logits(g_logits, fake_labels) + l1_weight * (fake - targets).abs().mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        return d_loss.item(), g_loss.item()

    def probabilities_to_a_logits_loss(G, D, opt_g, opt_d, inputs, targets, l1_weight=100.0):
        fake = G(inputs)
        real_p, fake_p = torch.sigmoid(D(targets, inputs)), torch.sigmoid(D(fake.detach(), inputs))
        d_loss = 0.5 * (_bce(real_p, 1.0) + _bce(fake_p, 0.0))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = _bce(torch.sigmoid(D(fake, inputs)), 1.0) + l1_weight * (fake - targets).abs().mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        return d_loss.item(), g_loss.item()

    def graph_kept_but_not_detached(G, D, opt_g, opt_d, inputs, targets, l1_weight=100.0):
        fake = G(inputs)
        d_loss = 0.5 * (_bce(D(targets, inputs), 1.0) + _bce(D(fake, inputs), 0.0))
        opt_d.zero_grad()
        d_loss.backward(retain_graph=True)
        opt_d.step()
        g_loss = _bce(D(fake, inputs), 1.0) + l1_weight * (fake - targets).abs().mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        return d_loss.item(), g_loss.item()

    def generator_made_under_no_grad(G, D, opt_g, opt_d, inputs, targets, l1_weight=100.0):
        with torch.no_grad():
            fake = G(inputs)
        d_loss = 0.5 * (_bce(D(targets, inputs), 1.0) + _bce(D(fake, inputs), 0.0))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = _bce(D(fake, inputs), 1.0) + l1_weight * (fake - targets).abs().mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        return d_loss.item(), g_loss.item()

    def condition_only_in_the_generator_step(G, D, opt_g, opt_d, inputs, targets, l1_weight=100.0):
        fake = G(inputs)
        d_loss = 0.5 * (_bce(D(targets), 1.0) + _bce(D(fake.detach()), 0.0))   # D(image) alone
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = _bce(D(fake, inputs), 1.0) + l1_weight * (fake - targets).abs().mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        return d_loss.item(), g_loss.item()

    for student, name in [(fake_labels_reused_for_the_generator, "generator_label_zero"),
                          (probabilities_to_a_logits_loss, "sigmoid_twice"),
                          (graph_kept_but_not_detached, "fake_not_detached"),
                          (generator_made_under_no_grad, "generator_gets_no_gradient"),
                          (condition_only_in_the_generator_step, "condition_not_shown_to_d")]:
        result = checks.check_pix2pix_training_step(student)
        assert not result.passed and result.diagnosis == name, (student.__name__, result.diagnosis, result.message)


def _perturbed_step(kind, c):
    """The right step with one random change that is none of the listed mistakes."""
    def training_step(G, D, opt_g, opt_d, inputs, targets, l1_weight=100.0):
        fake = G(inputs)
        real_label = 1.0 - c if kind == "label_smoothing" else 1.0
        d_weight = c if kind == "d_weight" else 0.5
        d_loss = d_weight * (_bce(D(targets, inputs), real_label) + _bce(D(fake.detach(), inputs), 0.0))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        weight = l1_weight * (c if kind == "l1_scale" else 1.0)
        g_loss = _bce(D(fake, inputs), 1.0) + weight * (fake - targets).abs().mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        offset = c if kind == "reported_offset" else 0.0
        return d_loss.item() + offset, g_loss.item() + offset
    return training_step


STEP_PERTURBATIONS = {   # kind -> values of c that change the step but are not a listed mistake
    "label_smoothing": st.floats(0.02, 0.3),
    "d_weight": st.floats(0.05, 0.45) | st.floats(0.55, 0.95) | st.floats(1.05, 3.0),   # 1: d_loss_not_halved
    "l1_scale": st.floats(0.05, 0.95) | st.floats(1.05, 5.0),
    "reported_offset": st.floats(0.01, 5.0) | st.floats(-5.0, -0.01),
}


@pytest.mark.parametrize("kind", sorted(STEP_PERTURBATIONS))
@settings(max_examples=8, deadline=None, derandomize=True)
@given(data=st.data())
def test_a_perturbed_training_step_is_never_correct_and_never_gets_a_listed_name(kind, data):
    c = data.draw(STEP_PERTURBATIONS[kind])
    result = checks.check_pix2pix_training_step(_perturbed_step(kind, c))
    assert not result.passed
    assert result.diagnosis not in STEP_NAMES, (result.diagnosis, result.message)
    assert "times the expected" not in result.message


def test_an_unlisted_wrong_step_is_told_what_differs_without_a_guessed_cause():
    result = checks.check_pix2pix_training_step(_perturbed_step("reported_offset", 0.5))
    assert result.diagnosis == "values"
    assert "the discriminator's weights are right; the generator's weights are right" in result.message
    assert "the returned d_loss is" in result.message and "expected" in result.message
    result = checks.check_pix2pix_training_step(_perturbed_step("l1_scale", 2.0))
    assert "the discriminator's weights are right; the generator's weights after your step differ" in result.message
    assert "the returned d_loss is right" in result.message


def test_a_step_that_returns_something_else_is_told_what_to_return():
    result = checks.check_pix2pix_training_step(lambda G, D, opt_g, opt_d, inputs, targets, l1_weight=100.0: None)
    assert not result.passed and result.diagnosis == "structure" and "(d_loss, g_loss)" in result.message
    result = checks.check_pix2pix_training_step(
        lambda G, D, opt_g, opt_d, inputs, targets, l1_weight=100.0: checks._reference_training_step(
            G, D, opt_g, opt_d, inputs, targets, l1_weight)[0])
    assert not result.passed and result.diagnosis == "structure" and "(d_loss, g_loss)" in result.message


# --------------------------------------------------------------------------- train it
def test_the_fast_mode_training_check_fails_when_the_step_does_not_train():
    budget = BUDGETS["pix2pix_assignment"]
    run = checks.train_edges_to_digits(checks._reference_training_step, budget["steps"].fast, lr=0.0,
                                       train_digits=budget["train_digits"].fast, test_digits=budget["test_digits"].fast)
    result = checks.check_translator(run, budget["max_l1_ratio"].fast)
    assert not result.passed and run.ratio > 1, run      # no better than predicting the mean digit
    assert run.examples.shape == (24, 1, 28, 28)


@pytest.mark.parametrize("ratio, passes", [(0.2, True), (0.3, True), (0.31, False), (3.0, False)])
def test_check_translator_passes_exactly_up_to_the_threshold_and_says_so(ratio, passes):
    run = checks.TranslatorRun(steps=1, held_out_l1=ratio * 0.15, baseline_l1=0.15, seconds=1.0, d_loss=0.7,
                               g_loss=3.0)
    result = checks.check_translator(run, 0.3)
    assert result.passed is passes
    assert f"{ratio:.3f} of the mean-digit baseline" in result.message
    assert ("at most" in result.message) is passes
