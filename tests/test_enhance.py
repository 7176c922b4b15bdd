"""Specification of course_lib.enhance (notebook 09)."""
import pytest
import torch

from course_lib import enhance
from helpers import train_a_few_steps


def test_noise_has_the_requested_standard_deviation_and_is_reproducible():
    clean = torch.full((1, 1, 64, 64), 0.5)
    a = enhance.add_noise(clean, 25 / 255, torch.Generator().manual_seed(0))
    b = enhance.add_noise(clean, 25 / 255, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert (a - clean).std().item() == pytest.approx(25 / 255, rel=0.05)
    with pytest.raises(ValueError, match="25/255"):
        enhance.add_noise(clean, 25, None)


def test_untrained_denoiser_and_sr_start_from_identity_and_bicubic():
    noisy = torch.rand(2, 1, 16, 16)
    assert torch.equal(enhance.ResidualDenoiser(width=8, depth=3)(noisy), torch.zeros_like(noisy))
    low = torch.rand(1, 1, 8, 8)
    for scale in (2, 3):
        model = enhance.SubPixelSR(scale=scale, width=8, depth=3)
        assert torch.allclose(model(low), enhance.bicubic_upscale(low, scale))
        assert model(low).shape == (1, 1, 8 * scale, 8 * scale)


def test_residual_denoiser_loss_decreases_on_a_tiny_batch():
    torch.manual_seed(0)
    model = enhance.ResidualDenoiser(width=16, depth=4)
    clean = torch.rand(4, 1, 16, 16)
    noise = 0.1 * torch.randn_like(clean)
    losses = train_a_few_steps(model, lambda _: enhance.residual_denoiser_loss(model, clean, noise), 30, 3e-3)
    assert losses[0] == pytest.approx(0.01, rel=0.2)  # an untrained network scores sigma^2
    assert losses[-1] < 0.5 * losses[0]


def test_denoiser_and_colouriser_reject_sizes_they_cannot_unshuffle_with_a_hint():
    with pytest.raises(ValueError, match=r"even.*multiple=2"):
        enhance.ResidualDenoiser(width=4, depth=3).denoise(torch.rand(1, 1, 7, 8))
    with pytest.raises(ValueError, match=r"multiples of 4.*multiple=4"):
        enhance.Colouriser(width=4).colourise(torch.rand(1, 1, 18, 16))


def test_downscale_checks_scale_and_divisibility():
    assert enhance.downscale(torch.rand(1, 1, 12, 12), 3).shape == (1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"valid choices: 2, 3, 4"):
        enhance.downscale(torch.rand(1, 1, 12, 12), 5)
    with pytest.raises(ValueError, match="multiples"):
        enhance.downscale(torch.rand(1, 1, 13, 12), 2)


def test_center_crop_is_central_and_rounded_to_a_multiple():
    image = torch.arange(100.0).view(1, 10, 10)
    crop = enhance.center_crop(image, 7, multiple=3)
    assert crop.shape == (1, 6, 6) and crop[0, 0, 0] == 22


def test_ycbcr_round_trip_and_grey_has_neutral_chroma():
    rgb = torch.rand(2, 3, 8, 8)
    assert torch.allclose(enhance.ycbcr_to_rgb(enhance.rgb_to_ycbcr(rgb)), rgb, atol=1e-5)
    grey = torch.full((1, 3, 4, 4), 0.3)
    assert torch.allclose(enhance.rgb_to_ycbcr(grey)[:, 1:], torch.full((1, 2, 4, 4), 0.5), atol=1e-6)


def test_colouriser_and_lookup_baseline_output_rgb_images():
    luma = torch.rand(1, 1, 16, 16)
    assert enhance.Colouriser(width=8).eval().colourise(luma).shape == (1, 3, 16, 16)
    lookup = enhance.LuminanceChromaLookup(bins=8).fit(torch.rand(2, 3, 16, 16))
    out = lookup.colourise(luma)
    assert out.shape == (1, 3, 16, 16) and out.min() >= 0 and out.max() <= 1


def test_classical_denoisers_improve_a_noisy_smooth_image_and_tuning_picks_from_the_grid():
    clean = torch.linspace(0.2, 0.8, 32).view(1, 1, 1, 32).expand(2, 1, 32, 32).contiguous()
    noisy = enhance.add_noise(clean, 0.1, torch.Generator().manual_seed(0))
    from course_lib.metrics import psnr

    for method, (_, grid) in enhance.CLASSICAL_DENOISERS.items():
        out = enhance.classical_denoise(method, noisy, 0.1, grid[len(grid) // 2])
        assert psnr(out, clean) > psnr(noisy.clamp(0, 1), clean) + 3, method
    best, scores = enhance.tune_classical("total variation", clean, noisy, 0.1)
    assert best in enhance.CLASSICAL_DENOISERS["total variation"][1] and scores[best] == max(scores.values())
    with pytest.raises(ValueError, match="non-local means"):
        enhance.classical_denoise("bm3d", noisy, 0.1, 1.0)


def test_score_table_reports_each_photo_and_the_average():
    target = [torch.rand(1, 16, 16) for _ in range(2)]
    table = enhance.score_table({"perfect": target, "grey": [torch.full_like(t, 0.5) for t in target]},
                                target, ["a", "b"])
    assert set(table["grey"]) == {"a", "b", "average"}
    assert table["perfect"]["average"][1] == pytest.approx(1.0, abs=1e-4)
    assert "average" in enhance.format_table(table)


def test_noise_slider_callback_compares_every_method_at_the_chosen_level():
    clean = torch.rand(1, 24, 24)
    out = enhance.compare_denoisers_at(30, clean, enhance.ResidualDenoiser(width=4, depth=3),
                                       {"total variation": 1.0})
    assert set(out) == {"noisy", "learned (trained at 25)", "total variation"}
    assert all(image.shape == (1, 24, 24) for _, image in out.values())
    with pytest.raises(ValueError, match="0-255"):
        enhance.compare_denoisers_at(0, clean, enhance.ResidualDenoiser(width=4, depth=3), {})


def test_wavelet_denoiser_removes_part_of_the_noise():
    from course_lib.enhance import wavelet_denoise
    from course_lib.metrics import psnr

    clean = torch.linspace(0, 1, 64).repeat(64, 1)[None, None]
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    restored = torch.from_numpy(wavelet_denoise(noisy[0, 0].double().numpy(), 0.1, factor=0.5)).float()[None, None]
    assert psnr(restored.clamp(0, 1), clean) > psnr(noisy.clamp(0, 1), clean) + 3


def test_fit_steps_a_learning_rate_scheduler_once_per_optimizer_step():
    from course_lib.training import fit

    model = torch.nn.Conv2d(1, 1, 3, padding=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    data = torch.utils.data.TensorDataset(torch.rand(8, 1, 6, 6))
    fit(model, data, lambda m, batch: m(batch[0]).pow(2).mean(), optimizer=optimizer, scheduler=scheduler,
        steps=3, batch_size=4)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 3)
