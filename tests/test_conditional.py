"""Specification of course_lib.conditional and the conditional-GAN assignment checks."""
import pytest
import torch

from course_lib.checks import conditional as checks
from course_lib.config import budgets
from course_lib.conditional import (DISCRIMINATOR_CONDITIONING, GENERATOR_CONDITIONING, ConditionalDiscriminator,
                                    ConditionalGenerator, class_grid, discriminator_input, generate_digit,
                                    generator_input, per_class_accuracy)
from course_lib.gan import discriminator_loss, generator_loss
from course_lib.pix2pix import pix2pix_discriminator_loss, pix2pix_generator_loss
from helpers import assert_passes_the_reference_and_names_each_mistake, train_a_few_steps


def test_generator_input_appends_one_hot_label_after_noise():
    z = torch.randn(3, 5)
    x = generator_input(z, torch.tensor([0, 9, 4]))
    assert x.shape == (3, 15)
    assert torch.equal(x[:, :5], z)
    assert torch.equal(x[:, 5:].argmax(1), torch.tensor([0, 9, 4])) and torch.equal(x[:, 5:].sum(1), torch.ones(3))


def test_discriminator_input_adds_one_constant_plane_per_class():
    images = torch.rand(2, 1, 7, 7)
    x = discriminator_input(images, torch.tensor([2, 5]))
    assert x.shape == (2, 11, 7, 7)
    assert torch.equal(x[:, :1], images)
    assert torch.equal(x[0, 1 + 2], torch.ones(7, 7)) and x[0, 1:].sum() == 49 and x[1, 1 + 5].min() == 1


@pytest.mark.parametrize("bad, error", [(torch.tensor([10]), ValueError), (torch.tensor([-1]), ValueError),
                                        (torch.tensor([1.0]), TypeError)])
def test_bad_labels_raise_a_clear_error(bad, error):
    with pytest.raises(error, match="labels"):
        generator_input(torch.randn(1, 4), bad)


def test_unknown_conditioning_names_the_valid_choices():
    with pytest.raises(ValueError, match="valid choices.*onehot"):
        ConditionalGenerator(conditioning="film")
    with pytest.raises(ValueError, match="valid choices.*projection"):
        ConditionalDiscriminator(conditioning="film")


@pytest.mark.parametrize("g_cond", GENERATOR_CONDITIONING)
@pytest.mark.parametrize("d_cond", DISCRIMINATOR_CONDITIONING)
def test_every_conditioning_gives_digits_in_tanh_range_and_one_logit_each(g_cond, d_cond):
    generator, discriminator = ConditionalGenerator(conditioning=g_cond), ConditionalDiscriminator(conditioning=d_cond)
    labels = torch.randint(0, 10, (4,))
    images = generator(torch.randn(4, generator.latent_dim), labels)
    assert images.shape == (4, 1, 28, 28) and images.abs().max() <= 1
    assert discriminator(images, labels).shape == (4,)


@pytest.mark.parametrize("g_cond", ["onehot", "embedding"])
def test_conditional_generator_output_depends_on_the_label(g_cond):
    generator = ConditionalGenerator(conditioning=g_cond).eval()
    z = torch.randn(2, generator.latent_dim).repeat(2, 1)
    images = generator(z, torch.tensor([1, 1, 7, 7]))
    assert (images[:2] - images[2:]).abs().max() > 1e-3


@pytest.mark.parametrize("d_cond", ["concat", "projection"])
def test_conditional_discriminator_score_depends_on_the_label(d_cond):
    discriminator = ConditionalDiscriminator(conditioning=d_cond).eval()
    images = torch.rand(1, 1, 28, 28).repeat(2, 1, 1, 1) * 2 - 1
    logits = discriminator(images, torch.tensor([3, 8]))
    assert (logits[0] - logits[1]).abs() > 1e-4


def test_projection_discriminator_adds_embedding_feature_inner_product():
    discriminator = ConditionalDiscriminator(conditioning="projection").eval()
    images, labels = torch.rand(3, 1, 28, 28), torch.tensor([0, 4, 9])
    phi = discriminator.features(images)
    expected = discriminator.score(phi).squeeze(1) + (discriminator.embedding(labels) * phi).sum(1)
    assert torch.allclose(discriminator(images, labels), expected, atol=1e-5)


def test_conditional_losses_are_the_gan_losses_of_eq_6_1():
    """Eq. (6.1) on pair logits: -E[log D(x, y)] - E[log(1 - D(G(z, y), y))], and G's -E[log D(G(z, y), y)]."""
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    expected_d = -(torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(fake)).mean())
    assert torch.isclose(discriminator_loss(real, fake), expected_d)
    assert torch.isclose(generator_loss(fake), -torch.log(torch.sigmoid(fake)).mean())


def test_a_few_steps_on_one_batch_lower_the_discriminator_loss():
    torch.manual_seed(0)
    generator, discriminator = ConditionalGenerator(width=8), ConditionalDiscriminator(width=8)
    real, labels = torch.rand(16, 1, 28, 28) * 2 - 1, torch.randint(0, 10, (16,))
    with torch.no_grad():
        fake = generator(torch.randn(16, generator.latent_dim), labels)
    losses = train_a_few_steps(
        discriminator, lambda _: discriminator_loss(discriminator(real, labels), discriminator(fake, labels)), 15, 2e-3)
    assert losses[-1] < losses[0] * 0.5


def test_widget_callback_is_deterministic_per_seed_and_changes_with_digit():
    generator = ConditionalGenerator().train()
    a, b = generate_digit(generator, 3, seed=5), generate_digit(generator, 3, seed=5)
    assert a.shape == (1, 28, 28) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, generate_digit(generator, 4, seed=5))
    assert not torch.equal(a, generate_digit(generator, 3, seed=6))
    assert generator.training, "the callback must restore the generator's mode"


@pytest.mark.parametrize("digit, seed", [(10, 0), (-1, 0), (3.0, 0), (3, -2)])
def test_widget_callback_rejects_bad_choices(digit, seed):
    with pytest.raises(ValueError, match="digit|seed"):
        generate_digit(ConditionalGenerator(), digit, seed)


def test_class_grid_rows_are_classes_and_columns_share_noise():
    images, labels = class_grid(ConditionalGenerator(), columns=4, seed=0)
    assert images.shape == (40, 1, 28, 28)
    assert torch.equal(labels[:8], torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]))


def test_per_class_accuracy_counts_hits_per_requested_class():
    requested = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9])
    predicted = requested.clone()
    predicted[0], predicted[2], predicted[3] = 5, 0, 0
    accuracy = per_class_accuracy(predicted, requested)
    assert accuracy[0] == 0.5 and accuracy[1] == 0 and accuracy[2:].eq(1).all()


# --------------------------------------------------------------------------- assignment checks
@pytest.mark.parametrize("check, reference, mistakes", [
    (checks.check_generator_input, generator_input, checks.GENERATOR_INPUT_MISTAKES),
    (checks.check_discriminator_input, discriminator_input, checks.DISCRIMINATOR_INPUT_MISTAKES),
    (checks.check_pix2pix_generator_loss, pix2pix_generator_loss, checks.PIX2PIX_GENERATOR_MISTAKES),
    (checks.check_pix2pix_discriminator_loss, pix2pix_discriminator_loss, checks.PIX2PIX_DISCRIMINATOR_MISTAKES),
], ids=lambda value: getattr(value, "__name__", ""))
def test_each_check_passes_the_reference_and_names_every_listed_mistake(check, reference, mistakes):
    assert_passes_the_reference_and_names_each_mistake(check, reference, mistakes)


def test_checks_report_unimplemented_and_crashing_functions_without_traceback():
    def unimplemented(*args, **kwargs):
        raise NotImplementedError()

    assert checks.check_generator_input(unimplemented).diagnosis == "not_implemented"
    assert checks.check_pix2pix_discriminator_loss(lambda *a: 1 / 0).diagnosis == "raised"


# --------------------------------------------------------------------------- assignment 06: a matching-aware discriminator
def _matching_result(conditioning, lr=None, steps=None):
    """Assignment 06's "train it" task on its fast-mode budget (the one CI runs), with ``conditioning``."""
    budget = budgets("conditional_assignment", verbose=False)
    discriminator, losses = checks.train_matching_discriminator(conditioning, steps or budget.steps,
                                                                budget.lr if lr is None else lr, budget.width)
    return checks.check_matching_discriminator(discriminator, budget.min_accuracy)


def test_a_discriminator_on_the_reference_input_learns_to_spot_wrong_labels():
    result = _matching_result(discriminator_input)
    assert result.passed and result.diagnosis == "correct", result.message


def test_the_matching_check_fails_when_nothing_trains():
    result = _matching_result(discriminator_input, lr=0.0, steps=1)  # at lr 0 no step changes a weight
    assert not result.passed and result.diagnosis == "below_threshold", result.message


def test_the_matching_check_fails_at_exactly_chance_when_the_condition_does_not_reach_d():
    ignores = next(m for m in checks.DISCRIMINATOR_INPUT_MISTAKES if m.name == "condition_not_reaching_d")
    result = _matching_result(ignores.implementation)
    assert not result.passed and result.diagnosis == "ignores_condition"
    assert result.details["accuracy"] == 0.5  # each digit is judged with its own and a wrong label, scored the same


def test_wrong_labels_are_always_another_class_and_reach_every_other_class():
    labels = torch.arange(10).repeat(200)
    wrong = checks.wrong_labels(labels, torch.Generator().manual_seed(0))
    assert (wrong != labels).all() and wrong.min() == 0 and wrong.max() == 9
    assert all(len(wrong[labels == k].unique()) == 9 for k in range(10))
