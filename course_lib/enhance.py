"""Image enhancement: degradations, three small networks, classical baselines.

Equations are numbered as in ``notebooks/09_image_enhancement.ipynb``:

* noise model (9.1)        y = x + n,  n ~ N(0, sigma^2 I);
* residual denoiser (9.2)  x_hat = y - R_theta(y), trained with
                           L = mean (R_theta(x + n) - n)^2  (the network predicts the *noise*);
* sub-pixel SR (9.3)       x_hat = bicubic_r(y) + PixelShuffle_r(f_theta(y)), r = 2 or 3;
* colourisation (9.4)      (Cb, Cr)_hat = g_theta(Y), image = YCbCr->RGB(Y, Cb_hat, Cr_hat).

Everything works on (N, C, H, W) float images in [0, 1].
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._score_tables import format_table, score_table  # the PSNR / SSIM tables the notebook prints: plumbing
from ._validate import check_choice, check_images, check_positive_int, check_tensor
from .data import LUMA_WEIGHTS
from .metrics import psnr

__all__ = ["add_noise", "downscale", "bicubic_upscale", "center_crop", "rgb_to_ycbcr", "ycbcr_to_rgb",
           "ResidualDenoiser", "residual_denoiser_loss", "SubPixelSR", "Colouriser",
           "wavelet_denoise", "CLASSICAL_DENOISERS", "classical_denoise", "tune_classical",
           "unsharp_upscale", "LuminanceChromaLookup", "score_table", "format_table",
           "compare_denoisers_at"]


SCALES = (2, 3, 4)  # the integer factors of downscaling and super-resolution


# --------------------------------------------------------------------------- degradations
def add_noise(clean: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Eq. (9.1): y = x + n with n ~ N(0, sigma^2); not clipped (the usual benchmark protocol)."""
    check_images(clean, name="clean")
    if not 0 <= sigma <= 1:
        raise ValueError(f"sigma is on the [0, 1] scale (25/255 ~ 0.098), got {sigma}")
    return clean + sigma * torch.randn(clean.shape, generator=generator).to(clean.device)


def downscale(images: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic, antialiased downscaling by an integer ``scale`` (H, W must be multiples of it)."""
    check_images(images, name="images")
    check_choice(scale, SCALES, "scale")
    h, w = images.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"height and width ({h}x{w}) must be multiples of the scale {scale}; center_crop first")
    return F.interpolate(images, size=(h // scale, w // scale), mode="bicubic", antialias=True,
                         align_corners=False).clamp(0, 1)


def bicubic_upscale(images: torch.Tensor, scale: int) -> torch.Tensor:
    """The classical baseline of super-resolution: bicubic interpolation by ``scale``."""
    check_images(images, name="low-resolution images")
    check_positive_int(scale, "scale")
    return _bicubic(images, scale)


def _bicubic(images: torch.Tensor, scale: int) -> torch.Tensor:  # unchecked: SubPixelSR.forward runs it every step
    return F.interpolate(images, scale_factor=scale, mode="bicubic", align_corners=False)


def center_crop(image: torch.Tensor, size: int, multiple: int = 1) -> torch.Tensor:
    """Central ``size`` x ``size`` crop of (..., H, W) (smaller if the image is), rounded to ``multiple``."""
    check_tensor(image, "image", ndim=(2, 3, 4))
    check_positive_int(size, "size")
    check_positive_int(multiple, "multiple")
    h, w = image.shape[-2:]
    if min(size, h, w) < multiple:
        raise ValueError(f"a {size} px crop of a {h}x{w} image rounded to a multiple of {multiple} is empty")
    side = min(size, h, w) // multiple * multiple
    top, left = (h - side) // 2, (w - side) // 2
    return image[..., top:top + side, left:left + side]


_YCBCR = torch.tensor([LUMA_WEIGHTS, [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])  # Y: data.to_luma


def rgb_to_ycbcr(images: torch.Tensor) -> torch.Tensor:
    """JPEG's YCbCr (ITU-R BT.601, full range) with Cb, Cr offset by 0.5, so all in [0, 1]."""
    check_images(images, channels=(3,), name="images")
    out = torch.einsum("ij,njhw->nihw", _YCBCR.to(images), images)
    return out + torch.tensor([0.0, 0.5, 0.5]).to(images).view(1, 3, 1, 1)


def ycbcr_to_rgb(images: torch.Tensor) -> torch.Tensor:
    check_tensor(images, "YCbCr images", ndim=4, floating=True)
    if images.shape[1] != 3:
        raise ValueError(f"YCbCr images must have 3 channels (Y, Cb, Cr), got shape {tuple(images.shape)}")
    shifted = images - torch.tensor([0.0, 0.5, 0.5]).to(images).view(1, 3, 1, 1)
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_YCBCR).to(images), shifted).clamp(0, 1)


# --------------------------------------------------------------------------- networks
def _conv_stack(in_channels: int, width: int, depth: int, out_channels: int, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(inplace=True)]
    for _ in range(depth - 2):
        layers += [nn.Conv2d(width, width, 3, padding=1, bias=not batch_norm)]
        layers += [nn.BatchNorm2d(width)] if batch_norm else []
        layers += [nn.ReLU(inplace=True)]
    last = nn.Conv2d(width, out_channels, 3, padding=1)
    nn.init.zeros_(last.weight)  # the untrained network outputs 0: "no noise" / "no correction"
    nn.init.zeros_(last.bias)
    layers.append(last)
    return nn.Sequential(*layers)


class ResidualDenoiser(nn.Module):
    """DnCNN (Zhang et al. 2017) in FFDNet's sub-sampled form: ``forward`` predicts the NOISE.

    PixelUnshuffle(2) turns the (C, H, W) image into (4C, H/2, W/2), so each 3x3 conv sees
    a 6x6 neighbourhood for a quarter of the cost; PixelShuffle(2) puts the noise estimate
    back. ``denoise(y) = y - forward(y)`` is Eq. (9.2). H and W must be even (``denoise`` checks).
    """

    def __init__(self, channels: int = 1, width: int = 48, depth: int = 8):
        super().__init__()
        self.config = {"channels": channels, "width": width, "depth": depth}
        self.body = _conv_stack(4 * channels, width, depth, 4 * channels, batch_norm=True)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.body(F.pixel_unshuffle(noisy, 2)), 2)

    @torch.no_grad()
    def denoise(self, noisy: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) noisy images (not clipped, so values may leave [0, 1]) -> denoised, in [0, 1]."""
        check_tensor(noisy, "noisy images", ndim=4, floating=True)
        channels = self.config["channels"]
        if noisy.shape[1] != channels:
            raise ValueError(f"this denoiser was built for {channels}-channel images (N, {channels}, H, W), got shape "
                             f"{tuple(noisy.shape)}{'; use load_photo(name, colour=False)' if channels == 1 else ''}")
        if noisy.shape[-1] % 2 or noisy.shape[-2] % 2:
            raise ValueError(f"height and width must be even, got {tuple(noisy.shape)}; "
                             "use center_crop(..., multiple=2)")
        return (noisy - self(noisy)).clamp(0, 1)


def residual_denoiser_loss(model: nn.Module, clean: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Eq. (9.2): the network sees y = x + n and is scored on how well it predicts n."""
    check_images(clean, name="clean")
    check_tensor(noise, "noise", ndim=4, floating=True)
    if noise.shape != clean.shape:
        raise ValueError(f"noise must have the shape of the clean images {tuple(clean.shape)}, got {tuple(noise.shape)}")
    return F.mse_loss(model(clean + noise), noise)


class SubPixelSR(nn.Module):
    """ESPCN (Shi et al. 2016) on top of bicubic: Eq. (9.3).

    All convolutions run at the LOW resolution; the last one outputs r^2 channels per
    image channel, which PixelShuffle(r) rearranges into an r-times larger correction
    that is added to the bicubic upscaling.
    """

    def __init__(self, scale: int = 2, channels: int = 1, width: int = 48, depth: int = 6):
        super().__init__()
        check_choice(scale, SCALES, "scale")
        self.scale = scale
        self.config = {"scale": scale, "channels": channels, "width": width, "depth": depth}
        self.body = _conv_stack(channels, width, depth, channels * scale ** 2, batch_norm=False)

    def forward(self, low_res: torch.Tensor) -> torch.Tensor:
        return _bicubic(low_res, self.scale) + F.pixel_shuffle(self.body(low_res), self.scale)


class Colouriser(nn.Module):
    """Eq. (9.4): predict the chroma (Cb, Cr) from the luma Y, at a quarter of the resolution.

    Colour varies slowly, so the network works on PixelUnshuffle(4) of Y (16 channels at
    H/4 x W/4) with dilated convolutions for a wide view, and its (Cb, Cr) output is
    upsampled bilinearly. H and W must be multiples of 4 (``colourise`` checks).
    """

    def __init__(self, width: int = 48):
        super().__init__()
        self.config = {"width": width}
        layers: list[nn.Module] = [nn.Conv2d(16, width, 3, padding=1), nn.ReLU(inplace=True)]
        for dilation in (1, 2, 4, 8, 1):
            layers += [nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, 2, 3, padding=1))
        nn.init.zeros_(layers[-1].weight)  # start at chroma 0.5 (grey): training can only add colour
        nn.init.zeros_(layers[-1].bias)
        self.body = nn.Sequential(*layers)

    def forward(self, luma: torch.Tensor) -> torch.Tensor:
        h, w = luma.shape[-2:]
        chroma = 0.5 + self.body(F.pixel_unshuffle(luma, 4))
        return F.interpolate(chroma, size=(h, w), mode="bilinear", align_corners=False)

    @torch.no_grad()
    def colourise(self, luma: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) luma in [0, 1] -> (N, 3, H, W) RGB."""
        luma = check_images(luma, channels=(1,), name="luma").to(next(self.parameters()).dtype)
        if luma.shape[-1] % 4 or luma.shape[-2] % 4:
            raise ValueError(f"height and width must be multiples of 4, got {tuple(luma.shape)}; "
                             "use center_crop(..., multiple=4)")
        return ycbcr_to_rgb(torch.cat([luma, self(luma).clamp(0, 1)], 1))


# --------------------------------------------------------------------------- classical baselines
def wavelet_denoise(image: np.ndarray, sigma: float, factor: float = 1.0) -> np.ndarray:
    """Soft-thresholding of wavelet details at ``factor * sigma * sqrt(2 log n)`` (VisuShrink),
    by ``skimage.restoration.denoise_wavelet`` (needs PyWavelets)."""
    from skimage.restoration import denoise_wavelet

    return denoise_wavelet(image, sigma=factor * sigma, mode="soft", method="VisuShrink", rescale_sigma=False)


def _nlm(image, sigma, h):
    from skimage.restoration import denoise_nl_means
    return denoise_nl_means(image, h=h * sigma, sigma=sigma, patch_size=7, patch_distance=6, fast_mode=True)


def _tv(image, sigma, weight):
    from skimage.restoration import denoise_tv_chambolle
    return denoise_tv_chambolle(image, weight=weight * sigma)


# name -> (function(image, sigma, parameter), grid of the parameter searched on training photos)
CLASSICAL_DENOISERS = {
    "non-local means": (_nlm, (0.5, 0.6, 0.7, 0.8, 0.9)),
    "total variation": (_tv, (0.6, 0.8, 1.0, 1.2)),
    "wavelet": (wavelet_denoise, (0.4, 0.5, 0.6, 0.7, 0.8)),
}


def classical_denoise(method: str, noisy: torch.Tensor, sigma: float, parameter: float) -> torch.Tensor:
    """Apply a classical denoiser to each grey-level image of a (N, 1, H, W) batch."""
    check_choice(method, tuple(CLASSICAL_DENOISERS), "denoiser")
    fn = CLASSICAL_DENOISERS[method][0]
    if noisy.ndim != 4 or noisy.shape[1] != 1:
        raise ValueError(f"classical denoisers here take grey-level (N, 1, H, W) batches, got {tuple(noisy.shape)}")
    out = [torch.from_numpy(np.asarray(fn(img[0].double().numpy(), sigma, parameter))).float()[None]
           for img in noisy]
    return torch.stack(out).clamp(0, 1)


def tune_classical(method: str, clean: torch.Tensor, noisy: torch.Tensor, sigma: float) -> tuple[float, dict]:
    """The parameter of ``method`` with the best mean PSNR on (clean, noisy): (best, {param: psnr})."""
    scores = {}
    for parameter in CLASSICAL_DENOISERS[method][1]:
        restored = classical_denoise(method, noisy, sigma, parameter)
        scores[parameter] = float(np.mean([psnr(r[None], c[None]) for r, c in zip(restored, clean)]))
    return max(scores, key=scores.get), scores


def unsharp_upscale(low_res: torch.Tensor, scale: int, amount: float = 0.6, radius: float = 1.0) -> torch.Tensor:
    """Bicubic upscaling followed by an unsharp mask: x + amount * (x - blur_radius(x))."""
    from torchvision.transforms.functional import gaussian_blur

    up = bicubic_upscale(low_res, scale)
    size = 2 * int(3 * radius) + 1
    return (up + amount * (up - gaussian_blur(up, [size, size], [radius, radius]))).clamp(0, 1)


class LuminanceChromaLookup:
    """Classical colourisation baseline: the average (Cb, Cr) of training pixels with the same luma.

    A 1-D regression table with ``bins`` luma bins, fitted on training photos.
    """

    def __init__(self, bins: int = 32):
        self.bins = bins
        self.table = torch.full((bins, 2), 0.5)

    def fit(self, images: torch.Tensor) -> "LuminanceChromaLookup":
        ycc = rgb_to_ycbcr(images)
        index = (ycc[:, 0].flatten() * self.bins).long().clamp(0, self.bins - 1)
        for channel in (0, 1):
            sums = torch.zeros(self.bins).index_add_(0, index, ycc[:, channel + 1].flatten())
            counts = torch.bincount(index, minlength=self.bins).float()
            self.table[:, channel] = torch.where(counts > 0, sums / counts.clamp(min=1), torch.tensor(0.5))
        return self

    def colourise(self, luma: torch.Tensor) -> torch.Tensor:
        check_images(luma, channels=(1,), name="luma")
        index = (luma[:, 0] * self.bins).long().clamp(0, self.bins - 1)
        chroma = self.table[index].permute(0, 3, 1, 2)
        return ycbcr_to_rgb(torch.cat([luma, chroma], 1))


# --------------------------------------------------------------------------- the noise-level slider
def compare_denoisers_at(sigma_255: float, clean: torch.Tensor, denoiser: ResidualDenoiser,
                         parameters: dict[str, float], seed: int = 0) -> dict[str, tuple[float, torch.Tensor]]:
    """The noise-level slider's callback: {method: (PSNR, image)} at noise level sigma_255 / 255.

    ``clean`` is one grey-level image (1, H, W); ``parameters`` are the tuned classical parameters.
    """
    if not 0 < sigma_255 <= 100:
        raise ValueError(f"sigma_255 is on the 0-255 scale and must be in (0, 100], got {sigma_255}")
    sigma = sigma_255 / 255
    clean_b = center_crop(clean, clean.shape[-1], multiple=2)[None]
    noisy = add_noise(clean_b, sigma, torch.Generator().manual_seed(seed))
    outputs = {"noisy": noisy.clamp(0, 1), "learned (trained at 25)": denoiser.eval().denoise(noisy)}
    for method, parameter in parameters.items():
        outputs[method] = classical_denoise(method, noisy, sigma, parameter)
    return {name: (psnr(image, clean_b), image[0]) for name, image in outputs.items()}
