"""Diffusion and flow matching for 28x28 digits: schedule, network, losses and samplers in one file.

Notebook 11 derives diffusion, notebook 12 flow matching; equation numbers refer to them.
Images live in [-1, 1] (Eq. 11.1) and time in [0, 1] for the network, whichever model it serves.

Diffusion (discrete time t = 1..T, t = 0 is the clean image)
    alpha_bar[t]        = prod_{s<=t} (1 - beta_s),  alpha_bar[0] = 1                 (Eq. 11.3)
    q(x_t | x_0)        = N(sqrt(alpha_bar[t]) x_0, (1 - alpha_bar[t]) I)              (Eq. 11.4)
    eps-loss            = E || eps - eps_theta(x_t, t) ||^2                             (Eq. 11.9)
    v                   = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x_0                (Eq. 11.10)
    DDPM step           = (x_t - beta_t / sqrt(1 - alpha_bar[t]) eps) / sqrt(1 - beta_t) + sqrt(beta_t) z  (Eq. 11.12)
    DDIM step           = sqrt(alpha_bar[s]) x0_hat + sqrt(1 - alpha_bar[s]) eps_hat,  s < t          (Eq. 11.13)
    guidance            = (1 + w) eps(x, y) - w eps(x, no label)                      (Eq. 11.15)
Flow matching (continuous time, t = 0 noise, t = 1 data)
    x_t = (1 - t) x_0 + t x_1,  target velocity x_1 - x_0                             (Eq. 12.1, 12.2)
    Euler: x += h v(x, t);  Heun: average the slopes at both ends of the step          (Eq. 12.4, 12.5)
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from ._validate import check_positive_int, check_tensor

__all__ = ["NUM_CLASSES", "NO_LABEL", "Schedule", "cosine_schedule", "linear_schedule", "q_sample",
           "eps_loss", "diffusion_loss", "predict_eps_x0", "ddpm_step", "ddim_step", "guided_output",
           "sample_diffusion", "flow_interpolate", "flow_matching_loss", "sample_flow", "TimeUNet",
           "to_unit_range", "drop_labels"]

NUM_CLASSES = 10
NO_LABEL = NUM_CLASSES  # the extra label index that means "unconditional" (classifier-free guidance)


# --------------------------------------------------------------------------- noise schedules
class Schedule:
    """The discrete noise schedule: ``alpha_bar[t]`` for t = 0..T, with ``alpha_bar[0] = 1`` (Eq. 11.3).

    ``beta[t] = 1 - alpha_bar[t] / alpha_bar[t - 1]`` for t >= 1 (``beta[0] = 0``).
    """

    def __init__(self, alpha_bar: torch.Tensor):
        check_tensor(alpha_bar, "alpha_bar", ndim=1)
        if alpha_bar[0] != 1 or not (alpha_bar[1:] < alpha_bar[:-1]).all() or alpha_bar[-1] <= 0:
            raise ValueError("alpha_bar must start at 1 and decrease strictly, staying above 0")
        self.alpha_bar = alpha_bar.double().float()
        self.beta = torch.cat([torch.zeros(1), 1 - self.alpha_bar[1:] / self.alpha_bar[:-1]])
        self.T = len(alpha_bar) - 1

    def snr(self) -> torch.Tensor:
        """Signal-to-noise ratio alpha_bar / (1 - alpha_bar) of t = 1..T."""
        return self.alpha_bar[1:] / (1 - self.alpha_bar[1:])

    def at(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """alpha_bar[t] for a batch of integer times, shaped to broadcast against ``like``."""
        return self.alpha_bar.to(like.device)[t].view(-1, *([1] * (like.dim() - 1)))


def cosine_schedule(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
    """Nichol & Dhariwal: alpha_bar(t) = f(t) / f(0), f(t) = cos^2(pi/2 (t/T + s) / (1 + s)) (Eq. 11.5)."""
    check_positive_int(T, "T")
    steps = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    beta = (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)  # the last steps would reach beta = 1
    return Schedule(torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - beta, 0)]).float())


def linear_schedule(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    """Ho et al.: beta grows linearly from 1e-4 to 0.02 over T = 1000 steps (Eq. 11.2)."""
    check_positive_int(T, "T")
    beta = torch.linspace(beta_start * 1000 / T, beta_end * 1000 / T, T, dtype=torch.float64)
    return Schedule(torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - beta, 0)]).float())


# --------------------------------------------------------------------------- forward process and losses
def q_sample(x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """x_t = sqrt(alpha_bar[t]) x_0 + sqrt(1 - alpha_bar[t]) eps: one jump from x_0 to x_t (Eq. 11.4)."""
    a = schedule.at(t, x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * eps


def drop_labels(labels: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each label by ``NO_LABEL`` with probability p, so one network learns both eps(x, y) and eps(x)."""
    drop = torch.rand(labels.shape, generator=generator, device=labels.device) < p
    return torch.where(drop, torch.full_like(labels, NO_LABEL), labels)


def _times_labels(x0, labels, T, generator):
    t = torch.randint(1, T + 1, (len(x0),), generator=generator, device=x0.device)
    labels = torch.full((len(x0),), NO_LABEL, device=x0.device) if labels is None else labels
    return t, labels


def eps_loss(model: nn.Module, x0: torch.Tensor, schedule: Schedule, labels: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """The simple loss: E_{t, eps} || eps - eps_theta(x_t, t) ||^2, t uniform in 1..T (Eq. 11.9)."""
    return diffusion_loss(model, x0, schedule, labels, "eps", generator)


def diffusion_loss(model: nn.Module, x0: torch.Tensor, schedule: Schedule, labels: torch.Tensor | None = None,
                   prediction: str = "v", generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean squared error of the network's eps- or v-prediction at a random time (Eq. 11.9, 11.10)."""
    if prediction not in ("eps", "v"):
        raise ValueError(f"prediction must be 'eps' or 'v', got {prediction!r}")
    t, labels = _times_labels(x0, labels, schedule.T, generator)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device)
    x_t = q_sample(x0, t, eps, schedule)
    a = schedule.at(t, x0)
    target = eps if prediction == "eps" else a.sqrt() * eps - (1 - a).sqrt() * x0
    return F.mse_loss(model(x_t, t.float() / schedule.T, labels), target)


def predict_eps_x0(output: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule,
                   prediction: str = "v") -> tuple[torch.Tensor, torch.Tensor]:
    """(eps_hat, x0_hat) from the network's output: eps = sqrt(a) v + sqrt(1-a) x_t, x0 = sqrt(a) x_t - sqrt(1-a) v."""
    a = schedule.at(t, x_t)
    if prediction == "v":
        return a.sqrt() * output + (1 - a).sqrt() * x_t, a.sqrt() * x_t - (1 - a).sqrt() * output
    return output, (x_t - (1 - a).sqrt() * output) / a.sqrt()


# --------------------------------------------------------------------------- reverse steps
def ddpm_step(x_t: torch.Tensor, eps_hat: torch.Tensor, t: int, schedule: Schedule,
              noise: torch.Tensor | None = None) -> torch.Tensor:
    """One ancestral step x_t -> x_{t-1} (Eq. 11.12), variance beta_t; no noise is added at t = 1."""
    beta = schedule.beta[t]
    mean = (x_t - beta / (1 - schedule.alpha_bar[t]).sqrt() * eps_hat) / (1 - beta).sqrt()
    if t == 1:
        return mean
    noise = torch.randn_like(x_t) if noise is None else noise
    return mean + beta.sqrt() * noise


def ddim_step(x_t: torch.Tensor, eps_hat: torch.Tensor, t: int, s: int, schedule: Schedule) -> torch.Tensor:
    """Deterministic jump x_t -> x_s, s < t (Eq. 11.13): re-noise the predicted x_0 to level s with the same eps."""
    a_t, a_s = schedule.alpha_bar[t], schedule.alpha_bar[s]
    x0_hat = (x_t - (1 - a_t).sqrt() * eps_hat) / a_t.sqrt()
    return a_s.sqrt() * x0_hat + (1 - a_s).sqrt() * eps_hat


def guided_output(model: nn.Module, x: torch.Tensor, time: torch.Tensor, labels: torch.Tensor | None,
                  guidance: float = 0.0) -> torch.Tensor:
    """Classifier-free guidance (Eq. 11.15): (1 + w) f(x, y) - w f(x, no label), in one batched call.

    Works for any output that is linear in the score: eps, v, or a flow velocity.
    """
    null = torch.full((len(x),), NO_LABEL, device=x.device, dtype=torch.long)
    if labels is None:
        return model(x, time, null)
    if guidance == 0:
        return model(x, time, labels)
    both = model(torch.cat([x, x]), torch.cat([time, time]), torch.cat([labels, null]))
    conditional, unconditional = both.chunk(2)
    return (1 + guidance) * conditional - guidance * unconditional


def _check_sampling(n, steps):
    check_positive_int(n, "n")
    check_positive_int(steps, "steps")


@torch.no_grad()
def sample_diffusion(model: nn.Module, schedule: Schedule, n: int, steps: int = 50, method: str = "ddim",
                     labels: torch.Tensor | None = None, guidance: float = 0.0, prediction: str = "v",
                     seed: int | None = 0, trajectory: bool = False, clip: bool = True, batch_size: int = 500):
    """n digits in [-1, 1] from noise: ``steps`` evenly spaced times T = t_K > ... > t_1 > 0.

    method "ddim": deterministic jumps (Eq. 11.13); "ddpm": ancestral steps (Eq. 11.12 on the
    shortened chain, i.e. with beta = 1 - alpha_bar[t] / alpha_bar[s] between consecutive times).
    ``clip`` keeps x0_hat in [-1, 1]. With ``trajectory=True`` also returns x at every step.
    """
    _check_sampling(n, steps)
    if method not in ("ddim", "ddpm"):
        raise ValueError(f"method must be 'ddim' or 'ddpm', got {method!r}")
    if steps > schedule.T:
        raise ValueError(f"steps ({steps}) cannot exceed the schedule's T ({schedule.T})")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    times = torch.linspace(schedule.T, 0, steps + 1).round().long().tolist()
    outs, path = [], []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        x = torch.randn(m, 1, 28, 28, generator=generator).to(device)
        y = None if labels is None else labels[start:start + m].to(device)
        steps_x = [x.cpu()]
        for t, s in zip(times[:-1], times[1:]):
            tt = torch.full((m,), t, device=device)
            output = guided_output(model, x, tt.float() / schedule.T, y, guidance)
            eps_hat, x0_hat = predict_eps_x0(output, x, tt, schedule, prediction)
            if clip:
                x0_hat = x0_hat.clamp(-1, 1)
            a_t, a_s = schedule.alpha_bar[t], schedule.alpha_bar[s]
            if method == "ddim":
                eps_hat = (x - a_t.sqrt() * x0_hat) / (1 - a_t).sqrt()  # consistent with the clipped x0_hat
                x = a_s.sqrt() * x0_hat + (1 - a_s).sqrt() * eps_hat
            else:  # posterior q(x_s | x_t, x0_hat): mean and variance of the shortened chain
                beta = 1 - a_t / a_s
                mean = (a_s.sqrt() * beta * x0_hat + (1 - beta).sqrt() * (1 - a_s) * x) / (1 - a_t)
                var = beta * (1 - a_s) / (1 - a_t)
                noise = torch.randn(x.shape, generator=generator).to(device)
                x = mean + (var.sqrt() * noise if s > 0 else 0)
            if trajectory:
                steps_x.append(x.cpu())
        outs.append(x.clamp(-1, 1).cpu())
        path.append(torch.stack(steps_x, 1))
    images = torch.cat(outs)
    return (images, torch.cat(path)) if trajectory else images


# --------------------------------------------------------------------------- flow matching
def flow_interpolate(noise: torch.Tensor, data: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The straight path x_t = (1 - t) x_0 + t x_1 from noise x_0 (t = 0) to data x_1 (t = 1) (Eq. 12.1)."""
    t = t.view(-1, *([1] * (data.dim() - 1)))
    return (1 - t) * noise + t * data


def flow_matching_loss(model: nn.Module, data: torch.Tensor, labels: torch.Tensor | None = None,
                       generator: torch.Generator | None = None, time_sampling: str = "logit_normal"
                       ) -> torch.Tensor:
    """E || v_theta(x_t, t) - (x_1 - x_0) ||^2 (Eq. 12.2). Times are uniform or logit-normal (more weight mid-path)."""
    n = len(data)
    if time_sampling == "uniform":
        t = torch.rand(n, generator=generator, device=data.device)
    elif time_sampling == "logit_normal":
        t = torch.sigmoid(torch.randn(n, generator=generator, device=data.device))
    else:
        raise ValueError(f"time_sampling must be 'uniform' or 'logit_normal', got {time_sampling!r}")
    noise = torch.randn(data.shape, generator=generator, device=data.device)
    x_t = flow_interpolate(noise, data, t)
    if labels is None:
        labels = torch.full((n,), NO_LABEL, device=data.device)
    return F.mse_loss(model(x_t, t, labels), data - noise)


@torch.no_grad()
def sample_flow(model: nn.Module, n: int, steps: int = 10, method: str = "heun", labels: torch.Tensor | None = None,
                guidance: float = 0.0, seed: int | None = 0, shape: tuple[int, ...] = (1, 28, 28),
                trajectory: bool = False, batch_size: int = 500):
    """Integrate dx/dt = v(x, t) from noise at t = 0 to data at t = 1 with Euler or Heun steps (Eq. 12.4, 12.5).

    Network evaluations: ``steps`` for Euler, ``2 * steps - 1`` for Heun (its last step is an Euler step).
    """
    _check_sampling(n, steps)
    if method not in ("euler", "heun"):
        raise ValueError(f"method must be 'euler' or 'heun', got {method!r}")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    times = torch.linspace(0, 1, steps + 1).tolist()
    outs, path = [], []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        x = torch.randn(m, *shape, generator=generator).to(device)
        y = None if labels is None else labels[start:start + m].to(device)
        velocity = lambda x, t: guided_output(model, x, torch.full((m,), t, device=device), y, guidance)  # noqa: E731
        steps_x = [x.cpu()]
        for t, t_next in zip(times[:-1], times[1:]):
            h = t_next - t
            slope = velocity(x, t)
            if method == "heun" and t_next < 1:
                x_euler = x + h * slope
                x = x + h / 2 * (slope + velocity(x_euler, t_next))
            else:
                x = x + h * slope
            if trajectory:
                steps_x.append(x.cpu())
        outs.append(x.cpu())
        path.append(torch.stack(steps_x, 1))
    images = torch.cat(outs)
    return (images, torch.cat(path)) if trajectory else images


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], clipped: what the evaluation network and the plots expect."""
    return ((images + 1) / 2).clamp(0, 1)


# --------------------------------------------------------------------------- the network
def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of t in [0, 1] (Eq. 11.14): sin and cos of 1000 t at geometric frequencies."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / half)
    angles = 1000 * t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], 1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the time (and label) embedding added in between, plus a skip path."""

    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2 = nn.GroupNorm(min(groups, cout), cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class TimeUNet(nn.Module):
    """A small U-Net f(x, t, y) for 28x28 digits: the same network serves eps, v and flow velocity.

    The image is folded once into 4 channels at 14x14 (pixel unshuffle, lossless), so every
    convolution runs at 14x14 (``width`` channels) or 7x7 (``2 * width``): a quarter of the cost of
    working at 28x28. Time (sinusoidal) and label (learned embedding; index 10 = no label) are
    summed into one vector that every residual block adds to its features.
    """

    def __init__(self, width: int = 32, emb_dim: int = 128, groups: int = 8, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.config = dict(width=width, emb_dim=emb_dim, groups=groups, num_classes=num_classes)
        w = width
        self.time_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label_embedding = nn.Embedding(num_classes + 1, emb_dim)
        self.fold, self.unfold = nn.PixelUnshuffle(2), nn.PixelShuffle(2)
        self.stem = nn.Conv2d(4, w, 3, padding=1)
        self.down1 = ResBlock(w, w, emb_dim, groups)                       # 14x14
        self.downsample = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)        # -> 7x7
        self.down2 = ResBlock(2 * w, 2 * w, emb_dim, groups)
        self.middle = ResBlock(2 * w, 2 * w, emb_dim, groups)
        self.up2 = ResBlock(4 * w, 2 * w, emb_dim, groups)                   # concat skip from down2
        self.upsample = nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1)  # -> 14x14
        self.up1 = ResBlock(2 * w, w, emb_dim, groups)                       # concat skip from down1
        self.head = nn.Sequential(nn.GroupNorm(min(groups, w), w), nn.SiLU(), nn.Conv2d(w, 4, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        emb = self.time_mlp(time_embedding(t, self.config["emb_dim"])) + self.label_embedding(labels)
        emb = F.silu(emb)
        h = self.stem(self.fold(x))
        h1 = self.down1(h, emb)
        h2 = self.down2(self.downsample(h1), emb)
        h = self.middle(h2, emb)
        h = self.up2(torch.cat([h, h2], 1), emb)
        h = self.up1(torch.cat([self.upsample(h), h1], 1), emb)
        return self.unfold(self.head(h))
