"""Neural style transfer (Gatys, Ecker & Bethge 2016): optimise the pixels of an image.

Equations are numbered as in ``notebooks/08_style_transfer.ipynb``:

* content loss (8.1)   L_c = mean_{c,i} (F_l(x) - F_l(x_c))^2 on one "content" layer l;
* Gram matrix (8.2)    G_l(x) = F_l F_l^T / (H_l W_l), F_l reshaped to (C_l, H_l W_l);
* style loss (8.3)     L_s = sum_l w_l mean_{c,c'} (G_l(x) - G_l(x_s))^2;
* total variation (8.4) L_tv = mean |x_{i+1,j} - x_{i,j}|^2 + mean |x_{i,j+1} - x_{i,j}|^2;
* objective (8.5)      L = alpha L_c + beta L_s + gamma L_tv, minimised over the pixels x.

Two ``FeatureExtractor``s: ``VGG19Features`` (ImageNet weights, when cached or downloadable)
and ``RandomMultiScaleFeatures`` (no trained weights: runs anywhere, offline). Finding, downloading
and checking the weights is plumbing (``_vgg19_weights``), as is decoding an upload (``_uploads``).
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from ._uploads import decode_upload  # the widget's uploaded file -> image tensor: plumbing
from ._validate import check_choice, check_images, check_positive_int
from ._vgg19_weights import pretrained_vgg19, weights_dir  # fetching, checking: plumbing
from .config import is_fast, is_offline
from .training import History, check_finite, progress

__all__ = ["gram_matrix", "content_loss", "style_loss", "total_variation", "FeatureExtractor",
           "RandomMultiScaleFeatures", "VGG19Features", "feature_extractor",
           "resize_square", "stylize", "decode_upload", "style_image", "stylize_with_settings",
           "EXTRACTORS", "OPTIMIZERS"]

EXTRACTORS = ("auto", "vgg19", "random")
OPTIMIZERS = ("adam", "lbfgs")


# --------------------------------------------------------------------------- losses
def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Eq. (8.2): G = F F^T / (H W) for features (B, C, H, W) -> (B, C, C).

    Entry (c, c') is the average over positions of the product of channels c and c':
    a statistic of *which features occur together*, blind to *where* they occur.
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def content_loss(generated: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Eq. (8.1): mean squared difference of the features on the content layer (``stylize`` keeps the sizes equal)."""
    return F.mse_loss(generated, content)


def style_loss(generated: list[torch.Tensor], style: list[torch.Tensor],
               weights: list[float] | None = None) -> torch.Tensor:
    """Eq. (8.3): sum_l w_l * mean (G_l(generated) - G_l(style))^2.

    ``generated`` and ``style`` are lists of feature maps, one per style layer; their
    spatial sizes may differ (the style image need not have the content's size),
    because Gram matrices are (C, C) whatever H and W are.
    """
    if len(generated) != len(style):
        raise ValueError(f"need one style feature map per generated one, got {len(generated)} and {len(style)}")
    weights = [1.0] * len(generated) if weights is None else list(weights)
    if len(weights) != len(generated):
        raise ValueError(f"need one weight per layer ({len(generated)}), got {len(weights)}")
    total = generated[0].new_zeros(())
    for w, g, s in zip(weights, generated, style):
        total = total + w * F.mse_loss(gram_matrix(g), gram_matrix(s).expand(g.shape[0], -1, -1))
    return total


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Eq. (8.4): mean squared difference between vertical and horizontal neighbours."""
    return ((images[..., 1:, :] - images[..., :-1, :]) ** 2).mean() + \
        ((images[..., :, 1:] - images[..., :, :-1]) ** 2).mean()


# --------------------------------------------------------------------------- feature extractors
class FeatureExtractor(nn.Module):
    """Interface: ``forward(images in [0, 1]) -> {layer name: (B, C, H, W) features}``."""

    content_layers: tuple[str, ...] = ()
    style_layers: tuple[str, ...] = ()
    style_weights: tuple[float, ...] = ()
    description: str = ""

    def features(self, images: torch.Tensor, layers) -> list[torch.Tensor]:
        out = self(images)
        return [out[name] for name in layers]


class RandomMultiScaleFeatures(FeatureExtractor):
    """Random filter banks on an image pyramid: features with no training at all (Ustyuzhaninov et al.
    2017, "What does it take to generate natural textures?"; He, Wang & Hopcroft 2016).

    At each pyramid level s (the image average-pooled by 2^s) the image is convolved with
    ``filters_per_size`` random zero-mean, unit-norm filters of every size in ``kernel_sizes``
    and passed through a ReLU. Gram matrices of these maps describe texture at scales from
    3 px up to ``max(kernel_sizes) * 2^(levels-1)`` px. The content layer is a coarse level:
    it keeps the layout and leaves fine detail free for the style.
    """

    def __init__(self, levels: int = 4, kernel_sizes: tuple[int, ...] = (3, 5, 9),
                 filters_per_size: int = 32, content_level: int = 2, seed: int = 0):
        super().__init__()
        check_positive_int(levels, "levels")
        if not 0 <= content_level < levels:
            raise ValueError(f"content_level must be in [0, {levels - 1}], got {content_level}")
        generator = torch.Generator().manual_seed(seed)
        self.kernel_sizes = tuple(kernel_sizes)
        self.levels = levels
        for level in range(levels):
            for k in kernel_sizes:
                weight = torch.randn(filters_per_size, 3, k, k, generator=generator)
                weight -= weight.mean(dim=(1, 2, 3), keepdim=True)  # zero mean: blind to flat colour
                weight /= weight.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
                self.register_buffer(f"w{level}_{k}", weight)
        self.style_layers = tuple(f"level{s}" for s in range(levels))
        self.style_weights = (1.0,) * levels
        self.content_layers = (f"level{content_level}",)
        self.description = (f"offline random multi-scale features ({levels} pyramid levels x filters "
                            f"{'/'.join(map(str, kernel_sizes))} px x {filters_per_size}; no trained weights)")

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (images - 0.45) / 0.25
        out = {}
        for level in range(self.levels):
            if level:
                x = F.avg_pool2d(x, 2)
            maps = [F.conv2d(x, getattr(self, f"w{level}_{k}"), padding=k // 2) for k in self.kernel_sizes]
            out[f"level{level}"] = F.relu(torch.cat(maps, 1))
        return out


class VGG19Features(FeatureExtractor):
    """ImageNet VGG19 (torchvision), cut after relu5_1, frozen; Gatys et al.'s layers."""

    LAYERS = {1: "relu1_1", 6: "relu2_1", 11: "relu3_1", 20: "relu4_1", 22: "relu4_2", 29: "relu5_1"}

    def __init__(self, state_dict: dict | None = None):
        super().__init__()
        from torchvision.models import vgg19

        if state_dict is None:
            model = vgg19()
        else:  # built without initialising 143 M weights (2 s on a CPU), then given the loaded ones (shapes checked)
            with torch.device("meta"):
                model = vgg19()
            model.load_state_dict(state_dict, assign=True)
        self.body = model.features[:30].eval().requires_grad_(False)
        for i, layer in enumerate(self.body):  # max-pool -> avg-pool, as Gatys et al. suggest
            if isinstance(layer, nn.MaxPool2d):
                self.body[i] = nn.AvgPool2d(2)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.content_layers = ("relu4_2",)
        self.style_layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
        self.style_weights = (1.0,) * 5
        self.description = "torchvision VGG19 pretrained on ImageNet (Gatys et al.'s layers)"

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (images - self.mean) / self.std
        out = {}
        for i, layer in enumerate(self.body):
            x = layer(x)
            if i in self.LAYERS:
                out[self.LAYERS[i]] = x
        return out


def feature_extractor(kind: str = "auto", allow_download: bool | None = None,
                      verbose: bool = True) -> FeatureExtractor:
    """The features that style transfer will use, in eval mode and frozen.

    kind: ``auto`` (VGG19 if its weights are cached or downloadable, else random),
    ``vgg19`` (error if unavailable) or ``random``. ``allow_download`` defaults to
    False in fast mode (tests never touch the network) and offline (``config.is_offline()``).
    """
    check_choice(kind, EXTRACTORS, "feature extractor")
    if allow_download is None:
        allow_download = not is_fast() and not is_offline()
    extractor = pretrained_vgg19(VGG19Features, allow_download) if kind in ("auto", "vgg19") else None
    if extractor is None and kind == "vgg19":
        raise RuntimeError(f"usable VGG19 weights are not in {weights_dir()} and "
                           "could not be downloaded; use kind='random' (or 'auto') to work offline.")
    if extractor is None:
        extractor = RandomMultiScaleFeatures()
    extractor.eval().requires_grad_(False)
    if verbose:
        print(f"[style] feature extractor: {extractor.description}")
    return extractor


# --------------------------------------------------------------------------- images
def resize_square(image: torch.Tensor, size: int) -> torch.Tensor:
    """(C, H, W) in [0, 1] -> (3, size, size): shorter side resized to ``size``, centre crop."""
    check_positive_int(size, "size")
    check_images(image.unsqueeze(0), channels=(1, 3), name="image")
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    _, h, w = image.shape
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    resized = F.interpolate(image.unsqueeze(0), size=(new_h, new_w), mode="bilinear", antialias=True,
                            align_corners=False)[0]
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return resized[:, top:top + size, left:left + size].clamp(0, 1).contiguous()


def style_image(style: str | torch.Tensor) -> torch.Tensor:
    """A style given by name (a bundled texture or photo) or as an image tensor (C, H, W)."""
    from .data import PHOTOS, TEXTURES, load_photo, load_texture

    if isinstance(style, torch.Tensor):
        return style
    check_choice(style, TEXTURES + tuple(PHOTOS), "style name")
    return load_texture(style) if style in TEXTURES else load_photo(style)


# --------------------------------------------------------------------------- optimisation
def stylize(content: torch.Tensor, style: torch.Tensor, extractor: FeatureExtractor, *, steps: int = 200,
            style_weight: float = 1e3, content_weight: float = 1.0, tv_weight: float = 1.0,
            optimizer: str = "adam", lr: float = 0.02, log_every: int = 10,
            verbose: bool = True, desc: str = "style transfer"):
    """Minimise Eq. (8.5) over the pixels of x, starting from the content image.

    content, style: (3, H, W) in [0, 1] (any sizes). Returns (image (3, H, W), History) where
    the history logs ``content``, ``style`` and ``tv`` losses (unweighted), ``total`` and
    ``seconds`` every ``log_every`` steps. ``optimizer``: ``adam`` (one evaluation of the loss
    and its gradient per step) or ``lbfgs`` (one L-BFGS iteration per step, two evaluations: at x
    and at the trial point x + t d; torch's max_eval = max_iter * 5 // 4 = 1 leaves the strong-Wolfe
    search no more, so it keeps the trial point only if it lowers the loss).
    """
    check_choice(optimizer, OPTIMIZERS, "optimizer")
    check_positive_int(steps, "steps")
    content_b = check_images(content.unsqueeze(0), name="content")
    style_b = check_images(style.unsqueeze(0), name="style")
    device = next(iter(extractor.buffers())).device
    content_b, style_b = content_b.to(device), style_b.to(device)
    with torch.no_grad():
        content_targets = extractor.features(content_b, extractor.content_layers)
        style_targets = extractor.features(style_b, extractor.style_layers)
    pixels = content_b.clone().requires_grad_(True)
    if optimizer == "adam":
        opt = torch.optim.Adam([pixels], lr=lr)
    else:
        opt = torch.optim.LBFGS([pixels], lr=1.0, max_iter=1, history_size=20, line_search_fn="strong_wolfe")
    history = History()
    started = time.perf_counter()
    terms = {}

    def closure():
        opt.zero_grad(set_to_none=True)
        out = extractor(pixels)
        terms["content"] = sum(content_loss(out[n], t) for n, t in zip(extractor.content_layers, content_targets))
        terms["style"] = style_loss([out[n] for n in extractor.style_layers], style_targets,
                                    list(extractor.style_weights))
        terms["tv"] = total_variation(pixels)
        terms["total"] = content_weight * terms["content"] + style_weight * terms["style"] + tv_weight * terms["tv"]
        terms["total"].backward()
        return terms["total"]

    bar = progress(range(1, steps + 1), desc=desc, unit="step", disable=not verbose)
    for step in bar:
        opt.step(closure)
        check_finite(terms["total"], "style-transfer loss", step)
        with torch.no_grad():
            pixels.clamp_(0, 1)
        if step % log_every == 0 or step == steps or step == 1:
            seconds = time.perf_counter() - started
            history.log(step, **{k: v.item() for k, v in terms.items()}, seconds=seconds)
            bar.set_postfix(total=f"{terms['total'].item():.3g}", img_s=f"{step / max(seconds, 1e-9):.1f}",
                            refresh=False)
    return pixels.detach()[0].cpu(), history


def stylize_with_settings(content_name: str, style: str | torch.Tensor, style_weight: float, size: int,
                          steps: int, extractor: FeatureExtractor, **kwargs):
    """The widgets' callback: load, resize, stylise. Returns (content, style, result, history)."""
    from .data import load_photo

    content = resize_square(load_photo(content_name), size)
    style_img = resize_square(style_image(style), size)
    result, history = stylize(content, style_img, extractor, steps=steps, style_weight=style_weight,
                              verbose=False, **kwargs)
    return content, style_img, result, history
