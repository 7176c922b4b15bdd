"""Variational autoencoders: the ELBO, the reparameterization trick and two architectures.

Notation (notebook 04): a digit x (784 grey levels in [0, 1]), a latent code z in R^d,
prior p(z) = N(0, I), decoder p(x|z) = Bernoulli(sigmoid(logits(z))) per pixel, encoder
q(z|x) = N(mu(x), diag exp(logvar(x))).

    log p(x) >= ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))           Eq. (4.3)
    KL(N(mu, sigma^2) || N(0, 1)) = 1/2 (mu^2 + sigma^2 - 1 - log sigma^2)  Eq. (4.5)
    z = mu + sigma * eps, eps ~ N(0, I)                                    Eq. (4.6)
    -log p(x|z) = sum over pixels of BCE(logits, x)                        Eq. (4.8)
    log p(x) ~ log 1/k sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q           Eq. (5.1)

Every loss here is in **nats per image**: summed over pixels and latent dimensions,
averaged over the batch. Models return *logits*; ``torch.sigmoid`` gives pixel means.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_choice, check_images, check_positive_int, check_tensor

__all__ = ["reparameterize", "gaussian_kl", "bernoulli_nll", "negative_elbo", "MLPVAE", "ConvVAE",
           "make_vae", "vae_loss", "evaluate_elbo", "importance_weighted_log_likelihood",
           "evaluate_log_likelihood", "KeepBest", "sample_prior", "interpolate", "interpolation_frame",
           "latent_grid", "encode_means"]

# --------------------------------------------------------------------------- the objective
def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. (4.6): z = mu + exp(logvar / 2) * eps with eps ~ N(0, I).

    The randomness sits in ``eps``, outside the network, so gradients flow to mu and logvar.
    """
    check_tensor(mu, "mu", floating=True)
    check_tensor(logvar, "logvar", floating=True)
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    if eps is None:
        eps = torch.randn_like(mu)
    elif eps.shape != mu.shape:
        raise ValueError(f"eps must have the shape of mu {tuple(mu.shape)}, got {tuple(eps.shape)}")
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Eq. (4.5): KL(N(mu, diag exp(logvar)) || N(0, I)) per example, summed over latent dims -> (N,)."""
    check_tensor(mu, "mu", ndim=2, floating=True)
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def bernoulli_nll(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Eq. (4.8): -log p(x|z) of a Bernoulli decoder = BCE summed over pixels -> (N,) nats.

    With grey-level targets this is a cross-entropy, not the log-probability of a discrete
    image: its minimum is the pixels' binary entropy, not zero (notebook 04, section 5).
    """
    if logits.shape != images.shape:
        raise ValueError(f"logits and images must have the same shape, got {tuple(logits.shape)} and "
                         f"{tuple(images.shape)}")
    # Bernoulli targets are probabilities: a [-1, 1] or 0-255 image would give a plausible-looking wrong number
    check_images(images.reshape(len(images), 1, 1, -1), name="target images")  # any (N, ...) shape
    bce = F.binary_cross_entropy_with_logits(logits, images, reduction="none")
    return bce.flatten(1).sum(dim=1)


def negative_elbo(logits, images, mu, logvar, beta: float = 1.0) -> torch.Tensor:
    """Eq. (4.9): mean over the batch of [sum-over-pixels BCE + beta * KL], in nats per image."""
    return (bernoulli_nll(logits, images) + beta * gaussian_kl(mu, logvar)).mean()


# --------------------------------------------------------------------------- models
class MLPVAE(nn.Module):
    """784 -> hidden -> (mu, logvar) in R^latent_dim -> hidden -> 784 logits (pytorch/examples: 400, 20)."""

    def __init__(self, latent_dim: int = 20, hidden: int = 400):
        super().__init__()
        check_positive_int(latent_dim, "latent_dim")
        check_positive_int(hidden, "hidden")
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784),
                                     nn.Unflatten(1, (1, 28, 28)))
        self.config = {"kind": "mlp", "latent_dim": latent_dim, "hidden": hidden}

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x): the mean and log-variance of a diagonal Gaussian, each (N, latent_dim)."""
        h = self.encoder(images)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """p(x|z): per-pixel logits (N, 1, 28, 28)."""
        return self.decoder(z)

    def forward(self, images: torch.Tensor):
        """Encode, sample z with Eq. (4.6), decode: returns (logits, mu, logvar)."""
        mu, logvar = self.encode(images)
        return self.decode(reparameterize(mu, logvar)), mu, logvar


class ConvVAE(MLPVAE):
    """Two stride-2 convolutions down (28 -> 14 -> 7), a linear bottleneck, two transposed convolutions up."""

    def __init__(self, latent_dim: int = 20, width: int = 32, hidden: int = 256):
        nn.Module.__init__(self)
        for name, value in (("latent_dim", latent_dim), ("width", width), ("hidden", hidden)):
            check_positive_int(value, name)
        w = width
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.ReLU(),                      # 28 -> 14
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.ReLU(),                  # 14 -> 7
            nn.Flatten(), nn.Linear(2 * w * 49, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * w * 49), nn.ReLU(),
            nn.Unflatten(1, (2 * w, 7, 7)),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.ReLU(),         # 7 -> 14
            nn.ConvTranspose2d(w, 1, 4, 2, 1))                        # 14 -> 28 logits
        self.config = {"kind": "conv", "latent_dim": latent_dim, "width": width, "hidden": hidden}


ARCHITECTURES = {"mlp": MLPVAE, "conv": ConvVAE}


def make_vae(kind: str = "mlp", **config) -> MLPVAE:
    """Build a VAE from its ``config`` dict (as stored in a checkpoint): ``make_vae(**model.config)``."""
    check_choice(kind, tuple(ARCHITECTURES), "VAE kind")
    return ARCHITECTURES[kind](**config)


def vae_loss(model: nn.Module, batch, beta: float = 1.0):
    """loss_fn for ``training.fit``: the negative ELBO (4.9) and its two terms, per image."""
    images = batch[0] if isinstance(batch, (list, tuple)) else batch
    check_images(images, channels=(1,), size=(28, 28), name="images")
    logits, mu, logvar = model(images)
    reconstruction = bernoulli_nll(logits, images).mean()
    kl = gaussian_kl(mu, logvar).mean()
    return reconstruction + beta * kl, {"reconstruction": reconstruction.detach(), "kl": kl.detach()}


# --------------------------------------------------------------------------- evaluation
def _images_of(data) -> torch.Tensor:
    """The digits of a TensorDataset (images, labels) or of an image tensor, checked."""
    images = data if isinstance(data, torch.Tensor) else data.tensors[0]
    return check_images(images, name="images", size=(28, 28))


@torch.no_grad()
def evaluate_elbo(model: nn.Module, data, batch_size: int = 500, seed: int = 0) -> dict:
    """Negative ELBO (4.9) of ``data`` (dataset or images), one z per image: dict of nats per image.

    Keys: ``nelbo``, ``reconstruction``, ``kl``. Seeded, so two calls give the same number.
    """
    images = _images_of(data)
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device="cpu").manual_seed(seed)
    totals = torch.zeros(2, dtype=torch.float64)
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)
        mu, logvar = model.encode(x)
        eps = torch.randn(mu.shape, generator=generator).to(device)
        logits = model.decode(reparameterize(mu, logvar, eps))
        totals += torch.stack([bernoulli_nll(logits, x).sum(), gaussian_kl(mu, logvar).sum()]).double().cpu()
    reconstruction, kl = (totals / len(images)).tolist()
    return {"nelbo": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}


def _log_normal(z, mu, logvar):
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) / logvar.exp()).sum(dim=-1)


@torch.no_grad()
def importance_weighted_log_likelihood(model: nn.Module, images: torch.Tensor, k: int = 100,
                                       generator: torch.Generator | None = None) -> torch.Tensor:
    """Eq. (5.1): log 1/k sum_i p(x|z_i) p(z_i) / q(z_i|x) with z_i ~ q(z|x), per image -> (N,).

    A lower bound on log p(x) that tightens as k grows (k = 1 is the ELBO) (Burda et al., 2016).
    """
    check_positive_int(k, "k")
    images = check_images(images, name="images", channels=(1,), size=(28, 28))
    device = images.device
    mu, logvar = model.encode(images)                                   # (N, d)
    eps = torch.randn((k, *mu.shape), generator=generator).to(device)  # (k, N, d)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = model.decode(z.flatten(0, 1))                              # (k*N, 1, 28, 28)
    target = images.unsqueeze(0).expand(k, *images.shape).flatten(0, 1)
    log_px_given_z = -bernoulli_nll(logits, target).view(k, -1)
    log_pz = _log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
    log_qz = _log_normal(z, mu, logvar)
    return torch.logsumexp(log_px_given_z + log_pz - log_qz, dim=0) - math.log(k)


@torch.no_grad()
def evaluate_log_likelihood(model: nn.Module, data, k: int = 100, batch_size: int | None = None,
                            seed: int = 0) -> float:
    """Mean importance-weighted estimate of -log p(x) over ``data``, nats per image (lower is better).

    Each batch decodes ``k * batch_size`` latents at once; by default the batch is sized so that
    this stays near 2,000 (a conv decoder's activations for k = 200 and 50 digits need ~1 GB).
    """
    check_positive_int(k, "k")
    batch_size = max(1, 2000 // k) if batch_size is None else batch_size
    check_positive_int(batch_size, "batch_size")
    images = _images_of(data)
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device="cpu").manual_seed(seed)
    total = 0.0
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)
        total += importance_weighted_log_likelihood(model, x, k, generator).sum().item()
    return -total / len(images)


class KeepBest:
    """An ``eval_fn`` for ``fit`` that scores the validation split and remembers the best weights.

    Early stopping without stopping: ``fit`` trains for its full budget, then
    ``keeper.restore(model)`` puts back the weights with the lowest validation -ELBO.
    """

    def __init__(self, val_data, batch_size: int = 500):
        self.val_data, self.batch_size = val_data, batch_size
        self.best, self.best_state, self.evaluations = math.inf, None, 0

    def __call__(self, model) -> dict:
        scores = evaluate_elbo(model, self.val_data, self.batch_size)
        self.evaluations += 1
        if scores["nelbo"] < self.best:
            self.best = scores["nelbo"]
            module = getattr(model, "module", model)  # unwrap Fabric
            self.best_state = copy.deepcopy(module.state_dict())
        return {"val_nelbo": scores["nelbo"]}

    def restore(self, model: nn.Module) -> float:
        """Load the best weights seen into ``model``; returns their validation -ELBO."""
        if self.best_state is None:
            raise RuntimeError("KeepBest has not evaluated anything yet: pass it to fit(eval_fn=..., eval_every=...)")
        model.load_state_dict(self.best_state)
        return self.best


# --------------------------------------------------------------------------- exploring the latent space
@torch.no_grad()
def sample_prior(model: nn.Module, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Decode z ~ N(0, I): (n, 1, 28, 28) pixel means sigmoid(logits) in [0, 1]."""
    check_positive_int(n, "n")
    if not isinstance(model, nn.Module) or not isinstance(getattr(model, "latent_dim", None), int):
        raise TypeError(f"model must be one of the course's VAEs (with a latent_dim), got {type(model).__name__}")
    device = next(model.parameters()).device
    z = torch.randn((n, model.latent_dim), generator=generator).to(device)
    return torch.sigmoid(model.decode(z))


@torch.no_grad()
def encode_means(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """The encoder means mu(x), (N, latent_dim): where each digit sits in latent space."""
    images = check_images(images, name="images", channels=(1,), size=(28, 28))
    device = next(model.parameters()).device
    return torch.cat([model.encode(images[s:s + batch_size].to(device))[0].cpu()
                      for s in range(0, len(images), batch_size)])


@torch.no_grad()
def interpolate(model: nn.Module, image_a: torch.Tensor, image_b: torch.Tensor, t) -> torch.Tensor:
    """Decode z = (1 - t) mu(a) + t mu(b) for each t in ``t`` -> (len(t), 1, 28, 28) in [0, 1].

    image_a, image_b: (1, 28, 28) digits; t: a number or a sequence of numbers in [0, 1].
    """
    ts = torch.as_tensor(t, dtype=torch.float32).flatten()
    if ts.numel() == 0 or ts.min() < 0 or ts.max() > 1:
        raise ValueError(f"t must be numbers in [0, 1], got {t!r}")
    pair = check_images(torch.stack([image_a, image_b]), name="image_a and image_b", size=(28, 28))
    device = next(model.parameters()).device
    mu = encode_means(model, pair).to(device)
    ts = ts.to(device).unsqueeze(1)
    return torch.sigmoid(model.decode((1 - ts) * mu[0] + ts * mu[1]))


def interpolation_frame(model: nn.Module, image_a: torch.Tensor, image_b: torch.Tensor, t: float) -> torch.Tensor:
    """The slider's callback logic: the single decoded image (1, 28, 28) at position ``t``."""
    return interpolate(model, image_a, image_b, [float(t)])[0]


@torch.no_grad()
def latent_grid(model: nn.Module, n: int = 15, span: float = 2.5) -> torch.Tensor:
    """Decode an n x n grid over [-span, span]^2 of a 2-D latent space -> (n*n, 1, 28, 28), row by row.

    Rows go from z2 = +span (top) to -span, columns from z1 = -span to +span, like a plot's axes.
    """
    if model.latent_dim != 2:
        raise ValueError(f"latent_grid needs a 2-D latent space, this model has latent_dim={model.latent_dim}")
    check_positive_int(n, "n")
    values = torch.linspace(-span, span, n)
    z2, z1 = torch.meshgrid(values.flip(0), values, indexing="ij")
    z = torch.stack([z1.flatten(), z2.flatten()], dim=1).to(next(model.parameters()).device)
    return torch.sigmoid(model.decode(z))
