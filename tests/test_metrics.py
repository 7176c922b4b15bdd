"""Specification of course_lib.metrics on cases with known answers."""
import pytest
import torch

from course_lib import metrics
from course_lib.data import load_mnist


@pytest.fixture(scope="module")
def digits():
    return load_mnist("train", source="bundled").tensors


def test_fid_of_a_set_with_itself_is_zero_and_the_floor_is_small(evaluation_network, digits):
    images = digits[0][:600]
    assert metrics.classifier_fid(images, images, evaluation_network) == pytest.approx(0, abs=1e-2)
    floor = metrics.real_floor(digits[0][:1200], evaluation_network)
    noise = metrics.classifier_fid(images, torch.rand(600, 1, 28, 28), evaluation_network)
    assert 0 < floor < noise / 20


def test_fid_grows_as_images_are_shifted_further(evaluation_network, digits):
    images = digits[0][:400]
    small = metrics.classifier_fid(images, torch.roll(images, 2, dims=3), evaluation_network)
    large = metrics.classifier_fid(images, torch.roll(images, 6, dims=3), evaluation_network)
    assert 0 < small < large


def test_a_collapsed_generator_is_visible_in_the_histogram_and_fid(evaluation_network, digits):
    images, labels = digits
    ones = images[labels == 1][:300]
    mixed = images[:300]
    histogram = metrics.class_histogram(ones, evaluation_network)
    assert histogram[1] > 0.9 and histogram.sum() == pytest.approx(1)
    reference = images[300:900]
    assert metrics.classifier_fid(reference, ones, evaluation_network) > 5 * metrics.classifier_fid(
        reference, mixed, evaluation_network)


def test_sample_report_scores_a_collapsed_and_a_healthy_sample_set(evaluation_network, digits):
    images, labels = digits
    ones, mixed, heldout = images[labels == 1][:300], images[:300], images[300:900]
    collapsed = metrics.sample_report(ones, evaluation_network)
    healthy = metrics.sample_report(mixed, evaluation_network, heldout)
    assert "fid" not in collapsed and collapsed["classes_covered"] == 1 and collapsed["histogram_entropy"] < 0.3
    assert healthy["classes_covered"] == 10 and healthy["histogram_entropy"] > 0.9 and healthy["confident"] > 0.8
    assert healthy["fid"] == metrics.classifier_fid(heldout, mixed, evaluation_network)


def test_kid_is_near_zero_for_the_same_distribution(evaluation_network, digits):
    mean, std = metrics.classifier_kid(digits[0][:400], digits[0][400:800], evaluation_network, subset_size=100)
    far, _ = metrics.classifier_kid(digits[0][:400], torch.rand(400, 1, 28, 28), evaluation_network, subset_size=100)
    assert abs(mean) < far / 20


def test_psnr_and_ssim_know_their_fixed_points():
    image = torch.rand(2, 3, 32, 32)
    assert metrics.ssim(image, image) == pytest.approx(1.0, abs=1e-4)
    noisy = (image + 0.1).clamp(0, 1)
    mse = ((noisy - image) ** 2).mean()
    assert metrics.psnr(noisy, image) == pytest.approx(float(10 * torch.log10(1 / mse)), rel=1e-4)


def test_colourfulness_is_zero_for_grey_and_grows_with_saturation():
    grey = torch.rand(2, 1, 16, 16).expand(2, 3, 16, 16)
    assert metrics.colourfulness(grey) == pytest.approx(0.0, abs=1e-12)
    colour = torch.rand(2, 3, 16, 16)
    luma = colour.mean(1, keepdim=True)
    muted = luma + 0.3 * (colour - luma)      # what an L1 colouriser does: the same image, washed out
    assert metrics.colourfulness(muted) == pytest.approx(0.3 * metrics.colourfulness(colour), rel=1e-6)


def test_memorization_score_flags_copies_of_training_images(digits):
    train, heldout = digits[0][:1000], digits[0][1000:1200]
    copies = train[:200] + 0.01 * torch.rand(200, 1, 28, 28)
    assert metrics.memorization_score(copies.clamp(0, 1), train, heldout) < 0.2
    assert 0.7 < metrics.memorization_score(digits[0][1200:1400], train, heldout) < 1.3
