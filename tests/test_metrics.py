"""Specification of course_lib.metrics on cases with known answers."""
import pytest
import torch

from course_lib import metrics, reference
from course_lib.data import load_mnist


@pytest.fixture(scope="module")
def protocol(evaluation_network):
    """evaluate_samples' held-out sets, made smaller so that "samples" can be more real, unseen digits:
    real = the first 250 test digits, other_real = the other 250, and the 500 validation digits play the samples."""
    test, train = load_mnist("test").tensors[0], load_mnist("train").tensors[0]
    return {"real": test[:250], "other_real": test[250:], "train": train,
            "networks": {"evaluation_cnn": evaluation_network, "second_cnn": reference.load("second_cnn")}}


@pytest.fixture(scope="module")
def unseen_digits():
    return load_mnist("val").tensors[0]


@pytest.fixture(scope="module")
def unseen_report(protocol, unseen_digits):
    """evaluate_samples on 250 real digits no network was trained on (computed once for the specs that read it)."""
    return metrics.evaluate_samples(unseen_digits, **protocol)


@pytest.fixture(scope="module")
def noise_report(protocol):
    return metrics.evaluate_samples(torch.rand(250, 1, 28, 28, generator=torch.Generator().manual_seed(0)), **protocol)


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


def test_unseen_real_digits_score_at_their_floor_with_precision_and_recall_near_one(unseen_report):
    report = unseen_report
    assert report["n"] == 250 and report["classes_covered"] == 10 and report["confident"] > 0.9
    assert 0.8 < report["memorization"] < 1.25
    for extractor in ("evaluation_cnn", "second_cnn"):
        scores = report[extractor]
        assert 0.4 < scores["fid"] / scores["fid_floor"] < 2.5, scores  # FIDs of 250 real vs 250 real vary ~2x
        assert abs(scores["kid"] - scores["kid_floor"]) < 3 * scores["kid_std"], scores
        assert scores["precision"] > 0.8 and scores["recall"] > 0.8, scores


def test_mode_collapse_one_digit_repeated_has_low_recall_and_a_fid_far_above_the_floor(protocol, unseen_digits):
    report = metrics.evaluate_samples(unseen_digits[:1].repeat(250, 1, 1, 1), **protocol)
    assert report["classes_covered"] == 1
    for extractor in ("evaluation_cnn", "second_cnn"):
        scores = report[extractor]
        assert scores["recall"] < 0.05 < 0.8 < scores["recall_floor"], scores
        assert scores["fid"] > 10 * scores["fid_floor"], scores


def test_noise_has_low_precision(noise_report):
    for extractor in ("evaluation_cnn", "second_cnn"):
        assert noise_report[extractor]["precision"] < 0.2 < 0.8 < noise_report[extractor]["precision_floor"], \
            noise_report[extractor]


def test_n_is_the_same_on_both_sides_and_later_samples_are_not_scored(protocol, unseen_digits):
    report = metrics.evaluate_samples(unseen_digits[:200], **protocol)
    assert report["n"] == 200  # 200 samples against 200 real digits, and a floor of 200 against the same 200
    assert report["evaluation_cnn"]["fid_floor"] == pytest.approx(metrics.classifier_fid(
        protocol["real"][:200], protocol["other_real"][:200], protocol["networks"]["evaluation_cnn"]))
    with_noise_after = metrics.evaluate_samples(torch.cat([unseen_digits[:200], torch.rand(300, 1, 28, 28)]), 200,
                                                **protocol)
    assert with_noise_after == report


def test_copies_of_training_digits_have_a_memorization_score_well_below_one(protocol):
    copies = (protocol["train"][:250] + 0.01 * torch.rand(250, 1, 28, 28)).clamp(0, 1)
    assert metrics.evaluate_samples(copies, **protocol)["memorization"] < 0.2


def test_the_table_puts_the_floor_first_and_one_row_per_model(unseen_report, noise_report):
    reports = {"unseen digits": unseen_report, "noise": noise_report}
    lines = metrics.evaluation_table(reports).splitlines()
    assert lines[0].startswith("n = 250 per side") and "second_cnn" in lines[0]
    assert [line.split("  ")[0] for line in lines[2:]] == ["real vs real (floor)", "unseen digits", "noise"]
    assert f"{reports['noise']['evaluation_cnn']['fid']:.2f}" in lines[4]


def test_the_table_keeps_its_columns_under_a_long_model_name(unseen_report):
    lines = metrics.evaluation_table({"a model name longer than the column, seed 0": unseen_report,
                                      "short": unseen_report}).splitlines()
    assert len(lines[3]) == len(lines[4]) and lines[3][-120:] == lines[4][-120:]  # the same scores, in the same columns


def test_the_second_extractor_is_another_architecture_trained_apart(protocol):
    first, second = protocol["networks"]["evaluation_cnn"], protocol["networks"]["second_cnn"]
    assert isinstance(second, metrics.SecondDigitClassifier) and not isinstance(first, metrics.SecondDigitClassifier)
    assert not any(isinstance(layer, torch.nn.BatchNorm2d) for layer in second.modules())
    assert second.config["feature_dim"] != first.config["feature_dim"]


def test_the_hand_written_fid_and_kid_agree_with_torchmetrics_on_the_same_features():
    """Eqs. (3.7) and (3.8) are written out in metrics for the course; torchmetrics' own formulas are the reference."""
    from torchmetrics.image.fid import _compute_fid
    from torchmetrics.image.kid import poly_mmd

    from course_lib.metrics import _kid, frechet_distance

    generator = torch.Generator().manual_seed(0)
    real = torch.randn(300, 16, generator=generator, dtype=torch.float64)
    fake = 1.3 * torch.randn(300, 16, generator=generator, dtype=torch.float64) + 0.2
    expected_fid = _compute_fid(real.mean(0), real.T.cov(), fake.mean(0), fake.T.cov())
    assert abs(frechet_distance(real, fake) - float(expected_fid)) < 1e-9
    kid_of_one_subset_holding_everything = _kid(real, fake, subset_size=300, subsets=1, seed=0)[0]
    assert abs(kid_of_one_subset_holding_everything - float(poly_mmd(real, fake, degree=3, coef=1.0))) < 1e-9
