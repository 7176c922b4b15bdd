"""pix2pix: paired image-to-image translation with a U-Net and a PatchGAN.

Notebook 07 (``07_pix2pix.ipynb``). The generator G maps an input image x to an
output y; the discriminator D judges *pairs* (x, y) patch by patch:

    L_cGAN(G, D) = E[log D(x, y)] + E[log(1 - D(x, G(x)))]                    (7.1)
    L_L1(G)      = E[|y - G(x)|_1]                                            (7.2)
    G*           = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G),  lambda = 100 (7.3)

Receptive field of a stack of convolutions (kernel k_l, stride s_l):

    r_L = 1 + sum_l (k_l - 1) prod_{m < l} s_m                                (7.4)

Images are in [0, 1] (the U-Net ends in a sigmoid), so PSNR/SSIM apply directly.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
import torch.nn.functional as F

from ._facades import FACADES_URL, load_facades  # the optional download, out of the way
from ._validate import check_images, check_positive_int
from .gan import discriminator_loss, generator_loss

__all__ = ["UNet", "PatchDiscriminator", "receptive_field", "conv_layers", "receptive_field_gradient",
           "numerical_receptive_field",
           "pix2pix_generator_loss", "pix2pix_discriminator_loss", "sobel_edges", "edge_pairs",
           "to_grayscale", "colorization_pairs", "high_frequency_energy", "cycle_consistency_loss",
           "FACADES_URL", "load_facades"]


# --------------------------------------------------------------------------- models
def _down(cin, cout, norm=True):
    layers = [nn.Conv2d(cin, cout, 4, 2, 1)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers, nn.LeakyReLU(0.2))


def _up(cin, cout):
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.ReLU())


class UNet(nn.Module):
    """Encoder-decoder with skip connections (Ronneberger et al. 2015), as in pix2pix.

    stem conv3 (w) -> depth x [conv(4, 2, 1), doubling channels] -> depth x [convT(4, 2, 1)]
    -> conv3 -> sigmoid. With ``skips=True`` each decoder level concatenates the encoder
    features of the same resolution, so fine detail need not squeeze through the bottleneck;
    ``skips=False`` is the same network without those concatenations (the ablation).
    H and W must be divisible by 2**depth.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: int = 32, depth: int = 2,
                 skips: bool = True):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("width", width),
                            ("depth", depth)):
            check_positive_int(value, name)
        self.depth, self.skips = depth, skips
        self.config = {"in_channels": in_channels, "out_channels": out_channels, "width": width, "depth": depth,
                       "skips": skips}
        channels = [width * 2 ** i for i in range(depth + 1)]          # resolution level i has channels[i]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.LeakyReLU(0.2))
        self.down = nn.ModuleList(_down(channels[i], channels[i + 1], norm=i > 0) for i in range(depth))
        factor = 2 if skips else 1
        self.up = nn.ModuleList(
            _up(channels[i + 1] * (1 if i == depth - 1 else factor), channels[i]) for i in reversed(range(depth)))
        self.head = nn.Sequential(nn.Conv2d(channels[0] * factor, out_channels, 3, padding=1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [self.stem(x)]
        for layer in self.down:
            features.append(layer(features[-1]))
        h = features.pop()
        for layer in self.up:
            h = layer(h)
            skip = features.pop()
            if self.skips:
                h = torch.cat([h, skip], dim=1)
        return self.head(h)


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017): a fully convolutional D that outputs one logit per patch.

    ``D(pair)`` takes [x, y] stacked on channels, ``D(y, x)`` stacks them. n_down x conv(4, 2, 1), then
    conv(4, 1, 1) twice: each logit sees only a receptive-field-sized patch (Eq. 7.4), so D judges local
    texture and sharpness.
    """

    def __init__(self, in_channels: int = 2, width: int = 32, n_down: int = 1):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("width", width), ("n_down", n_down)):
            check_positive_int(value, name)
        self.config = {"in_channels": in_channels, "width": width, "n_down": n_down}
        layers, cin = [], in_channels
        for i in range(n_down):
            layers.append(_down(cin, width * 2 ** i, norm=i > 0))
            cin = width * 2 ** i
        layers += [nn.Conv2d(cin, 2 * cin, 4, 1, 1), nn.BatchNorm2d(2 * cin), nn.LeakyReLU(0.2),
                   nn.Conv2d(2 * cin, 1, 4, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, output: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        pair = output if condition is None else torch.cat([condition, output], dim=1)
        return self.net(pair)


def conv_layers(model: nn.Module) -> list[tuple[int, int]]:
    """(kernel, stride) of every Conv2d in ``model``, in order (for Eq. 7.4)."""
    return [(m.kernel_size[0], m.stride[0]) for m in model.modules() if isinstance(m, nn.Conv2d)]


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Eq. (7.4): r = 1 + sum_l (k_l - 1) * (product of the strides before layer l)."""
    if not layers:
        raise ValueError("need at least one (kernel, stride) layer")
    field, jump = 1, 1
    for kernel, stride in layers:
        check_positive_int(kernel, "kernel")
        check_positive_int(stride, "stride")
        field += (kernel - 1) * jump
        jump *= stride
    return field


def receptive_field_gradient(model: nn.Module, in_channels: int, size: int = 64) -> torch.Tensor:
    """|d out / d input| of the centre output logit, summed over input channels: a (size, size) heat map.

    Its support is the receptive field of Eq. (7.4). The model runs in eval mode (batch norm in train
    mode would mix every pixel through the batch statistics) with float64 so no gradient underflows to
    zero by accident.
    """
    check_positive_int(in_channels, "in_channels")
    check_positive_int(size, "size")
    model = copy.deepcopy(model).double().eval()
    x = torch.randn(1, in_channels, size, size, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(0)).requires_grad_()
    out = model(x)
    h, w = out.shape[-2:]
    out[0, 0, h // 2, w // 2].backward()
    return x.grad.abs().sum((0, 1))


def numerical_receptive_field(model: nn.Module, in_channels: int, size: int = 64) -> int:
    """Width of the input region that affects the centre output: the support of ``receptive_field_gradient``."""
    touched = receptive_field_gradient(model, in_channels, size) > 0
    rows, cols = touched.any(1).nonzero().flatten(), touched.any(0).nonzero().flatten()
    if rows.min() == 0 or cols.min() == 0 or rows.max() == size - 1 or cols.max() == size - 1:
        raise ValueError(f"the receptive field reaches the border of a {size}x{size} input: use a larger size")
    return int(rows.max() - rows.min() + 1)


# --------------------------------------------------------------------------- losses
def pix2pix_discriminator_loss(discriminator: nn.Module, inputs: torch.Tensor, fake: torch.Tensor,
                               target: torch.Tensor) -> torch.Tensor:
    """D's side of Eq. (7.1), to minimise: 1/2 [BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)].

    D always sees the *pair* (the condition x too), and the fake is detached: this step
    updates D only, so no gradient should flow into G.
    """
    real_logits = discriminator(torch.cat([inputs, target], dim=1))
    fake_logits = discriminator(torch.cat([inputs, fake.detach()], dim=1))
    return 0.5 * discriminator_loss(real_logits, fake_logits)      # course_lib.gan: BCE(real, 1) + BCE(fake, 0)


def pix2pix_generator_loss(discriminator: nn.Module, inputs: torch.Tensor, fake: torch.Tensor,
                           target: torch.Tensor, l1_weight: float = 100.0) -> torch.Tensor:
    """Eq. (7.3) for G: BCE(D(x, G(x)), 1) + lambda * mean |G(x) - y|  (non-saturating cGAN + L1)."""
    fake_logits = discriminator(torch.cat([inputs, fake], dim=1))
    adversarial = generator_loss(fake_logits)                      # course_lib.gan: BCE(fake, 1), non-saturating
    return adversarial + l1_weight * (fake - target).abs().mean()


def cycle_consistency_loss(forward_map: nn.Module, backward_map: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """CycleGAN's Eq. (7.6): mean |F(G(a)) - a|, translating there and back must return a."""
    return (backward_map(forward_map(images)) - images).abs().mean()


# --------------------------------------------------------------------------- paired data
_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_edges(images: torch.Tensor, threshold: float | None = None) -> torch.Tensor:
    """Gradient magnitude of grey images (N, 1, H, W) in [0, 1], scaled to [0, 1] per image.

    With ``threshold`` the map is binarised (a thin line drawing, like an edge detector's output).
    """
    check_images(images, channels=(1,), name="images")
    kernels = torch.stack([_SOBEL_X, _SOBEL_X.T]).unsqueeze(1).to(images)
    gradient = F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), kernels)
    magnitude = gradient.pow(2).sum(1, keepdim=True).sqrt()
    magnitude = magnitude / magnitude.amax((1, 2, 3), keepdim=True).clamp_min(1e-8)
    if threshold is not None:
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        magnitude = (magnitude > threshold).to(images)
    return magnitude


def edge_pairs(digits: torch.Tensor, threshold: float = 0.4) -> tuple[torch.Tensor, torch.Tensor]:
    """Task (a): (binary edge map, digit) pairs from digits in [0, 1]."""
    return sobel_edges(digits, threshold), digits


def to_grayscale(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) luma (the course's one luma, ``data.to_luma``, BT.601)."""
    from .data import to_luma

    check_images(images, channels=(3,), name="colour images")
    return to_luma(images)


def colorization_pairs(patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Task (b): (grey patch, colour patch) pairs."""
    return to_grayscale(patches), patches


# --------------------------------------------------------------------------- sharpness
def high_frequency_energy(images: torch.Tensor, cutoff: float = 0.25) -> float:
    """Fraction of each image's spectral energy above ``cutoff`` cycles/pixel (Nyquist = 0.5), averaged.

    The image mean (the DC term) is removed first. Blurry images put less of their energy
    at high frequencies, so a smaller value means a smoother (blurrier) image.
    """
    check_images(images, value_range=(-0.5, 1.5), name="images")
    if not 0 < cutoff < 0.5:
        raise ValueError(f"cutoff must be in (0, 0.5) cycles per pixel, got {cutoff}")
    x = images.double() - images.double().mean((-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs().pow(2)
    fy = torch.fft.fftfreq(x.shape[-2], dtype=torch.float64)
    fx = torch.fft.fftfreq(x.shape[-1], dtype=torch.float64)
    radius = (fy[:, None] ** 2 + fx[None, :] ** 2).sqrt()
    high = (power * (radius > cutoff)).sum((-3, -2, -1))
    total = power.sum((-3, -2, -1)).clamp_min(1e-12)
    return float((high / total).mean())
