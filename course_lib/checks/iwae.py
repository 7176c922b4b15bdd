"""Checks for the importance-weighting assignment (solutions/05_iwae_assignment.ipynb).

Student signatures:
    log_normal(z, mu, logvar) -> (...)            log N(z; mu, diag exp(logvar)), summed over the last dimension
    log_mean_exp(values, dim) -> tensor           log(mean(exp(values), dim)), stable for any magnitude
    iw_bound(model, images, eps) -> (N,)          Eq. (5.1): log 1/k sum_i p(x|z_i) p(z_i) / q(z_i|x),
                                                  z_i = mu + sigma * eps[i], eps: (k, N, d) standard normal draws
"""
from __future__ import annotations

import math

import torch

from ..vae import MLPVAE, bernoulli_nll
from .core import CheckResult, Mistake, check_function

__all__ = ["check_log_normal", "check_log_mean_exp", "check_iw_bound", "LOG_NORMAL_MISTAKES",
           "LOG_MEAN_EXP_MISTAKES", "IW_BOUND_MISTAKES"]


# --------------------------------------------------------------------------- log N(z; mu, sigma^2)
def _log_normal(z, mu, logvar, constant=True, log_det=True, divide=lambda logvar: logvar.exp(), total=True):
    terms = -0.5 * ((z - mu) ** 2 / divide(logvar))
    if log_det:
        terms = terms - 0.5 * logvar
    if constant:
        terms = terms - 0.5 * math.log(2 * math.pi)
    return terms.sum(-1) if total else terms


def _log_normal_inputs(generator):
    k, n, d = (int(v) for v in torch.randint(2, 5, (3,), generator=generator))
    mu, logvar = torch.randn(n, d, generator=generator), torch.randn(n, d, generator=generator)
    return torch.randn(k, n, d, generator=generator), mu, logvar


LOG_NORMAL_MISTAKES = [
    Mistake("no_constant", lambda z, m, lv: _log_normal(z, m, lv, constant=False),
            "the normalising constant is missing: every dimension contributes -1/2 log(2 pi). It does not change "
            "gradients, but a bound on log p(x) needs it."),
    Mistake("no_log_variance", lambda z, m, lv: _log_normal(z, m, lv, log_det=False),
            "the -1/2 logvar term is missing: a wider Gaussian has a lower density everywhere near its mean."),
    Mistake("std_for_variance", lambda z, m, lv: _log_normal(z, m, lv, divide=lambda lv: (0.5 * lv).exp()),
            "(z - mu)^2 is divided by the variance exp(logvar), not by the standard deviation exp(logvar / 2)."),
    Mistake("not_summed", lambda z, m, lv: _log_normal(z, m, lv, total=False),
            "the density of a diagonal Gaussian is a product over dimensions: sum the log-densities over the last "
            "dimension (.sum(-1))."),
]


def check_log_normal(student) -> CheckResult:
    """log_normal(z, mu, logvar) = sum_j -1/2 [log 2 pi + logvar_j + (z_j - mu_j)^2 / exp(logvar_j)]."""
    return check_function(student, _log_normal, _log_normal_inputs, LOG_NORMAL_MISTAKES, name="log_normal")


# --------------------------------------------------------------------------- log-mean-exp
def _log_mean_exp(values, dim):
    top = values.amax(dim, keepdim=True)
    return (top + (values - top).exp().mean(dim, keepdim=True).log()).squeeze(dim)


def _lme_inputs(generator):
    k, n = (int(v) for v in torch.randint(2, 6, (2,), generator=generator))
    return 3 * torch.randn(k, n, generator=generator), 0


LOG_MEAN_EXP_MISTAKES = [
    Mistake("naive", lambda v, dim: v.exp().mean(dim).log(),
            "exp() of a log-weight such as -600 underflows to 0 (and of +600 overflows to inf), so the log gives "
            "-inf or inf. Subtract the maximum first: m + log mean exp(values - m)."),
    Mistake("log_sum_exp", lambda v, dim: torch.logsumexp(v, dim),
            "that is log of the sum: the mean divides by k, so subtract log k (log mean = log sum - log k)."),
    Mistake("mean_of_values", lambda v, dim: v.mean(dim),
            "the mean of the logs is not the log of the mean: by Jensen it is smaller. Average the exponentials."),
]


def check_log_mean_exp(student) -> CheckResult:
    """log_mean_exp(values, dim) = log(mean(exp(values), dim)), exact even for values like -600 or +600."""
    extreme = (torch.tensor([[-600.0, 600.0], [-601.0, 598.0], [-640.0, 599.5]]), 0)
    return check_function(student, _log_mean_exp, _lme_inputs, LOG_MEAN_EXP_MISTAKES, name="log_mean_exp",
                          extra_cases=[extreme], rtol=1e-5, atol=1e-4)


# --------------------------------------------------------------------------- the bound
def _iw_bound(model, images, eps, draw=lambda mu, logvar, eps: mu + (0.5 * logvar).exp() * eps,
              with_q=True, average=_log_mean_exp):
    mu, logvar = model.encode(images)
    z = draw(mu, logvar, eps)                                                  # (k, N, d)
    logits = model.decode(z.flatten(0, 1))
    target = images.unsqueeze(0).expand(len(eps), *images.shape).flatten(0, 1)
    log_weights = -bernoulli_nll(logits, target).view(len(eps), -1) + _log_normal(z, 0 * z, 0 * z)
    if with_q:
        log_weights = log_weights - _log_normal(z, mu, logvar)
    return average(log_weights, 0)


def _tiny_vae():
    model = MLPVAE(latent_dim=3, hidden=16)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))
    return model.eval()


def _iw_inputs(generator):
    n, k = int(torch.randint(2, 5, (1,), generator=generator)), int(torch.randint(2, 6, (1,), generator=generator))
    images = (torch.rand(n, 1, 28, 28, generator=generator) < 0.3).float()  # binary digits' worth of pixels
    return _tiny_vae(), images, torch.randn(k, n, 3, generator=generator)


IW_BOUND_MISTAKES = [
    Mistake("mean_of_log_weights", lambda m, x, e: _iw_bound(m, x, e, average=lambda v, d: v.mean(d)),
            "you averaged the log-weights: that is the ELBO estimated with k samples, as loose as L_1. L_k averages "
            "the weights themselves: log_mean_exp over the k samples."),
    Mistake("no_log_q", lambda m, x, e: _iw_bound(m, x, e, with_q=False),
            "the weight is p(x|z) p(z) / q(z|x): subtract log q(z|x) = log_normal(z, mu, logvar)."),
    Mistake("variance_for_std", lambda m, x, e: _iw_bound(m, x, e, draw=lambda mu, lv, eps: mu + lv.exp() * eps),
            "z = mu + sigma * eps with sigma = exp(logvar / 2), the standard deviation, not exp(logvar)."),
    Mistake("log_sum_exp", lambda m, x, e: _iw_bound(m, x, e, average=lambda v, d: torch.logsumexp(v, d)),
            "the bound averages the k weights: log of the mean, not of the sum (subtract log k)."),
    Mistake("naive_average", lambda m, x, e: _iw_bound(m, x, e, average=lambda v, d: v.exp().mean(d).log()),
            "the log-weights are around -500 here, so exp() underflows to 0 and the bound becomes -inf: use your "
            "log_mean_exp."),
]


def check_iw_bound(student) -> CheckResult:
    """iw_bound(model, images, eps) = log_mean_exp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] (Eq. 5.1)."""
    return check_function(student, _iw_bound, _iw_inputs, IW_BOUND_MISTAKES, name="iw_bound", rtol=1e-4, atol=1e-3)
