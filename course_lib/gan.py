"""Generative adversarial networks: models, losses and small tools, in one readable file.

Notebook 02 (``02_gan_objective.ipynb``) derives the objective; notebook 03
(``03_dcgan.ipynb``) trains a DCGAN on MNIST. Equation numbers refer to them.

Every loss takes the discriminator's *logits* ``l`` (``D(x) = sigmoid(l)``) and
is written with ``softplus`` (``-log sigmoid(l) = softplus(-l)``,
``-log(1 - sigmoid(l)) = softplus(l)``): the numerically stable form of Eq. (2.6).
``adversarial_step`` is the one D-then-G update every GAN of the course trains with.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from ._validate import check_choice, check_positive_int, check_tensor

__all__ = [
    "LOSS_KINDS", "MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator", "init_dcgan_weights",
    "discriminator_loss", "generator_loss", "GANStep", "adversarial_step", "gradient_penalty", "value_function", "to_unit_range",
    "generate", "sample_latents", "eight_gaussians", "mixture_centers", "ModeCoverage", "mode_coverage",
    "gaussian_pdf", "optimal_discriminator", "js_divergence", "slerp", "interpolate_latents", "latent_at",
]

LOSS_KINDS = ("minimax", "non_saturating", "hinge", "wasserstein")
INTERPOLATIONS = ("linear", "slerp")


# --------------------------------------------------------------------------- models
def _mlp(in_dim: int, out_dim: int, hidden: int, depth: int, activation: nn.Module) -> nn.Sequential:
    sizes = [in_dim] + [hidden] * depth
    layers = [module for a, b in zip(sizes, sizes[1:]) for module in (nn.Linear(a, b), activation)]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], out_dim))


class MLPGenerator(nn.Module):
    """z (N, latent_dim) -> x (N, data_dim): a small ReLU MLP for toy data (notebook 02)."""

    def __init__(self, latent_dim: int = 2, data_dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        self.net = _mlp(latent_dim, data_dim, hidden, depth, nn.ReLU())
        self.latent_dim = latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """x (N, data_dim) -> one logit per example, shape (N,)."""

    def __init__(self, data_dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        self.net = _mlp(data_dim, 1, hidden, depth, nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> digit (N, 1, 28, 28) in [-1, 1] (Radford et al. 2016, sized for MNIST).

    linear -> 4w x 7 x 7, BN, ReLU; convT 4/2/1 -> 2w x 14 x 14, BN, ReLU;
    convT 4/2/1 -> w x 28 x 28, BN, ReLU; conv 3/1/1 -> 1 x 28 x 28, tanh.
    No bias before BatchNorm (its mean subtraction cancels one). The last convolution works at full
    resolution: each output pixel sees a 3 x 3 neighbourhood of features (notebook 03, section 1).
    """

    def __init__(self, latent_dim: int = 64, width: int = 24):
        super().__init__()
        w = width
        self.project = nn.Sequential(nn.Linear(latent_dim, 4 * w * 7 * 7, bias=False),
                                     nn.BatchNorm1d(4 * w * 7 * 7), nn.ReLU())
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 1, 3, 1, 1), nn.Tanh(),
        )
        self.latent_dim, self.width = latent_dim, width
        self.config = {"latent_dim": latent_dim, "width": width}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(z).view(len(z), 4 * self.width, 7, 7))


class DCGANDiscriminator(nn.Module):
    """digit (N, 1, 28, 28) in [-1, 1] -> one logit per image, shape (N,).

    conv 4/2/1 -> w x 14 x 14, LeakyReLU(0.2) (no BatchNorm on the input layer);
    conv 4/2/1 -> 2w x 7 x 7, BN, LeakyReLU(0.2); conv 3/2/1 -> 4w x 4 x 4, BN, LeakyReLU(0.2);
    linear -> 1 logit (no sigmoid: Eq. 2.6).
    ``batch_norm=False`` is for WGAN-GP, whose per-example gradient penalty BatchNorm would mix.
    """

    def __init__(self, width: int = 24, batch_norm: bool = True):
        super().__init__()
        w = width

        def norm(channels):
            return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()

        self.net = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=not batch_norm), norm(2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1, bias=not batch_norm), norm(4 * w), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(4 * w * 4 * 4, 1),
        )
        self.config = {"width": width, "batch_norm": batch_norm}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).squeeze(1)


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN's initialisation: conv/linear weights ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02).
    Use as ``model.apply(init_dcgan_weights)``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def sample_latents(n: int, latent_dim: int, seed: int | None = None, device=None) -> torch.Tensor:
    """n standard-normal latent vectors; a ``seed`` gives the same vectors every time (fixed noise)."""
    check_positive_int(n, "n")
    check_positive_int(latent_dim, "latent_dim")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return torch.randn(n, latent_dim, generator=generator).to(device or "cpu")


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """tanh outputs in [-1, 1] -> [0, 1] for metrics and plots: (x + 1) / 2."""
    return ((images + 1) / 2).clamp(0, 1)


@torch.no_grad()
def generate(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
             batch_size: int = 500) -> torch.Tensor:
    """Images in [0, 1], on the CPU, from latents ``z`` (and class ``labels`` for a conditional G).

    G runs in eval mode, so BatchNorm uses its running statistics (notebook 03, section 5.1), and
    goes back to the mode it was in. ``batch_size`` latents at a time: a 28 x 28 feature map per
    channel and sample adds up (2,000 at once cost the DCGAN a few hundred MB).
    """
    check_tensor(z, "z", ndim=2, floating=True)
    check_positive_int(batch_size, "batch_size")
    if labels is not None and len(labels) != len(z):
        raise ValueError(f"labels must give one class per latent: {len(labels)} labels for {len(z)} latents")
    inputs = (z,) if labels is None else (z, labels)
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        images = [to_unit_range(generator(*(t[start:start + batch_size].to(device) for t in inputs))).cpu()
                  for start in range(0, len(z), batch_size)]
    finally:
        generator.train(was_training)
    return torch.cat(images)


# --------------------------------------------------------------------------- losses
def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """The discriminator's loss on logits, averaged over the batch.

    minimax / non_saturating (same D loss, Eq. 2.6): -E[log D(x)] - E[log(1 - D(G(z)))]
        = E[softplus(-l_real)] + E[softplus(l_fake)]   (BCEWithLogits with targets 1 and 0)
    hinge:       E[relu(1 - l_real)] + E[relu(1 + l_fake)]
    wasserstein: E[l_fake] - E[l_real]  (the critic loss, Eq. 2.8; needs a Lipschitz constraint)
    """
    check_choice(kind, LOSS_KINDS, "GAN loss kind")
    if kind in ("minimax", "non_saturating"):
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    return fake_logits.mean() - real_logits.mean()


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """The generator's loss on the discriminator's logits for G(z), averaged over the batch.

    minimax (Eq. 2.4):        E[log(1 - D(G(z)))] = -E[softplus(l)]   (saturates when D(G(z)) -> 0)
    non_saturating (Eq. 2.5): -E[log D(G(z))]     =  E[softplus(-l)]
    hinge, wasserstein:       -E[l]
    """
    check_choice(kind, LOSS_KINDS, "GAN loss kind")
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()
    return -fake_logits.mean()


class GANStep(NamedTuple):
    """What ``adversarial_step`` returns, all detached (no host sync): the two losses, the discriminator's
    mean output D = sigmoid(l) on the real and on the fake batch, and the fake batch itself."""

    d_loss: torch.Tensor
    g_loss: torch.Tensor
    d_real: torch.Tensor
    d_fake: torch.Tensor
    fake: torch.Tensor


def adversarial_step(generator: nn.Module, discriminator: nn.Module, g_optimizer, d_optimizer,
                     generator_inputs, real, fake_condition=(), *, fabric=None, kind: str = "non_saturating",
                     d_weight: float = 1.0, g_extra_loss=None) -> GANStep:
    """One GAN update: a discriminator step, then a generator step (notebook 03, section 2).

        fake = G(*generator_inputs)
        D step: minimise  d_weight * L_D(D(*real), D(fake.detach(), *fake_condition))   (Eq. 3.2a = 2.6)
        G step: minimise  L_G(D(fake, *fake_condition)) [+ g_extra_loss(fake)]           (Eq. 3.2b = 2.5)

    ``real`` is D's input for the real batch: a tensor, or a tuple such as (images, labels) for a
    conditional D (notebook 06) or (target, input) for pix2pix's pair D (notebook 07, which also
    passes d_weight=0.5 and g_extra_loss = lambda * L1, Eq. 7.3). The fake is detached in the D step,
    so D's loss sends no gradient into G; the G step scores the same fake with the just-updated D.
    ``fabric.backward`` applies fp16 loss scaling (plain ``backward()`` without a fabric).
    """
    backward = fabric.backward if fabric is not None else torch.Tensor.backward
    real = real if isinstance(real, tuple) else (real,)
    generator_inputs = generator_inputs if isinstance(generator_inputs, tuple) else (generator_inputs,)
    fake = generator(*generator_inputs)
    real_logits, fake_logits = discriminator(*real), discriminator(fake.detach(), *fake_condition)
    d_loss = d_weight * discriminator_loss(real_logits, fake_logits, kind)
    d_optimizer.zero_grad(set_to_none=True)
    backward(d_loss)
    d_optimizer.step()
    g_loss = generator_loss(discriminator(fake, *fake_condition), kind)
    if g_extra_loss is not None:
        g_loss = g_loss + g_extra_loss(fake)
    g_optimizer.zero_grad(set_to_none=True)
    backward(g_loss)
    g_optimizer.step()
    return GANStep(d_loss.detach(), g_loss.detach(), torch.sigmoid(real_logits.detach()).mean(),
                   torch.sigmoid(fake_logits.detach()).mean(), fake.detach())


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP (Eq. 2.9): E[(||grad_x critic(x_hat)||_2 - 1)^2], x_hat = eps real + (1 - eps) fake.

    One eps ~ U[0, 1] per example. The graph is kept (``create_graph=True``) so the
    penalty can be back-propagated into the critic's weights. ``fake`` should be detached.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    eps = torch.rand((real.shape[0],) + (1,) * (real.ndim - 1), generator=generator).to(real)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    scores = critic(mixed)
    grads, = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return ((grads.flatten(1).norm(dim=1) - 1) ** 2).mean()


def value_function(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. (2.1), estimated on a batch: V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))].
    It equals minus the discriminator loss; its maximum over D is -log 4 + 2 JSD (Eq. 2.3)."""
    return -discriminator_loss(real_logits, fake_logits, "minimax")


# --------------------------------------------------------------------------- toy data and measures
def mixture_centers(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """(modes, 2) centres evenly spaced on a circle."""
    check_positive_int(modes, "modes")
    angles = torch.arange(modes, dtype=torch.float) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def eight_gaussians(n: int, std: float = 0.05, radius: float = 2.0, modes: int = 8,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """n points (n, 2) from an equal-weight mixture of ``modes`` Gaussians on a circle."""
    check_positive_int(n, "n")
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    which = torch.randint(modes, (n,), generator=generator)
    return mixture_centers(modes, radius)[which] + std * torch.randn(n, 2, generator=generator)


@dataclass
class ModeCoverage:
    """What ``mode_coverage`` returns: modes covered, of ``modes``; the fraction of samples within
    3 std of some centre (``high_quality``); the fraction of samples per mode."""

    modes_covered: int
    modes: int
    high_quality: float
    per_mode: list[float]

    def __str__(self):
        return f"{self.modes_covered}/{self.modes} modes covered, {self.high_quality:.0%} of samples near a mode"


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float) -> ModeCoverage:
    """Count the modes a generator covers (the mode-collapse detector of notebook 02).

    A sample belongs to its nearest centre if it lies within 3 std of it. A mode is *covered*
    when it holds at least a quarter of its fair share of the samples, 1 / (4 * modes).
    """
    check_tensor(samples, "samples", ndim=2, floating=True)
    check_tensor(centers, "centers", ndim=2, floating=True)
    if len(samples) == 0 or len(centers) == 0:
        raise ValueError(f"mode_coverage needs samples and centres, got {len(samples)} samples and "
                         f"{len(centers)} centres (shapes {tuple(samples.shape)} and {tuple(centers.shape)})")
    modes = len(centers)
    distances = torch.cdist(samples.detach().float().cpu(), centers.float())
    nearest_distance, nearest = distances.min(1)
    close = nearest_distance < 3 * std
    per_mode = torch.bincount(nearest[close], minlength=modes).float() / len(samples)
    return ModeCoverage(int((per_mode >= 1 / (4 * modes)).sum()), modes, float(close.float().mean()),
                        [round(v, 4) for v in per_mode.tolist()])


def gaussian_pdf(x, mean: float, std: float):
    """Density of N(mean, std^2) at x (numpy array or float)."""
    return np.exp(-0.5 * ((np.asarray(x) - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def optimal_discriminator(p_data, p_g):
    """Eq. (2.2): D*(x) = p_data(x) / (p_data(x) + p_g(x)), given both densities at the same points."""
    p_data, p_g = np.asarray(p_data, dtype=float), np.asarray(p_g, dtype=float)
    if p_data.shape != p_g.shape:
        raise ValueError(f"p_data and p_g must have the same shape, got {p_data.shape} and {p_g.shape}")
    total = p_data + p_g
    return np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 0)


def js_divergence(p, q, x) -> float:
    """Jensen-Shannon divergence (natural log) of two 1-D densities sampled on the grid x,
    by the trapezoid rule: JSD = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2."""
    p, q, x = (np.asarray(a, dtype=float) for a in (p, q, x))
    if not (p.shape == q.shape == x.shape) or p.ndim != 1:
        raise ValueError(f"p, q and x must be 1-D arrays of one length, got {p.shape}, {q.shape}, {x.shape}")
    m = (p + q) / 2

    def kl_to_m(a):
        terms = np.where(a > 0, a * np.log(np.where(a > 0, a, 1) / np.where(m > 0, m, 1)), 0.0)
        return np.trapezoid(terms, x) if hasattr(np, "trapezoid") else np.trapz(terms, x)

    return float(0.5 * kl_to_m(p) + 0.5 * kl_to_m(q))


# --------------------------------------------------------------------------- latent space
def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation (Eq. 3.3): moves along the great circle between z0 and z1,
    keeping the norm typical of Gaussian latents; falls back to linear when they are parallel."""
    check_tensor(z0, "z0", floating=True)
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same shape, got {tuple(z0.shape)} and {tuple(z1.shape)}")
    if not 0.0 <= float(t) <= 1.0:
        raise ValueError(f"t must be in [0, 1], got {t}")
    cos = (F.normalize(z0, dim=-1) * F.normalize(z1, dim=-1)).sum(-1, keepdim=True).clamp(-1, 1)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    linear = (1 - t) * z0 + t * z1
    spherical = (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / sin.clamp_min(1e-8)
    return torch.where(sin.abs() < 1e-6, linear, spherical)


def latent_at(z0: torch.Tensor, z1: torch.Tensor, t: float, method: str = "slerp") -> torch.Tensor:
    """The latent vector at position t in [0, 1] between z0 and z1: the slider callback of notebook 03."""
    check_choice(method, INTERPOLATIONS, "interpolation")
    if not 0.0 <= float(t) <= 1.0:
        raise ValueError(f"t must be in [0, 1], got {t}")
    return slerp(z0, z1, t) if method == "slerp" else (1 - t) * z0 + t * z1


def interpolate_latents(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """``steps`` latents from z0 to z1 inclusive, stacked: (steps, latent_dim) for 1-D z0."""
    if check_positive_int(steps, "steps") < 2:
        raise ValueError(f"steps must be at least 2 (both end points), got {steps}")
    return torch.stack([latent_at(z0, z1, i / (steps - 1), method) for i in range(steps)])
