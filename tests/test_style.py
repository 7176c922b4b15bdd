"""Specification of course_lib.style and its assignment checks (notebook 08)."""
import io

import pytest
import torch
from PIL import Image

from course_lib import _vgg19_weights, style
from course_lib.checks import style as checks
from helpers import assert_passes_the_reference_and_names_each_mistake


def test_gram_matrix_is_channel_correlation_averaged_over_positions():
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # B=1, C=2, H=1, W=2
    expected = torch.tensor([[[(1 + 4) / 2, (3 + 8) / 2], [(3 + 8) / 2, (9 + 16) / 2]]])
    assert torch.allclose(style.gram_matrix(features), expected)


def test_gram_matrix_ignores_layout_and_image_size():
    features = torch.rand(2, 5, 4, 6)
    shuffled = features.flatten(2)[:, :, torch.randperm(24)].reshape(2, 5, 4, 6)
    assert torch.allclose(style.gram_matrix(features), style.gram_matrix(shuffled), atol=1e-6)
    assert torch.allclose(style.gram_matrix(features), style.gram_matrix(features.repeat(1, 1, 3, 2)), atol=1e-6)


def test_style_loss_is_zero_for_the_same_texture_and_accepts_different_sizes():
    a = torch.rand(1, 4, 5, 5)
    assert style.style_loss([a], [a.repeat(1, 1, 2, 2)]).item() == pytest.approx(0, abs=1e-10)
    assert style.style_loss([a], [torch.rand(1, 4, 7, 3)]).item() > 0


def test_total_variation_of_flat_image_is_zero_and_of_stripes_is_known():
    assert style.total_variation(torch.full((1, 3, 4, 4), 0.3)).item() == 0
    stripes = torch.zeros(1, 1, 4, 4)
    stripes[..., ::2] = 1.0  # horizontal neighbours always differ by 1, vertical never
    assert style.total_variation(stripes).item() == pytest.approx(1.0)


def test_random_extractor_gives_named_multiscale_layers_and_is_deterministic():
    a, b = style.RandomMultiScaleFeatures(seed=0), style.RandomMultiScaleFeatures(seed=0)
    x = torch.rand(1, 3, 32, 32)
    out_a, out_b = a(x), b(x)
    assert list(out_a) == list(a.style_layers)
    assert [v.shape[-1] for v in out_a.values()] == [32, 16, 8, 4]
    assert all(torch.equal(out_a[k], out_b[k]) for k in out_a)
    assert set(a.content_layers) <= set(out_a)


def test_vgg19_features_use_exactly_the_weights_they_are_given_at_gatys_layers():
    """VGG19Features(state dict) -> the convolutions hold those tensors (no random initialisation on the way),
    frozen, with max-pooling replaced by average pooling, and the six named layers come out."""
    from torchvision.models import vgg19

    with torch.device("meta"):
        shapes = {key: value.shape for key, value in vgg19().state_dict().items()}
    generator = torch.Generator().manual_seed(0)
    weights = {key: torch.randn(shape, generator=generator) if key.startswith("features") else torch.empty(shape)
               for key, shape in shapes.items()}  # the classifier's 120 M weights are cut off: never touched
    extractor = style.VGG19Features(weights)
    assert torch.equal(extractor.body[0].weight, weights["features.0.weight"])
    assert torch.equal(extractor.body[28].bias, weights["features.28.bias"])
    assert not any(p.requires_grad for p in extractor.parameters())
    assert not any(isinstance(layer, torch.nn.MaxPool2d) for layer in extractor.body)
    out = extractor(torch.rand(1, 3, 32, 32))
    assert list(out) == ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
    assert out["relu5_1"].shape == (1, 512, 2, 2) and all(torch.isfinite(v).all() for v in out.values())


def test_feature_extractor_runs_offline_in_fast_mode_and_says_which(capsys):
    extractor = style.feature_extractor("auto")
    assert "feature extractor" in capsys.readouterr().out
    if _vgg19_weights.vgg19_weights_cached() is None:
        assert isinstance(extractor, style.RandomMultiScaleFeatures)
    assert not any(p.requires_grad for p in extractor.parameters())
    with pytest.raises(ValueError, match="valid choices"):
        style.feature_extractor("resnet")


@pytest.mark.parametrize("offline", ["1", "on", "yes"])
def test_feature_extractor_never_downloads_when_the_course_is_offline(monkeypatch, offline):
    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.setenv("COURSE_OFFLINE", offline)
    monkeypatch.setattr(_vgg19_weights, "vgg19_weights_cached", lambda: None)
    monkeypatch.setattr(_vgg19_weights, "download_vgg19", lambda timeout_s: pytest.fail("downloaded while offline"))
    assert isinstance(style.feature_extractor("auto", verbose=False), style.RandomMultiScaleFeatures)


def test_stylize_lowers_the_style_loss_with_adam_and_lbfgs():
    extractor = style.RandomMultiScaleFeatures(levels=2, filters_per_size=8, content_level=1)
    content, texture = torch.rand(3, 24, 24), torch.rand(3, 24, 24) ** 3
    for optimizer, steps in (("adam", 15), ("lbfgs", 5)):
        image, history = style.stylize(content, texture, extractor, steps=steps, optimizer=optimizer,
                                       log_every=1, verbose=False)
        assert image.shape == content.shape and image.min() >= 0 and image.max() <= 1
        assert history["style"][-1] < history["style"][0]
        assert {"content", "style", "tv", "total", "seconds"} <= set(history.names())


def test_stylize_evaluates_the_loss_once_per_adam_step_and_twice_per_lbfgs_step():
    """The docstring's count: L-BFGS with max_iter=1 evaluates at x and at one trial point, no more."""
    extractor = style.RandomMultiScaleFeatures(levels=1, filters_per_size=4, content_level=0)
    calls = []
    extractor.register_forward_hook(lambda module, inputs, output: calls.append(1))
    content, texture = torch.rand(3, 16, 16), torch.rand(3, 16, 16)
    for optimizer, per_step in (("adam", 1), ("lbfgs", 2)):
        calls.clear()
        style.stylize(content, texture, extractor, steps=3, optimizer=optimizer, verbose=False)
        assert len(calls) == 2 + 3 * per_step  # the content and style targets, then the steps


def test_stylize_rejects_unknown_optimizer_and_bad_images():
    extractor = style.RandomMultiScaleFeatures(levels=1, content_level=0)
    with pytest.raises(ValueError, match="adam"):
        style.stylize(torch.rand(3, 8, 8), torch.rand(3, 8, 8), extractor, optimizer="sgd")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        style.stylize(torch.rand(3, 8, 8) * 255, torch.rand(3, 8, 8), extractor)


def test_resize_square_gives_three_channel_square_images():
    out = style.resize_square(torch.rand(1, 30, 50), 16)
    assert out.shape == (3, 16, 16)


def _png_bytes(color=(255, 0, 0)):
    buffer = io.BytesIO()
    Image.new("RGB", (10, 6), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_decode_upload_reads_ipywidgets_8_and_7_values_and_raw_bytes():
    data = _png_bytes()
    for value in ({"name": "a.png", "content": memoryview(data)},), {"a.png": {"content": data}}, data:
        image = style.decode_upload(value)
        assert image.shape == (3, 6, 10)
        assert torch.allclose(image[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert style.decode_upload(()) is None
    with pytest.raises(ValueError, match="not an image"):
        style.decode_upload(b"not an image")


def test_widget_callback_stylises_a_named_photo_with_an_uploaded_or_named_style():
    extractor = style.RandomMultiScaleFeatures(levels=2, filters_per_size=4, content_level=1)
    c, s, result, history = style.stylize_with_settings("chelsea", style.decode_upload(_png_bytes()),
                                                        style_weight=100.0, size=16, steps=3, extractor=extractor)
    assert c.shape == s.shape == result.shape == (3, 16, 16)
    _, s2, _, _ = style.stylize_with_settings("chelsea", "brick", 100.0, 16, 2, extractor)
    assert s2.shape == (3, 16, 16)
    with pytest.raises(ValueError, match="brick"):
        style.style_image("marble")


@pytest.mark.parametrize("check, reference, mistakes", [
    (checks.check_gram_matrix, style.gram_matrix, checks.GRAM_MISTAKES),
    (checks.check_style_loss, style.style_loss, checks.STYLE_MISTAKES),
], ids=["gram_matrix", "style_loss"])
def test_each_check_passes_the_reference_and_names_every_listed_mistake(check, reference, mistakes):
    assert_passes_the_reference_and_names_each_mistake(check, reference, mistakes)


def test_denoiser_loss_check_accepts_the_reference_and_names_each_mistake():
    from course_lib.enhance import residual_denoiser_loss

    assert checks.check_residual_denoiser_loss(residual_denoiser_loss).passed
    for mistake in checks.DENOISER_MISTAKES:
        result = checks.check_residual_denoiser_loss(mistake.implementation)
        assert not result.passed and result.diagnosis == mistake.name, (mistake.name, result)


def test_checks_report_unimplemented_and_missing_functions():
    def todo(features):
        raise NotImplementedError()

    assert checks.check_gram_matrix(todo).diagnosis == "not_implemented"
    assert checks.check_gram_matrix(None).diagnosis == "not_a_function"


# --------------------------------------------------------------------------- Exercise 4 of the style assignment
class _Box3(torch.nn.Module):
    """A fixed 3x3 box blur, returned as is (``as_noise=False``: it outputs a clean-image estimate) or as the
    residual ``y - blur(y)`` (``as_noise=True``: it predicts the noise, so y - R(y) is the blurred image)."""

    def __init__(self, as_noise):
        super().__init__()
        self.blur = torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="replicate", bias=False)
        torch.nn.init.constant_(self.blur.weight, 1 / 9)
        self.as_noise = as_noise

    def forward(self, noisy):
        return noisy - self.blur(noisy) if self.as_noise else self.blur(noisy)


def test_the_trained_denoiser_check_passes_a_noise_predictor_and_names_a_clean_image_predictor():
    """A box blur beats sigma = 25/255 noise by a few dB: as R(y) = y - blur(y) it passes, as R(y) = blur(y)
    (the network trained on the clean image) y - R(y) is worse than the noise, and the check says why."""
    blur_as_noise = checks.check_trained_denoiser(_Box3(as_noise=True), min_gain_db=2.0, crop=96)
    assert blur_as_noise.passed and min(blur_as_noise.details["gains"].values()) > 2.0
    blur_as_image = checks.check_trained_denoiser(_Box3(as_noise=False), min_gain_db=2.0, crop=96)
    assert not blur_as_image.passed and blur_as_image.diagnosis == "predicts_clean"
    assert "target is n" in blur_as_image.message and "Eq. 9.2" in blur_as_image.message


def test_the_assignment_denoiser_trained_at_learning_rate_zero_fails_the_quality_check():
    """The assignment's training cell at the fast budget, with lr 0: R(y) stays 0, so y - R(y) gains nothing."""
    from course_lib import budgets
    from course_lib.data import PhotoPatches
    from course_lib.enhance import ResidualDenoiser, residual_denoiser_loss
    from course_lib.training import fit, seed_everything

    budget, sigma = budgets("style_assignment", verbose=False), 25 / 255
    seed_everything(0)
    model = ResidualDenoiser(channels=1, width=32, depth=5)
    fit(model, PhotoPatches("train", budget.patch_size, n_patches=2000, colour=False, seed=0),
        lambda m, clean: residual_denoiser_loss(m, clean, sigma * torch.randn_like(clean)),
        optimizer=torch.optim.Adam(model.parameters(), lr=0.0), steps=budget.steps, batch_size=16, desc="lr 0")
    result = checks.check_trained_denoiser(model, budget.min_gain_db, sigma=sigma, crop=budget.eval_crop)
    assert not result.passed and result.diagnosis == "too_little_gain"
    assert all(gain == pytest.approx(0.0, abs=1e-6) for gain in result.details["gains"].values())
