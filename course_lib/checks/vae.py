"""Checks for the VAE assignment (solutions/04_vae_assignment.ipynb).

Student signatures:
    reparameterize(mu, logvar, eps) -> z                       Eq. (4.6)
    gaussian_kl(mu, logvar) -> (N,) KL per example              Eq. (4.5)
    negative_elbo(logits, images, mu, logvar) -> scalar         Eq. (4.9), nats per image
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import vae
from .core import CheckResult, Mistake, check_function, run_student

__all__ = ["check_reparameterize", "check_gaussian_kl", "check_negative_elbo",
           "REPARAMETERIZE_MISTAKES", "KL_MISTAKES", "ELBO_MISTAKES"]


def _latent_inputs(generator):
    n = int(torch.randint(3, 9, (1,), generator=generator))
    d = int(torch.randint(2, 6, (1,), generator=generator))
    mu = torch.randn(n, d, generator=generator)
    logvar = torch.randn(n, d, generator=generator)  # negative and positive: sigma both < 1 and > 1
    return mu, logvar


# --------------------------------------------------------------------------- reparameterize
def _reparameterize_inputs(generator):
    mu, logvar = _latent_inputs(generator)
    return mu.requires_grad_(), logvar.requires_grad_(), torch.randn(mu.shape, generator=generator)


def _value_and_gradients(fn, args):
    """What we compare: z, and the gradients of sum(z * w) that reach mu and logvar (zeros if none)."""
    mu, logvar, eps = args
    z = fn(mu, logvar, eps)
    if not isinstance(z, torch.Tensor):
        return z
    weights = torch.linspace(0.5, 1.5, z.numel()).view_as(z) if z.shape == mu.shape else None
    grads = [torch.zeros_like(mu), torch.zeros_like(logvar)]
    if z.requires_grad and weights is not None:
        found = torch.autograd.grad((z * weights).sum(), (mu, logvar), allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(p) for g, p in zip(found, (mu, logvar))]
    return z.detach(), grads[0], grads[1]


NO_REPARAMETERIZATION_MESSAGE = (
    "no gradient reaches mu and logvar: z was sampled outside the computation graph (torch.normal, "
    "dist.sample(), .detach() or torch.no_grad()). Write z = mu + sigma * eps so that autograd sees "
    "how z depends on the encoder's outputs -- that is the whole point of the trick.")

REPARAMETERIZE_MISTAKES = [
    Mistake("no_reparameterization", lambda mu, lv, eps: (mu + torch.exp(0.5 * lv) * eps).detach(),
            NO_REPARAMETERIZATION_MESSAGE),
    Mistake("logvar_as_std", lambda mu, lv, eps: mu + lv * eps,
            "logvar is the log of the *variance*: sigma = exp(logvar / 2), not logvar itself."),
    Mistake("missing_half", lambda mu, lv, eps: mu + torch.exp(lv) * eps,
            "exp(logvar) is the variance sigma^2; the noise must be scaled by the standard deviation "
            "sigma = exp(0.5 * logvar) (you are missing the 1/2)."),
    Mistake("noise_not_scaled", lambda mu, lv, eps: mu + eps,
            "z = mu + eps ignores logvar: the noise must be scaled by sigma = exp(0.5 * logvar)."),
]


def check_reparameterize(student) -> CheckResult:
    """Student's reparameterize(mu, logvar, eps): value *and* gradients vs Eq. (4.6)."""
    def reference(mu, logvar, eps):
        return vae.reparameterize(mu, logvar, eps)

    result = check_function(student, reference, _reparameterize_inputs, REPARAMETERIZE_MISTAKES,
                            name="reparameterize", observe=_value_and_gradients, verbose=False)
    if not result.passed and result.diagnosis in ("values", "structure"):
        # e.g. torch.normal(mu, sigma): other numbers *and* no gradient reaches logvar -- the same mistake.
        mu, logvar, eps = _reparameterize_inputs(torch.Generator().manual_seed(1))
        try:
            with torch.enable_grad():
                z = run_student(student, mu, logvar, eps)
                grad = torch.autograd.grad(z.sum(), logvar, allow_unused=True)[0] if z.requires_grad else None
            blocked = grad is None or not grad.abs().sum() > 0
        except BaseException as error:  # whatever the student's code does, the check answers
            if isinstance(error, KeyboardInterrupt):
                raise
            blocked = False
        if blocked:
            result = CheckResult(False, NO_REPARAMETERIZATION_MESSAGE, "reparameterize", "no_reparameterization")
    print(result)
    return result


# --------------------------------------------------------------------------- the KL
def _reference_kl(mu, logvar):
    return vae.gaussian_kl(mu, logvar)


KL_MISTAKES = [
    Mistake("kl_wrong_sign", lambda mu, lv: -0.5 * (mu.pow(2) + lv.exp() - 1 - lv).sum(1),
            "wrong sign: a KL divergence is never negative. KL = +1/2 sum(mu^2 + sigma^2 - 1 - log sigma^2), "
            "or equivalently -1/2 sum(1 + logvar - mu^2 - exp(logvar))."),
    Mistake("kl_missing_half", lambda mu, lv: (mu.pow(2) + lv.exp() - 1 - lv).sum(1),
            "twice the right value: you are missing the factor 1/2 in front of the sum."),
    Mistake("kl_std_for_variance", lambda mu, lv: 0.5 * (mu.pow(2) + (0.5 * lv).exp() - 1 - lv).sum(1),
            "you used the standard deviation exp(logvar / 2) where the variance exp(logvar) belongs."),
    Mistake("kl_logvar_as_std", lambda mu, lv: 0.5 * (mu.pow(2) + lv.pow(2) - 1 - lv.pow(2).log()).sum(1),
            "you treated logvar as the standard deviation: sigma^2 = exp(logvar) and log sigma^2 = logvar."),
    Mistake("kl_mean_over_latent", lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).mean(1),
            "the KL of a diagonal Gaussian is a *sum* over latent dimensions (they are independent), "
            "not a mean."),
    Mistake("kl_missing_terms", lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp()).sum(1),
            "the -1 - log sigma^2 terms are missing: KL = 1/2 sum(mu^2 + sigma^2 - 1 - log sigma^2). Without them the "
            "'KL' of the prior with itself is d/2, not 0, and it is minimised by sigma -> 0, so the encoder stops "
            "being noisy (notebook 99 trains it)."),
    Mistake("kl_reduced_over_batch", lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).sum(),
            "return one KL per example (shape (N,)): sum over the latent dimensions only, dim=1."),
]


def check_gaussian_kl(student) -> CheckResult:
    """Student's gaussian_kl(mu, logvar) -> (N,) vs Eq. (4.5)."""
    return check_function(student, _reference_kl, _latent_inputs, KL_MISTAKES, name="gaussian_kl")


# --------------------------------------------------------------------------- the ELBO loss
def _elbo_inputs(generator):
    mu, logvar = _latent_inputs(generator)
    n = len(mu)
    logits = 2 * torch.randn(n, 1, 28, 28, generator=generator)
    images = torch.rand(n, 1, 28, 28, generator=generator)
    return logits, images, mu, logvar


def _reference_elbo(logits, images, mu, logvar):
    return vae.negative_elbo(logits, images, mu, logvar)


def _kl(mu, lv):
    return 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).sum(1)


def _bce(logits, images):
    return F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1).sum(1)


ELBO_MISTAKES = [
    Mistake("mean_over_pixels",
            lambda lo, x, mu, lv: F.binary_cross_entropy_with_logits(lo, x) + _kl(mu, lv).mean(),
            "the reconstruction term is a mean over pixels (PyTorch's default reduction='mean'): -log p(x|z) "
            "is a *sum* over the 784 pixels. With a mean the KL outweighs it 784-fold and the decoder learns "
            "a blur. Use reduction='none', sum over pixels, then average over the batch."),
    Mistake("sum_over_batch", lambda lo, x, mu, lv: (_bce(lo, x) + _kl(mu, lv)).sum(),
            "you summed over the batch: report nats *per image* by averaging over the batch "
            "(otherwise the loss and the learning rate scale with the batch size)."),
    Mistake("kl_added_with_wrong_sign", lambda lo, x, mu, lv: (_bce(lo, x) - _kl(mu, lv)).mean(),
            "the KL is a penalty: -ELBO = reconstruction + KL. Subtracting it rewards the encoder for "
            "moving away from the prior."),
    Mistake("elbo_not_negated", lambda lo, x, mu, lv: (-_bce(lo, x) - _kl(mu, lv)).mean(),
            "this is the ELBO itself; the loss to *minimize* is its negative, reconstruction + KL."),
    Mistake("elbo_kl_missing_half", lambda lo, x, mu, lv: (_bce(lo, x) + 2 * _kl(mu, lv)).mean(),
            "the KL term is twice too large: check the 1/2 in Eq. (4.5)."),
    Mistake("elbo_logvar_as_std",
            lambda lo, x, mu, lv: (_bce(lo, x) + 0.5 * (mu.pow(2) + lv.pow(2) - 1 - lv.pow(2).log()).sum(1)).mean(),
            "the KL treats logvar as the standard deviation: sigma^2 = exp(logvar), log sigma^2 = logvar."),
    Mistake("probabilities_not_logits",
            lambda lo, x, mu, lv: (F.binary_cross_entropy(lo.sigmoid().sigmoid(), x, reduction="none")
                                   .flatten(1).sum(1) + _kl(mu, lv)).mean(),
            "the decoder outputs logits: use binary_cross_entropy_with_logits(logits, images), or "
            "binary_cross_entropy on sigmoid(logits) once -- not sigmoid twice."),
]


def check_negative_elbo(student) -> CheckResult:
    """Student's negative_elbo(logits, images, mu, logvar) -> scalar nats per image vs Eq. (4.9)."""
    return check_function(student, _reference_elbo, _elbo_inputs, ELBO_MISTAKES, name="negative_elbo")
