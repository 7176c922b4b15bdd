"""Checks for the style-transfer assignment (solutions/08_style_assignment.ipynb)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import enhance, style
from ..data import load_photo, photo_names
from .core import CheckResult, Mistake, check_function, reported, wrong_kind

__all__ = ["check_gram_matrix", "check_style_loss", "check_residual_denoiser_loss", "check_trained_denoiser"]


def _feature_inputs(generator):
    b = int(torch.randint(1, 3, (1,), generator=generator))
    c = int(torch.randint(2, 6, (1,), generator=generator))
    h = int(torch.randint(3, 7, (1,), generator=generator))
    w = int(torch.randint(3, 7, (1,), generator=generator))
    return (torch.rand(b, c, h, w, generator=generator),)


def _flat(f):
    return f.reshape(f.shape[0], f.shape[1], -1)


GRAM_MISTAKES = [
    Mistake("not_normalised", lambda f: _flat(f) @ _flat(f).transpose(1, 2),
            "not normalised: divide F F^T by the number of positions H*W (Eq. 8.2), otherwise the style "
            "loss grows with the image size and the style weight means something different at every size."),
    Mistake("transposed", lambda f: _flat(f).transpose(1, 2) @ _flat(f) / (f.shape[2] * f.shape[3]),
            "transposes the wrong way round: F^T F is (H*W) x (H*W) and compares positions; the Gram "
            "matrix is F F^T, (C x C), comparing channels."),
    Mistake("normalised_by_chw", lambda f: _flat(f) @ _flat(f).transpose(1, 2) / (f.shape[1] * f.shape[2] * f.shape[3]),
            "divided by C*H*W: Eq. (8.2) averages over the H*W positions only."),
    Mistake("no_batch", lambda f: _flat(f)[0] @ _flat(f)[0].T / (f.shape[2] * f.shape[3]),
            "keep the batch dimension: return (B, C, C), one Gram matrix per image (use transpose(1, 2))."),
]


def check_gram_matrix(student) -> CheckResult:
    """Student's gram_matrix(features (B, C, H, W)) -> (B, C, C) vs Eq. (8.2)."""
    return check_function(student, style.gram_matrix, _feature_inputs, GRAM_MISTAKES, name="gram_matrix",
                          trials=4)


def _style_inputs(generator):
    layers = int(torch.randint(2, 4, (1,), generator=generator))
    generated, targets = [], []
    for _ in range(layers):
        c = int(torch.randint(2, 5, (1,), generator=generator))
        h = int(torch.randint(3, 6, (1,), generator=generator))
        generated.append(torch.rand(1, c, h, h, generator=generator))
        targets.append(torch.rand(1, c, h, h, generator=generator))  # same size, so mistakes stay comparable
    weights = (torch.rand(layers, generator=generator) + 0.5).tolist()
    return generated, targets, weights


def _reference_style_loss(generated, targets, weights):
    return style.style_loss(generated, targets, weights)


def _sum(values):
    return torch.stack(list(values)).sum()


G = style.gram_matrix
STYLE_MISTAKES = [
    Mistake("compares_features", lambda g, s, w: _sum(wi * F.mse_loss(a, b) for wi, a, b in zip(w, g, s)),
            "you compared the feature maps themselves (that is the content loss, Eq. 8.1); the style loss compares "
            "their Gram matrices, which forget where features are."),
    Mistake("no_layer_weights", lambda g, s, w: _sum(F.mse_loss(G(a), G(b)) for a, b in zip(g, s)),
            "each layer's term must be multiplied by its weight w_l (Eq. 8.3)."),
    Mistake("sum_not_mean", lambda g, s, w: _sum(wi * ((G(a) - G(b)) ** 2).sum() for wi, a, b in zip(w, g, s)),
            "use the mean squared difference of the Gram entries (divide by C^2), not the sum."),
    Mistake("last_layer_only", lambda g, s, w: w[-1] * F.mse_loss(G(g[-1]), G(s[-1])),
            "only the last layer counts: sum the terms of every style layer."),
    Mistake("unnormalised_gram", lambda g, s, w: _sum(
        wi * F.mse_loss(_flat(a) @ _flat(a).transpose(1, 2), _flat(b) @ _flat(b).transpose(1, 2))
        for wi, a, b in zip(w, g, s)),
            "your Gram matrices are not divided by H*W: use your gram_matrix from exercise 1 (Eq. 8.2)."),
]


def check_style_loss(student) -> CheckResult:
    """Student's style_loss(generated, targets, weights) (lists of feature maps) vs Eq. (8.3)."""
    return check_function(student, _reference_style_loss, _style_inputs, STYLE_MISTAKES, name="style_loss",
                          trials=3)


class _TinyNet(nn.Module):
    """A fixed random 1-layer network: deterministic, so losses can be compared exactly."""

    def __init__(self, seed):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.copy_(0.3 * torch.randn(self.conv.weight.shape, generator=generator))
            self.conv.bias.copy_(0.1 * torch.randn(1, generator=generator))

    def forward(self, x):
        return self.conv(x)


def _denoiser_inputs(generator):
    clean = torch.rand(2, 1, 8, 8, generator=generator)
    noise = 0.1 * torch.randn(clean.shape, generator=generator)
    return _TinyNet(int(torch.randint(0, 10_000, (1,), generator=generator))), clean, noise


DENOISER_MISTAKES = [
    Mistake("predicts_clean", lambda m, x, n: F.mse_loss(m(x + n), x),
            "the network is described as predicting the NOISE (x_hat = y - R(y)), but you trained it to output "
            "the clean image (the same loss as comparing y - R(y) with n): the target must be the noise n "
            "(Eq. 9.2). Conversely, a network meant to output the clean image must not be trained on n."),
    Mistake("noise_sign", lambda m, x, n: F.mse_loss(m(x + n), -n),
            "wrong sign: the target is n = y - x, not x - y."),
    Mistake("clean_input", lambda m, x, n: F.mse_loss(m(x), n),
            "the network must see the NOISY image y = x + n, not the clean one."),
    Mistake("noise_input", lambda m, x, n: F.mse_loss(m(n), n),
            "the network must see the noisy image y = x + n, not the noise alone."),
]


def check_residual_denoiser_loss(student) -> CheckResult:
    """Student's residual_denoiser_loss(model, clean, noise) vs Eq. (9.2)."""
    return check_function(student, enhance.residual_denoiser_loss, _denoiser_inputs, DENOISER_MISTAKES,
                          name="residual_denoiser_loss", trials=3)


def _psnr(prediction, target) -> float:
    """10 log10(1 / MSE) in dB, with the prediction clipped to [0, 1] like the course's metrics.psnr."""
    return 10 * torch.log10(1 / ((prediction.clamp(0, 1) - target) ** 2).mean()).item()


def check_trained_denoiser(model, min_gain_db: float, sigma: float = 25 / 255, crop: int = 192,
                           verbose: bool = True) -> CheckResult:
    """PSNR gain of a trained residual denoiser over the noisy input, on the held-out photos, against ``min_gain_db``.

    ``model`` predicts the noise, so the denoised image is x_hat = y - model(y) (Eq. 9.2), clipped to [0, 1];
    y = x + n with n ~ N(0, sigma^2) drawn from a fixed seed, on a centre ``crop`` of each grey held-out photo.
    When x_hat falls short but model(y) itself beats the noisy input by ``min_gain_db``, the network was trained
    to output the clean image instead of the noise, and the result says so.
    """
    name = "trained denoiser"
    refused = wrong_kind(model, nn.Module, "your trained nn.Module (the denoiser R)", name, verbose=verbose)
    if refused is not None:
        return refused
    model.eval()
    generator = torch.Generator().manual_seed(0)
    gains, output_gains = {}, {}
    with torch.no_grad():
        for photo in photo_names("heldout"):
            clean = enhance.center_crop(load_photo(photo, colour=False), crop, multiple=2)[None]
            noisy = enhance.add_noise(clean, sigma, generator)
            predicted = model(noisy)
            noisy_psnr = _psnr(noisy, clean)
            gains[photo] = _psnr(noisy - predicted, clean) - noisy_psnr
            output_gains[photo] = _psnr(predicted, clean) - noisy_psnr
    gain = sum(gains.values()) / len(gains)
    shown = ", ".join(f"{photo} {value:+.2f} dB" for photo, value in gains.items())
    if gain >= min_gain_db:
        result = CheckResult(True, f"y - R(y) beats the noisy photos by {gain:+.2f} dB on average ({shown}; "
                                   f"needed: {min_gain_db:+.1f} dB).", name, "correct", {"gains": gains})
    elif sum(output_gains.values()) / len(output_gains) >= min_gain_db:
        result = CheckResult(False, f"y - R(y) is {gain:+.2f} dB from the noisy photos, but R(y) itself is a denoised "
                                    "image: the loss trained the network to output the clean image. Here R predicts "
                                    "the noise, so its target is n, and the denoised image is y - R(y) (Eq. 9.2).",
                             name, "predicts_clean", {"gains": gains})
    else:
        result = CheckResult(False, f"y - R(y) beats the noisy photos by only {gain:+.2f} dB on average ({shown}); "
                                    f"needed: {min_gain_db:+.1f} dB. If the check of your loss passes, look at the "
                                    "learning rate.", name, "too_little_gain", {"gains": gains})
    return reported(result, verbose)
