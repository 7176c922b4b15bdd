"""Checks for the diffusion assignment (solutions/11_diffusion_assignment.ipynb).

Every function takes the schedule as a tensor ``alpha_bar`` of length T + 1 with
``alpha_bar[0] = 1`` (no noise) and ``alpha_bar[t]`` the signal kept after t steps (Eq. 11.3),
so that ``beta_t = 1 - alpha_bar[t] / alpha_bar[t - 1]``.

Student signatures:
    q_sample(x0, t, eps, alpha_bar) -> x_t                        Eq. (11.4), t: (N,) integers in 1..T
    eps_loss(model, x0, t, eps, alpha_bar) -> scalar              Eq. (11.9), model(x_t, t) predicts eps
    ddpm_step(x_t, eps_hat, t, alpha_bar, noise) -> x_{t-1}       Eq. (11.12), t: a Python int
    ddim_step(x_t, eps_hat, t, s, alpha_bar) -> x_s               Eq. (11.13)
    guided_eps(eps_cond, eps_uncond, w) -> eps                    Eq. (11.15)
    flow_matching_loss(model, x1, noise, t) -> scalar             Eq. (12.2), model(x_t, t) predicts x1 - noise
"""
from __future__ import annotations

import torch

from ..diffusion import cosine_schedule
from .core import CheckResult, Mistake, check_function

__all__ = ["check_q_sample", "check_eps_loss", "check_ddpm_step", "check_ddim_step", "check_guided_eps",
           "check_flow_matching_loss", "Q_SAMPLE_MISTAKES", "EPS_LOSS_MISTAKES", "DDPM_STEP_MISTAKES",
           "DDIM_STEP_MISTAKES", "GUIDANCE_MISTAKES", "FLOW_LOSS_MISTAKES"]

T_CHECK = 20  # a short schedule: every alpha_bar[t] differs clearly from its neighbours
_INDEX = ("alpha_bar is indexed one step off: x_t needs alpha_bar[t] (alpha_bar[0] = 1 is the clean image, "
          "so alpha_bar[t - 1] is the level one step earlier).")
_STD = ("you used a variance where the standard deviation belongs: noise is scaled by sqrt(variance), "
        "e.g. sqrt(1 - alpha_bar[t]) * eps, not (1 - alpha_bar[t]) * eps.")
_SQRT_SIGNAL = ("a square root is missing: the signal is scaled by sqrt(alpha_bar[t]), not alpha_bar[t] "
                "(the variances add up to 1: alpha_bar + (1 - alpha_bar) = 1).")


def _alpha_bar():
    return cosine_schedule(T_CHECK).alpha_bar


def _column(values, like):
    return values.view(-1, *([1] * (like.dim() - 1)))


def _images(generator):
    n = int(torch.randint(3, 7, (1,), generator=generator))
    return torch.rand(n, 1, 4, 4, generator=generator) * 2 - 1


# --------------------------------------------------------------------------- q(x_t | x_0)
def _q(x0, t, eps, alpha_bar, offset=0, signal=lambda a: a.sqrt(), noise=lambda a: (1 - a).sqrt()):
    a = _column(alpha_bar[t + offset], x0)
    return signal(a) * x0 + noise(a) * eps


def _q_inputs(generator):
    x0 = _images(generator)
    t = torch.randint(2, T_CHECK + 1, (len(x0),), generator=generator)
    return x0, t, torch.randn(x0.shape, generator=generator), _alpha_bar()


Q_SAMPLE_MISTAKES = [
    Mistake("index_t_minus_1", lambda x0, t, eps, ab: _q(x0, t, eps, ab, offset=-1), _INDEX),
    Mistake("variance_for_std", lambda x0, t, eps, ab: _q(x0, t, eps, ab, noise=lambda a: 1 - a), _STD),
    Mistake("missing_sqrt", lambda x0, t, eps, ab: _q(x0, t, eps, ab, signal=lambda a: a), _SQRT_SIGNAL),
    Mistake("no_square_roots", lambda x0, t, eps, ab: _q(x0, t, eps, ab, signal=lambda a: a, noise=lambda a: 1 - a),
            "both square roots are missing: x_t = sqrt(alpha_bar[t]) x_0 + sqrt(1 - alpha_bar[t]) eps."),
]


def check_q_sample(student) -> CheckResult:
    """q_sample(x0, t, eps, alpha_bar) = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) eps (Eq. 11.4)."""
    return check_function(student, _q, _q_inputs, Q_SAMPLE_MISTAKES, name="q_sample", trials=3)


# --------------------------------------------------------------------------- the eps-loss
class _TinyEpsModel(torch.nn.Module):
    """A fixed stand-in for the network: a pixel-wise linear map whose coefficients depend on t."""

    def forward(self, x, t):
        return 0.7 * x - 0.05 * _column(t.float(), x) + 0.1


def _eps_loss(model, x0, t, eps, alpha_bar, q=_q, target=None, sees=None):
    x_t = q(x0, t, eps, alpha_bar)
    prediction = model(x0 if sees == "x0" else x_t, t)
    return ((prediction - (x0 if target == "x0" else eps)) ** 2).mean()


def _eps_loss_inputs(generator):
    x0, t, eps, alpha_bar = _q_inputs(generator)
    return _TinyEpsModel(), x0, t, eps, alpha_bar


EPS_LOSS_MISTAKES = [
    Mistake("target_x0", lambda m, x0, t, eps, ab: _eps_loss(m, x0, t, eps, ab, target="x0"),
            "the target is the noise eps that was added, not the clean image x0: the network predicts eps (Eq. 11.9)."),
    Mistake("model_sees_x0", lambda m, x0, t, eps, ab: _eps_loss(m, x0, t, eps, ab, sees="x0"),
            "the network must see the noisy x_t = q_sample(x0, t, eps, alpha_bar), not the clean x0."),
    Mistake("index_t_minus_1", lambda m, x0, t, eps, ab: _eps_loss(
        m, x0, t, eps, ab, q=lambda *a: _q(*a, offset=-1)), _INDEX),
    Mistake("variance_for_std", lambda m, x0, t, eps, ab: _eps_loss(
        m, x0, t, eps, ab, q=lambda *a: _q(*a, noise=lambda a: 1 - a)), _STD),
    Mistake("missing_sqrt", lambda m, x0, t, eps, ab: _eps_loss(
        m, x0, t, eps, ab, q=lambda *a: _q(*a, signal=lambda a: a)), _SQRT_SIGNAL),
]


def check_eps_loss(student) -> CheckResult:
    """eps_loss(model, x0, t, eps, alpha_bar) = mean (model(x_t, t) - eps)^2 over every pixel (Eq. 11.9)."""
    return check_function(student, _eps_loss, _eps_loss_inputs, EPS_LOSS_MISTAKES, name="eps_loss", trials=3)


# --------------------------------------------------------------------------- one DDPM step
def _ddpm(x_t, eps_hat, t, alpha_bar, noise, offset=0, scale=lambda beta: beta.sqrt(),
          alpha_root=lambda alpha: alpha.sqrt(), last_noise=False, alpha_bar_for_alpha=False):
    beta = 1 - alpha_bar[t] / alpha_bar[t - 1]
    alpha = alpha_bar[t] if alpha_bar_for_alpha else 1 - beta
    mean = (x_t - (1 - alpha) / (1 - alpha_bar[t + offset]).sqrt() * eps_hat) / alpha_root(alpha)
    if t == 1 and not last_noise:
        return mean
    return mean + scale(1 - alpha) * noise


def _ddpm_inputs_for(times):
    times = iter(times)

    def make(generator):
        x_t = torch.randn(int(torch.randint(3, 7, (1,), generator=generator)), 1, 4, 4, generator=generator)
        return (x_t, torch.randn(x_t.shape, generator=generator), next(times), _alpha_bar(),
                torch.randn(x_t.shape, generator=generator))
    return make


DDPM_STEP_MISTAKES = [
    Mistake("index_t_minus_1", lambda *a: _ddpm(*a, offset=-1),
            "alpha_bar is indexed one step off: the noise estimate is scaled by beta_t / sqrt(1 - alpha_bar[t]), "
            "the noise level of x_t, not of x_{t-1}."),
    Mistake("variance_for_std", lambda *a: _ddpm(*a, scale=lambda beta: beta),
            "you used the variance beta_t where the standard deviation belongs: add sqrt(beta_t) * noise."),
    Mistake("missing_sqrt", lambda *a: _ddpm(*a, alpha_root=lambda alpha: alpha),
            "a square root is missing: divide by sqrt(alpha_t) = sqrt(1 - beta_t), not by alpha_t."),
    Mistake("noise_at_last_step", lambda *a: _ddpm(*a, last_noise=True),
            "you added noise at the last step (t = 1): x_0 is the mean of p(x_0 | x_1), returned without noise, "
            "or the final image keeps a grain of noise."),
    Mistake("alpha_bar_for_alpha", lambda *a: _ddpm(*a, alpha_bar_for_alpha=True),
            "one step uses alpha_t = 1 - beta_t = alpha_bar[t] / alpha_bar[t - 1], not the cumulative alpha_bar[t]."),
]


def check_ddpm_step(student) -> CheckResult:
    """ddpm_step(x_t, eps_hat, t, alpha_bar, noise) = (x_t - beta_t / sqrt(1 - alpha_bar[t]) eps_hat) / sqrt(alpha_t)
    + sqrt(beta_t) noise, with no noise at t = 1 (Eq. 11.12). Tested at t = T, 1, 7 and 2."""
    return check_function(student, _ddpm, _ddpm_inputs_for([T_CHECK, 1, 7, 2]), DDPM_STEP_MISTAKES,
                          name="ddpm_step", trials=4)


# --------------------------------------------------------------------------- one DDIM step
def _ddim(x_t, eps_hat, t, s, alpha_bar, offset=0, noise=lambda a: (1 - a).sqrt(), signal=lambda a: a.sqrt(),
          swapped=False):
    a_t, a_s = alpha_bar[t + offset], alpha_bar[s]
    if swapped:
        a_t, a_s = a_s, a_t
    x0_hat = (x_t - (1 - a_t).sqrt() * eps_hat) / a_t.sqrt()
    return signal(a_s) * x0_hat + noise(a_s) * eps_hat


def _ddim_inputs(generator):
    x_t = torch.randn(int(torch.randint(3, 7, (1,), generator=generator)), 1, 4, 4, generator=generator)
    t = int(torch.randint(4, T_CHECK + 1, (1,), generator=generator))
    s = int(torch.randint(0, t - 2, (1,), generator=generator))
    return x_t, torch.randn(x_t.shape, generator=generator), t, s, _alpha_bar()


DDIM_STEP_MISTAKES = [
    Mistake("index_t_minus_1", lambda *a: _ddim(*a, offset=-1),
            "alpha_bar is indexed one step off: x0_hat = (x_t - sqrt(1 - alpha_bar[t]) eps_hat) / sqrt(alpha_bar[t]) "
            "uses the level of x_t itself, alpha_bar[t]."),
    Mistake("swapped_times", lambda *a: _ddim(*a, swapped=True),
            "t and s are swapped: estimate x0 with alpha_bar[t] (where x_t is), then re-noise it to alpha_bar[s]."),
    Mistake("variance_for_std", lambda *a: _ddim(*a, noise=lambda a: 1 - a),
            "you used a variance where the standard deviation belongs: re-noise with sqrt(1 - alpha_bar[s]) * eps_hat."),
    Mistake("missing_sqrt", lambda *a: _ddim(*a, signal=lambda a: a),
            "a square root is missing: x_s = sqrt(alpha_bar[s]) x0_hat + sqrt(1 - alpha_bar[s]) eps_hat."),
]


def check_ddim_step(student) -> CheckResult:
    """ddim_step(x_t, eps_hat, t, s, alpha_bar) = sqrt(alpha_bar[s]) x0_hat + sqrt(1 - alpha_bar[s]) eps_hat (Eq. 11.13)."""
    return check_function(student, _ddim, _ddim_inputs, DDIM_STEP_MISTAKES, name="ddim_step", trials=3)


# --------------------------------------------------------------------------- classifier-free guidance
def _guided(eps_cond, eps_uncond, w):
    return (1 + w) * eps_cond - w * eps_uncond


def _guidance_inputs(generator):
    shape = (int(torch.randint(2, 5, (1,), generator=generator)), 1, 3, 3)
    w = float(torch.rand(1, generator=generator)) * 3 + 0.5
    return torch.randn(shape, generator=generator), torch.randn(shape, generator=generator), w


GUIDANCE_MISTAKES = [
    Mistake("guidance_sign_flipped", lambda c, u, w: (1 - w) * c + w * u,
            "the guidance sign is flipped: that moves *towards* the unconditional prediction. Guidance extrapolates "
            "away from it: eps = eps_cond + w (eps_cond - eps_uncond)."),
    Mistake("swapped_predictions", lambda c, u, w: (1 + w) * u - w * c,
            "conditional and unconditional are swapped: (1 + w) multiplies the conditional prediction eps(x, y)."),
    Mistake("other_convention", lambda c, u, w: u + w * (c - u),
            "that is the convention eps_uncond + w (eps_cond - eps_uncond), where w = 1 means no guidance; this course "
            "writes (1 + w) eps_cond - w eps_uncond, so that w = 0 is plain conditional sampling (Eq. 11.15)."),
]


def check_guided_eps(student) -> CheckResult:
    """guided_eps(eps_cond, eps_uncond, w) = (1 + w) eps_cond - w eps_uncond (Eq. 11.15)."""
    return check_function(student, _guided, _guidance_inputs, GUIDANCE_MISTAKES, name="guided_eps", trials=3)


# --------------------------------------------------------------------------- flow matching
def _flow_loss(model, x1, noise, t, target=None, reversed_path=False):
    column = _column(t, x1)
    x_t = column * noise + (1 - column) * x1 if reversed_path else (1 - column) * noise + column * x1
    goal = {None: x1 - noise, "reversed": noise - x1, "data": x1}[target]
    return ((model(x_t, t) - goal) ** 2).mean()


def _flow_inputs(generator):
    x1 = _images(generator)
    return _TinyEpsModel(), x1, torch.randn(x1.shape, generator=generator), torch.rand(len(x1), generator=generator)


FLOW_LOSS_MISTAKES = [
    Mistake("target_reversed", lambda *a: _flow_loss(*a, target="reversed"),
            "the flow-matching target points the wrong way: along x_t = (1 - t) noise + t x1 the velocity is "
            "dx_t/dt = x1 - noise (from noise towards data), not noise - x1."),
    Mistake("path_reversed", lambda *a: _flow_loss(*a, reversed_path=True),
            "the path runs backwards: at t = 0 the sample is pure noise and at t = 1 it is the data, "
            "x_t = (1 - t) noise + t x1 (Eq. 12.1)."),
    Mistake("target_is_data", lambda *a: _flow_loss(*a, target="data"),
            "the target is the velocity x1 - noise, not the data x1: the network learns in which direction to move."),
]


def check_flow_matching_loss(student) -> CheckResult:
    """flow_matching_loss(model, x1, noise, t) = mean (model(x_t, t) - (x1 - noise))^2, x_t = (1 - t) noise + t x1."""
    return check_function(student, _flow_loss, _flow_inputs, FLOW_LOSS_MISTAKES, name="flow_matching_loss", trials=3)
