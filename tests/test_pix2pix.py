"""Specification of course_lib.pix2pix: U-Net, PatchGAN, receptive fields, losses, paired data, sharpness."""
import pytest
import torch
import torch.nn.functional as F

from course_lib.pix2pix import (PatchDiscriminator, UNet, colorization_pairs, conv_layers, cycle_consistency_loss,
                                edge_pairs, high_frequency_energy, numerical_receptive_field, receptive_field_gradient,
                                pix2pix_discriminator_loss, pix2pix_generator_loss, receptive_field, sobel_edges)
from helpers import train_a_few_steps


@pytest.mark.parametrize("skips", [True, False])
def test_unet_keeps_the_size_and_outputs_in_unit_range(skips):
    model = UNet(1, 3, width=8, depth=3, skips=skips)
    out = model(torch.rand(2, 1, 32, 32))
    assert out.shape == (2, 3, 32, 32) and 0 <= out.min() and out.max() <= 1


def test_unet_skips_carry_detail_past_a_dead_bottleneck():
    """Zero the deepest encoder layer: with skips the output still depends on the input, without it does not."""
    torch.manual_seed(0)
    for skips in (True, False):
        model = UNet(1, 1, width=4, depth=2, skips=skips).double().eval()
        model.down[-1][0].weight.data.zero_()
        model.down[-1][0].bias.data.zero_()
        x = torch.rand(1, 1, 16, 16, dtype=torch.float64, requires_grad=True)
        model(x)[0, 0, 8, 8].backward()
        assert (x.grad.abs().sum() > 0) == skips


def test_receptive_field_formula_matches_the_paper_70x70_patchgan():
    assert receptive_field([(4, 2), (4, 2), (4, 2), (4, 1), (4, 1)]) == 70
    assert receptive_field([(3, 1)] * 3) == 7


@pytest.mark.parametrize("n_down", [1, 2, 3])
def test_patchgan_receptive_field_equals_gradient_support(n_down):
    discriminator = PatchDiscriminator(in_channels=2, width=4, n_down=n_down)
    analytic = receptive_field(conv_layers(discriminator))
    assert numerical_receptive_field(discriminator, in_channels=2, size=96) == analytic


@pytest.mark.parametrize("n_down", [1, 2, 3])
def test_receptive_field_gradient_fills_exactly_an_analytic_square(n_down):
    """The heat map of one logit's input gradient is non-zero on a full r x r square, r from Eq. (7.4), and zero elsewhere."""
    discriminator = PatchDiscriminator(in_channels=2, width=4, n_down=n_down)
    analytic = receptive_field(conv_layers(discriminator))
    heat = receptive_field_gradient(discriminator, in_channels=2, size=96)
    assert heat.shape == (96, 96) and heat.min() >= 0
    rows, cols = (heat > 0).any(1).nonzero().flatten(), (heat > 0).any(0).nonzero().flatten()
    top, left = rows.min().item(), cols.min().item()
    assert len(rows) == len(cols) == analytic
    assert (heat[top:top + analytic, left:left + analytic] > 0).all(), "a hole inside the receptive field"
    assert (heat > 0).sum() == analytic ** 2


def test_patchgan_gives_one_logit_per_patch_of_the_stacked_pair():
    discriminator = PatchDiscriminator(in_channels=2, width=4, n_down=1)
    x, y = torch.rand(3, 1, 32, 32), torch.rand(3, 1, 32, 32)
    assert discriminator(torch.cat([x, y], 1)).shape == (3, 1, 14, 14)
    assert torch.equal(discriminator(y, x), discriminator(torch.cat([x, y], 1))), "D(y, x) stacks the pair [x, y]"


def test_generator_loss_is_adversarial_plus_lambda_l1():
    discriminator = PatchDiscriminator(in_channels=2, width=4).eval()
    x, fake, y = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    logits = discriminator(torch.cat([x, fake], 1))
    adversarial = -F.logsigmoid(logits).mean()
    expected = adversarial + 100 * (fake - y).abs().mean()
    assert torch.isclose(pix2pix_generator_loss(discriminator, x, fake, y), expected, atol=1e-5)
    assert torch.isclose(pix2pix_generator_loss(discriminator, x, fake, y, l1_weight=0), adversarial, atol=1e-6)


def test_discriminator_loss_sends_no_gradient_to_the_generator():
    generator, discriminator = UNet(1, 1, width=4), PatchDiscriminator(in_channels=2, width=4)
    x, y = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    loss = pix2pix_discriminator_loss(discriminator, x, generator(x), y)
    loss.backward()
    assert all(p.grad is None for p in generator.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in discriminator.parameters())


def test_l1_training_on_a_tiny_batch_lowers_the_l1_error():
    torch.manual_seed(0)
    model = UNet(1, 1, width=8, depth=2)
    x, y = edge_pairs(torch.rand(8, 1, 16, 16))
    losses = train_a_few_steps(model, lambda _: (model(x) - y).abs().mean(), 30, 3e-3)
    assert losses[-1] < 0.6 * losses[0]


def test_sobel_edges_of_a_square_lie_on_its_border():
    image = torch.zeros(1, 1, 12, 12)
    image[..., 4:8, 4:8] = 1
    edges = sobel_edges(image, threshold=0.5)
    assert edges[0, 0, 5:7, 5:7].sum() == 0 and edges[0, 0, 0:2, 0:2].sum() == 0 and edges[0, 0, 4, 5] == 1
    assert edge_pairs(image)[1] is image


def test_colorization_pairs_use_luma_weights():
    colour = torch.rand(2, 3, 8, 8)
    grey, target = colorization_pairs(colour)
    assert grey.shape == (2, 1, 8, 8) and target is colour
    assert torch.allclose(grey[0, 0, 0, 0], 0.299 * colour[0, 0, 0, 0] + 0.587 * colour[0, 1, 0, 0]
                          + 0.114 * colour[0, 2, 0, 0])   # BT.601, the course's one luma (data.to_luma)


def test_high_frequency_energy_falls_when_images_are_blurred():
    images = torch.rand(4, 1, 32, 32)
    blurred = F.avg_pool2d(images, 3, 1, 1)
    assert high_frequency_energy(blurred) < 0.5 * high_frequency_energy(images)
    stripes = torch.tensor([0.0, 1.0]).repeat(16).expand(1, 1, 32, 32).contiguous()   # Nyquist: all energy high
    assert high_frequency_energy(stripes) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cutoff"):
        high_frequency_energy(images, cutoff=0.7)


def test_cycle_consistency_is_zero_for_inverse_maps():
    images = torch.rand(2, 1, 8, 8)
    assert cycle_consistency_loss(lambda x: 1 - x, lambda x: 1 - x, images) == 0
    assert cycle_consistency_loss(lambda x: x / 2, lambda x: x, images) > 0


@pytest.mark.parametrize("has_data_filter", [True, False], ids=["python with tarfile filters", "python 3.10.0-3.10.11"])
def test_the_facades_archive_is_extracted_safely_on_every_supported_python(tmp_path, monkeypatch, has_data_filter):
    import io
    import tarfile

    from course_lib._network import extract_safely as _extract_safely

    if not has_data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("facades/val/1.jpg", "../escaped.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"ok"))
    (tmp_path / "out").mkdir()
    with tarfile.open(archive) as tar, pytest.raises(tarfile.TarError):
        _extract_safely(tar, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("facades/val/1.jpg")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
    with tarfile.open(archive) as tar:
        _extract_safely(tar, tmp_path / "out")
    assert (tmp_path / "out" / "facades" / "val" / "1.jpg").read_bytes() == b"ok"
