"""Specification of the exercise checks: the reference passes, each known mistake gets its own message."""
import pytest
import torch
from torch import nn

from course_lib import cnn
from course_lib.checks import cnn as cnn_checks
from course_lib.checks.core import Mistake, check_function
from helpers import assert_names_the_mistake, assert_passes_the_reference_and_names_each_mistake


@pytest.mark.parametrize("check, reference, mistakes", [
    (cnn_checks.check_conv_output_size, lambda n, k, s, p: cnn.conv_output_size(n, k, s, p), cnn_checks.CONV_MISTAKES),
    (cnn_checks.check_conv_transpose_output_size, lambda n, k, s, p: cnn.conv_transpose_output_size(n, k, s, p),
     cnn_checks.TRANSPOSE_MISTAKES),
], ids=["conv_output_size", "conv_transpose_output_size"])
def test_each_check_passes_the_reference_and_names_every_listed_mistake(check, reference, mistakes):
    assert_passes_the_reference_and_names_each_mistake(check, reference, mistakes)


def test_upsample_block_reference_passes_and_common_mistakes_are_named():
    good = lambda i, o: nn.Sequential(nn.ConvTranspose2d(i, o, 4, 2, 1), nn.BatchNorm2d(o), nn.ReLU())
    assert cnn_checks.check_upsample_block(good).passed
    assert cnn_checks.check_upsample_block(lambda i, o: nn.ConvTranspose2d(i, o, 3, 2, 1)).diagnosis == "kernel3_stride2"
    assert cnn_checks.check_upsample_block(lambda i, o: nn.ConvTranspose2d(i, o, 4, 2, 0)).diagnosis == "no_padding"


def test_upsample_that_is_not_learnable_is_reported():
    result = cnn_checks.check_upsample_block(lambda i, o: nn.Sequential(nn.Upsample(scale_factor=2), nn.Identity()))
    assert not result.passed


def _not_implemented(*args):
    raise NotImplementedError()


@pytest.mark.parametrize("student, diagnosis, words", [
    (None, "not_a_function", "Pass the function itself"),
    (42, "not_a_function", "expected a function"),
    (_not_implemented, "not_implemented", "not implemented yet"),
    (lambda *a: 1 / 0, "raised", "ZeroDivisionError"),
    (lambda *a: None, "structure", "forget the `return`"),
    (lambda *a: "twelve", "structure", "expected an integer"),
])
def test_garbage_gets_guidance_not_a_traceback(student, diagnosis, words):
    result = cnn_checks.check_conv_output_size(student)
    assert not result.passed and result.diagnosis == diagnosis and words in result.message


def _loss_reference(x):
    return (x ** 2).mean()


def _loss_inputs(generator):
    return (torch.randn(8, 5, generator=generator),)


def test_generic_diagnoses_find_a_flipped_sign_and_a_constant_factor():
    sign = check_function(lambda x: -(x ** 2).mean(), _loss_reference, _loss_inputs, verbose=False)
    factor = check_function(lambda x: (x ** 2).sum(), _loss_reference, _loss_inputs, verbose=False)
    assert sign.diagnosis == "sign" and "sign" in sign.message
    assert factor.diagnosis == "factor" and "mean vs sum" in factor.message and "40" in factor.message


def test_wrong_shape_is_explained():
    result = check_function(lambda x: x ** 2, _loss_reference, _loss_inputs, verbose=False)
    assert result.diagnosis == "structure" and "reduced to a single number" in result.message


def test_a_listed_mistake_wins_over_the_generic_diagnosis():
    mistakes = [Mistake("summed", lambda x: (x ** 2).sum(), "sum over the batch instead of the mean")]
    result = check_function(lambda x: (x ** 2).sum(), _loss_reference, _loss_inputs, mistakes, verbose=False)
    assert result.diagnosis == "summed" and result.message == "sum over the batch instead of the mean"


def test_the_result_prints_a_friendly_line(capsys):
    check_function(_loss_reference, _loss_reference, _loss_inputs, name="mean_square")
    assert capsys.readouterr().out.startswith("✅ mean_square: correct")


# --------------------------------------------------------------------------- checks that cannot be fooled
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import torch.nn.functional as F  # noqa: E402

from course_lib import gan  # noqa: E402
from course_lib.checks import core  # noqa: E402
from course_lib.checks import gan as gan_checks  # noqa: E402
from course_lib.checks import vae as vae_checks  # noqa: E402


def test_a_detached_reparameterization_fails_even_inside_no_grad():
    """reparameterize that detaches z, checked inside torch.no_grad() -> fails: 'no gradient reaches mu and logvar'."""
    detached = lambda mu, lv, eps: (mu + torch.exp(0.5 * lv) * eps).detach()  # noqa: E731
    with torch.no_grad():
        result = vae_checks.check_reparameterize(detached)
    assert not result.passed and result.diagnosis == "no_reparameterization"


@pytest.mark.parametrize("mistake", gan_checks.STEP_MISTAKES, ids=lambda m: m.name)
def test_detach_mistakes_are_named_even_inside_no_grad(mistake):
    """GAN step without detach, or with the detach in the generator step, checked inside torch.no_grad() -> fails with that mistake's message."""
    with torch.no_grad():
        assert_names_the_mistake(gan_checks.check_gan_step_losses(mistake.implementation), mistake)


def test_a_naive_log_of_sigmoid_fails_at_the_logits_a_confident_discriminator_produces():
    """Naive -(log sigmoid(r) + log(1 - sigmoid(f))) (right on ordinary logits) -> fails on the |logit| >= 25 probe with a message on softplus/logsigmoid."""
    naive = lambda r, f: -(torch.sigmoid(r).log() + (1 - torch.sigmoid(f)).log()).mean()  # noqa: E731
    result = gan_checks.check_discriminator_loss(naive)
    assert not result.passed and result.diagnosis == "naive_log_sigmoid"
    assert "sigmoid(25)" in result.message and "|l| >= 25" in result.message
    minimax = gan_checks.check_generator_loss_minimax(lambda f: (1 - torch.sigmoid(f)).log().mean())
    assert not minimax.passed and minimax.diagnosis == "naive_log_sigmoid"


def test_a_kl_that_changes_mu_in_place_fails():
    """gaussian_kl that squares mu in place (mu.pow_(2)) -> fails: 'changed its input mu in place'."""
    def kl_in_place(mu, logvar):
        mu.pow_(2)
        return 0.5 * (mu + logvar.exp() - 1 - logvar).sum(1)

    result = vae_checks.check_gaussian_kl(kl_in_place)
    assert not result.passed and result.diagnosis == "mutated_input" and "input mu in place" in result.message


def test_an_upsampling_block_whose_convolution_is_never_used_fails():
    """Upsampling block whose ConvTranspose2d is created but never used in forward -> fails naming the parameters that get no gradient."""
    class Unused(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.up = nn.ConvTranspose2d(i, o, 4, 2, 1)  # created, never called
            self.mix = nn.Conv2d(i, o, 1)

        def forward(self, x):
            return self.mix(F.interpolate(x, scale_factor=2))

    result = cnn_checks.check_upsample_block(Unused)
    assert not result.passed and result.diagnosis == "unused_layer" and "up.weight, up.bias" in result.message


def _never_returns(*args):
    while True:
        pass


@pytest.mark.parametrize("where", ["main thread", "other thread"])
def test_a_function_that_never_returns_is_stopped_by_the_time_limit(monkeypatch, where):
    """Student function that loops forever (checked from the main thread or another thread) -> fails after the time limit: 'did not finish within', and the loop itself is stopped."""
    monkeypatch.setattr(core, "TIME_LIMIT_S", 0.3)
    results = []
    run = lambda: results.append(vae_checks.check_gaussian_kl(_never_returns))  # noqa: E731
    if where == "main thread":
        run()
    else:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join(10)
    assert results and results[0].diagnosis == "time_limit" and "did not finish within 0.3 s" in results[0].message
    # the runaway loop itself is stopped too: an abandoned thread would keep a core busy for the whole session
    deadline = time.monotonic() + 5
    while any(t.name == "student-code" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "student-code" for t in threading.enumerate())


def test_the_gradient_penalty_check_works_inside_no_grad_and_survives_sys_exit():
    """Correct gradient penalty checked inside torch.no_grad(); an answer that calls sys.exit -> the first passes, the second fails with guidance (no traceback)."""
    with torch.no_grad():
        assert gan_checks.check_gradient_penalty(gan_checks._reference_penalty).passed
    result = gan_checks.check_gradient_penalty(lambda *args: sys.exit(0))
    assert not result.passed and "sys.exit" in result.message


# --------------------------------------------------------------------------- Exercise 6 of the CNN assignment
def _classifier_like_the_solution(width=16):
    """solutions/01_cnn_assignment.ipynb, Exercise 5: two strided 5x5 convolutions, then a linear layer (7 x 7 inputs)."""
    return nn.Sequential(nn.Conv2d(1, width, 5, 2, 2), nn.ReLU(), nn.Conv2d(width, 2 * width, 5, 2, 2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(2 * width * 7 * 7, 10))


class _LooksUpTheTestLabels(nn.Module):
    """A perfect classifier: it finds each digit among the test digits and outputs its label's logits (or their softmax)."""

    def __init__(self, probabilities=False):
        super().__init__()
        from course_lib.data import load_mnist

        self.digits, self.labels = load_mnist("test").tensors
        self.scale = nn.Parameter(torch.tensor(10.0))
        self.probabilities = probabilities

    def forward(self, images):
        nearest = torch.cdist(images.flatten(1), self.digits.flatten(1)).argmin(1)
        logits = self.scale * nn.functional.one_hot(self.labels[nearest], 10).float()
        return logits.softmax(1) if self.probabilities else logits


def test_a_perfect_classifier_passes_and_the_same_one_ending_in_a_softmax_is_rejected_with_the_reason():
    assert cnn_checks.check_trained_classifier(_LooksUpTheTestLabels(), min_accuracy=0.99).details["accuracy"] == 1.0
    result = cnn_checks.check_trained_classifier(_LooksUpTheTestLabels(probabilities=True), min_accuracy=0.5)
    assert not result.passed and result.diagnosis == "softmax"
    assert "expects logits" in result.message and "F.cross_entropy applies the softmax itself" in result.message


def test_the_assignment_classifier_trained_at_learning_rate_zero_fails_the_quality_check():
    """The assignment's training cell at the fast budget, with lr 0: the untrained network guesses, and fails."""
    from course_lib import budgets
    from course_lib.cnn import classification_loss
    from course_lib.data import load_mnist
    from course_lib.training import fit, seed_everything

    budget = budgets("cnn_assignment", verbose=False)
    seed_everything(0)
    model = _classifier_like_the_solution()
    fit(model, load_mnist("train"), classification_loss, optimizer=torch.optim.Adam(model.parameters(), lr=0.0),
        steps=budget.steps, batch_size=64, desc="lr 0")
    result = cnn_checks.check_trained_classifier(model, budget.min_accuracy)
    assert not result.passed and result.diagnosis == "too_inaccurate" and result.details["accuracy"] < 0.3


@pytest.mark.parametrize("model, diagnosis", [
    (nn.Sequential(nn.Flatten(), nn.Linear(784, 9)), "wrong_shape"),  # one class short
    (lambda images: images.flatten(1)[:, :10], "not_a_model"),
    (nn.Sequential(nn.Linear(28, 10)), "wrong_shape"),  # (N, 1, 28, 10): no Flatten
], ids=["nine_classes", "a_function", "no_flatten"])
def test_a_classifier_of_the_wrong_kind_gets_guidance_not_a_traceback(model, diagnosis):
    result = cnn_checks.check_trained_classifier(model, min_accuracy=0.5)
    assert not result.passed and result.diagnosis == diagnosis, result
