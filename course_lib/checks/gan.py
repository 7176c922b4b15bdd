"""Checks for the GAN assignments: the objective (solutions/02_gan_objective_assignment.ipynb, at the end of
this file) and the losses (solutions/03_gan_losses_assignment.ipynb).

Every loss takes logits ``l`` (D(x) = sigmoid(l)) and returns the batch mean.
The listed mistakes are the classic ones: a missing log, a flipped sign, sum instead
of mean, the log-free formula E[D(x)] - E[D(G(z))], a sigmoid applied before a loss on
logits, the generator trained against label 0 (or to minimise E[D(G(z))]), and detaching
in the wrong place. Notebook 99 trains each of them and shows it failing.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from .. import gan
from .core import (CheckResult, Diagnosis, Mistake, check_function, reported, require_function, single_thread,
                   wrong_kind)
from .._validate import check_positive_int

__all__ = ["check_discriminator_loss", "check_generator_loss_minimax", "check_generator_loss_non_saturating",
           "check_gan_step_losses", "check_gradient_penalty", "check_jensen_shannon", "check_lsgan_discriminator_loss",
           "check_lsgan_generator_loss", "check_gan_training_step", "train_wgan_gp_critic", "critic_gap",
           "check_critic_estimates_w1", "TRUE_W1", "JSD_MISTAKES", "LSGAN_D_MISTAKES",
           "LSGAN_G_MISTAKES", "TRAINING_STEP_MISTAKES",
           "D_LOSS_MISTAKES", "G_MINIMAX_MISTAKES", "G_NON_SATURATING_MISTAKES", "STEP_MISTAKES", "GP_MISTAKES"]

_SUM = ("you summed over the batch: average instead (.mean()), so that the loss and the learning rate "
        "do not depend on the batch size.")
_LOG_FREE = ("that is the log-free formula E[D(x)] - E[D(G(z))] on raw logits: the Wasserstein critic objective, "
             "not the GAN objective. For an unconstrained real-valued critic it has no maximum (it grows without "
             "bound unless the critic is kept 1-Lipschitz, notebook 02, Eq. 2.8). The GAN loss has logs: "
             "E[softplus(-l_real)] + E[softplus(l_fake)].")
_LOG_FREE_PROBABILITIES = (
    "that is the log-free formula E[D(x)] - E[D(G(z))] with D = sigmoid(l): bounded (its supremum over D in [0, 1] "
    "is the total-variation distance, notebook 99, Eq. 99.1) and reached by a D that outputs exactly 0 or 1, where "
    "sigmoid's gradient vanishes and the generator stops learning. The GAN loss has logs: "
    "E[softplus(-l_real)] + E[softplus(l_fake)].")
_SIGMOID_TWICE = ("you applied a sigmoid before a loss that expects logits: softplus and "
                  "binary_cross_entropy_with_logits apply the sigmoid themselves, so the loss saw sigmoid(sigmoid(l)). "
                  "Pass the discriminator's raw logits.")
_LABEL_ZERO_FOR_G = ("the generator's loss uses label 0 (BCE(D(G(z)), 0) = -log(1 - D(G(z)))): it trains the generator "
                     "to make D call its samples *fake*. The generator step uses label 1: BCE(D(G(z)), 1) = "
                     "-log D(G(z)). (Reusing the discriminator's fake labels for the generator gives exactly this.)")
_MINIMISES_D = ("the generator minimises E[D(G(z))]: it is trained to make D call its samples fake, and runs away from "
                "the data. It must make D(G(z)) large: minimise -E[log D(G(z))].")


def _logits(generator):
    """Logits of a random batch size and a random scale (0.5 to 4), so no two trials share a ratio by chance."""
    n = int(torch.randint(4, 17, (1,), generator=generator))
    scale = 0.5 + 3.5 * float(torch.rand(1, generator=generator))
    return scale * torch.randn(n, generator=generator), scale * torch.randn(n, generator=generator)


def _fake_logits(generator):
    return (_logits(generator)[1],)


# Logits a confident discriminator produces. In float32 sigmoid(25) rounds to exactly 1, so a formula
# written as log(sigmoid(l)) or log(1 - sigmoid(l)) returns inf there; the softplus forms stay exact.
EXTREME = torch.tensor([-120.0, -40.0, -25.0, 25.0, 40.0, 120.0])
EXTREME_PAIRS = [(EXTREME, EXTREME.flip(0)), (EXTREME, EXTREME)]
_NAIVE_LOG = ("your formula takes log(sigmoid(l)) or log(1 - sigmoid(l)) directly: in float32 sigmoid(25) rounds to "
              "exactly 1, so at the logits a confident discriminator produces (|l| >= 25) the loss is inf and "
              "training stops. Write it with F.logsigmoid / F.softplus (log(1 - sigmoid(l)) = logsigmoid(-l)) or "
              "F.binary_cross_entropy_with_logits.")


# --------------------------------------------------------------------------- discriminator loss
D_LOSS_MISTAKES = [
    Mistake("naive_log_sigmoid",
            lambda r, f: -(torch.sigmoid(r).log().mean() + (1 - torch.sigmoid(f)).log().mean()), _NAIVE_LOG),
    Mistake("missing_log", lambda r, f: -(F.logsigmoid(r).mean() + (1 - torch.sigmoid(f)).mean()),
            "the fake term has no log: it must be -E[log(1 - D(G(z)))] = E[softplus(l_fake)], "
            "not -E[1 - D(G(z))]."),
    Mistake("missing_log_real", lambda r, f: -(torch.sigmoid(r).mean() + F.logsigmoid(-f).mean()),
            "the real term has no log: it must be -E[log D(x)] = E[softplus(-l_real)], not -E[D(x)]."),
    Mistake("flipped_sign", lambda r, f: F.logsigmoid(r).mean() + F.logsigmoid(-f).mean(),
            "you returned V(D, G), which the discriminator *maximises*; its loss (to minimise) is -V(D, G)."),
    Mistake("sum_not_mean", lambda r, f: F.softplus(-r).sum() + F.softplus(f).sum(), _SUM),
    Mistake("log_free", lambda r, f: f.mean() - r.mean(), _LOG_FREE),
    Mistake("log_free_probabilities", lambda r, f: torch.sigmoid(f).mean() - torch.sigmoid(r).mean(),
            _LOG_FREE_PROBABILITIES),
    Mistake("sigmoid_twice",
            lambda r, f: F.softplus(-torch.sigmoid(r)).mean() + F.softplus(torch.sigmoid(f)).mean(), _SIGMOID_TWICE),
    Mistake("swapped_labels", lambda r, f: F.softplus(r).mean() + F.softplus(-f).mean(),
            "real and fake are swapped: real images should get the label 1 (softplus(-l_real)), "
            "fakes the label 0 (softplus(l_fake))."),
]


def check_discriminator_loss(student) -> CheckResult:
    """discriminator_loss(real_logits, fake_logits) = -E[log D(x)] - E[log(1 - D(G(z)))] (Eq. 2.6)."""
    return check_function(student, lambda r, f: gan.discriminator_loss(r, f, "minimax"), _logits,
                          D_LOSS_MISTAKES, name="discriminator_loss", trials=4, extra_cases=EXTREME_PAIRS)


# --------------------------------------------------------------------------- generator losses
G_MINIMAX_MISTAKES = [
    Mistake("naive_log_sigmoid", lambda f: (1 - torch.sigmoid(f)).log().mean(), _NAIVE_LOG),
    Mistake("missing_log", lambda f: (1 - torch.sigmoid(f)).mean(),
            "the log is missing: the minimax generator loss is E[log(1 - D(G(z)))] = -E[softplus(l)]."),
    Mistake("flipped_sign", lambda f: F.softplus(f).mean(),
            "wrong sign: the generator *minimises* E[log(1 - D(G(z)))], i.e. returns -E[softplus(l)]."),
    Mistake("sum_not_mean", lambda f: -F.softplus(f).sum(), _SUM),
    Mistake("log_free", lambda f: -f.mean(), _LOG_FREE),
    Mistake("non_saturating_instead", lambda f: F.softplus(-f).mean(),
            "that is the non-saturating loss -E[log D(G(z))]; this exercise asks for the minimax one, "
            "E[log(1 - D(G(z)))]."),
    Mistake("sigmoid_twice", lambda f: -F.softplus(torch.sigmoid(f)).mean(), _SIGMOID_TWICE),
]

G_NON_SATURATING_MISTAKES = [
    Mistake("naive_log_sigmoid", lambda f: -torch.sigmoid(f).log().mean(), _NAIVE_LOG),
    Mistake("missing_log", lambda f: -torch.sigmoid(f).mean(),
            "the log is missing: the non-saturating loss is -E[log D(G(z))] = E[softplus(-l)], not -E[D(G(z))]."),
    Mistake("flipped_sign", lambda f: F.logsigmoid(f).mean(),
            "wrong sign: the generator wants D(G(z)) high, so it minimises -E[log D(G(z))]."),
    Mistake("sum_not_mean", lambda f: F.softplus(-f).sum(), _SUM),
    Mistake("log_free", lambda f: -f.mean(), _LOG_FREE),
    Mistake("minimax_instead", lambda f: -F.softplus(f).mean(),
            "that is the minimax (saturating) loss E[log(1 - D(G(z)))]; the non-saturating one is -E[log D(G(z))]."),
    Mistake("label_zero", lambda f: F.softplus(f).mean(), _LABEL_ZERO_FOR_G),
    Mistake("minimises_d_of_fake", lambda f: torch.sigmoid(f).mean(), _MINIMISES_D),
    Mistake("sigmoid_twice", lambda f: F.softplus(-torch.sigmoid(f)).mean(), _SIGMOID_TWICE),
]


def check_generator_loss_minimax(student) -> CheckResult:
    """generator_loss_minimax(fake_logits) = E[log(1 - D(G(z)))] (Eq. 2.4)."""
    return check_function(student, lambda f: gan.generator_loss(f, "minimax"), _fake_logits,
                          G_MINIMAX_MISTAKES, name="generator_loss_minimax", trials=4, extra_cases=[(EXTREME,)])


def check_generator_loss_non_saturating(student) -> CheckResult:
    """generator_loss_non_saturating(fake_logits) = -E[log D(G(z))] (Eq. 2.5)."""
    return check_function(student, lambda f: gan.generator_loss(f, "non_saturating"), _fake_logits,
                          G_NON_SATURATING_MISTAKES, name="generator_loss_non_saturating", trials=4,
                          extra_cases=[(EXTREME,)])


# --------------------------------------------------------------------------- where to detach
def _step_inputs(generator):
    seed = int(torch.randint(0, 10_000, (1,), generator=generator))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        G = gan.MLPGenerator(latent_dim=2, data_dim=2, hidden=8, depth=1)
        D = gan.MLPDiscriminator(data_dim=2, hidden=8, depth=1)
    return D, G, torch.randn(6, 2, generator=generator), torch.randn(6, 2, generator=generator)


def _reaches(loss, module) -> bool:
    """Does back-propagating ``loss`` give ``module`` a non-zero gradient?"""
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return False
    grads = torch.autograd.grad(loss, list(module.parameters()), allow_unused=True, retain_graph=True)
    return any(g is not None and bool(g.abs().sum() > 0) for g in grads)


def _observe_step(fn, args):
    D, G, real, z = copy.deepcopy(args[0]), copy.deepcopy(args[1]), args[2], args[3]
    d_loss, g_loss = fn(D, G, real, z)
    return (d_loss.detach(), g_loss.detach(), _reaches(d_loss, D), _reaches(d_loss, G),
            _reaches(g_loss, G))


def _reference_step(D, G, real, z):
    fake = G(z)
    d_loss = gan.discriminator_loss(D(real), D(fake.detach()), "minimax")
    g_loss = gan.generator_loss(D(fake), "non_saturating")
    return d_loss, g_loss


def _no_detach(D, G, real, z):
    fake = G(z)
    return gan.discriminator_loss(D(real), D(fake), "minimax"), gan.generator_loss(D(fake), "non_saturating")


def _detach_in_g_step(D, G, real, z):
    fake = G(z).detach()
    return gan.discriminator_loss(D(real), D(fake), "minimax"), gan.generator_loss(D(fake), "non_saturating")


def _labels_reused(D, G, real, z):
    fake = G(z)
    real_logits, fake_logits = D(real), D(fake.detach())
    real_labels, fake_labels = torch.ones_like(real_logits), torch.zeros_like(fake_logits)
    d_loss = F.binary_cross_entropy_with_logits(real_logits, real_labels) + F.binary_cross_entropy_with_logits(
        fake_logits, fake_labels)
    g_logits = D(fake)
    return d_loss, F.binary_cross_entropy_with_logits(g_logits, fake_labels)   # the fakes' label 0, reused


def _minimises_d_of_fake(D, G, real, z):
    fake = G(z)
    return (gan.discriminator_loss(D(real), D(fake.detach()), "minimax"), torch.sigmoid(D(fake)).mean())


STEP_MISTAKES = [
    Mistake("no_detach_in_d_step", _no_detach,
            "the discriminator's loss sends gradients into the generator: use G(z).detach() for the "
            "discriminator step, or G is pushed by D's objective (and you pay for a useless backward pass)."),
    Mistake("detach_in_g_step", _detach_in_g_step,
            "the generator's loss reaches no generator weight: you detached G(z) in the generator step. "
            "Detach only in the discriminator step; the generator learns *through* D."),
    Mistake("labels_reused_for_generator", _labels_reused, _LABEL_ZERO_FOR_G),
    Mistake("minimises_d_of_fake", _minimises_d_of_fake, _MINIMISES_D),
]


def check_gan_step_losses(student) -> CheckResult:
    """gan_step_losses(D, G, real, z) -> (d_loss, g_loss): detach G(z) for D's loss only."""
    return check_function(student, _reference_step, _step_inputs, STEP_MISTAKES, name="gan_step_losses",
                          observe=_observe_step, trials=2)


# --------------------------------------------------------------------------- gradient penalty
def _reference_penalty(critic, real, fake, eps):
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grads, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grads.flatten(1).norm(dim=1) - 1) ** 2).mean()


def _penalty_inputs(generator):
    seed = int(torch.randint(0, 10_000, (1,), generator=generator))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        critic = gan.MLPDiscriminator(data_dim=3, hidden=8, depth=2)
    n = 8
    return (critic, 2 * torch.randn(n, 3, generator=generator), torch.randn(n, 3, generator=generator),
            torch.rand(n, 1, generator=generator))


def _observe_penalty(fn, args):
    critic = copy.deepcopy(args[0])
    penalty = fn(critic, *args[1:])
    differentiable = isinstance(penalty, torch.Tensor) and penalty.requires_grad and _reaches(penalty, critic)
    return (penalty.detach() if isinstance(penalty, torch.Tensor) else penalty), differentiable


def _no_create_graph(critic, real, fake, eps):
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grads, = torch.autograd.grad(critic(mixed).sum(), mixed)
    return ((grads.flatten(1).norm(dim=1) - 1) ** 2).mean()


def _norm_over_batch(critic, real, fake, eps):
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grads, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (grads.norm() - 1) ** 2


def _squared_norm(critic, real, fake, eps):
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grads, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grads.flatten(1).pow(2).sum(1) - 1) ** 2).mean()


def _penalty_sum(critic, real, fake, eps):
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grads, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grads.flatten(1).norm(dim=1) - 1) ** 2).sum()


GP_MISTAKES = [
    Mistake("no_create_graph", _no_create_graph,
            "the penalty has the right value but is detached from the critic's weights, so it trains nothing: "
            "pass create_graph=True to torch.autograd.grad."),
    Mistake("norm_over_batch", _norm_over_batch,
            "you took one norm over the whole batch; the constraint is per example: "
            "grads.flatten(1).norm(dim=1), then the mean of (norm - 1)^2."),
    Mistake("squared_norm", _squared_norm,
            "you used the squared norm ||g||^2; the penalty is (||g||_2 - 1)^2 with the plain L2 norm."),
    Mistake("sum_not_mean", _penalty_sum, _SUM),
]


def check_gradient_penalty(student) -> CheckResult:
    """gradient_penalty(critic, real, fake, eps) = E[(||grad critic(x_hat)||_2 - 1)^2] (Eq. 2.9)."""
    return check_function(student, _reference_penalty, _penalty_inputs, GP_MISTAKES, name="gradient_penalty",
                          observe=_observe_penalty, trials=3)


# --------------------------------------------------------------------------- a critic trained with the penalty
# Assignment 03, Exercise 5. p_data = N(W1_SHIFT, I) and p_g = N(0, I) differ by a translation, so
# W1(p_data, p_g) = ||W1_SHIFT|| = 1 exactly: the coupling x -> x + W1_SHIFT moves every point by 1 (W1 <= 1),
# and the 1-Lipschitz critic f(x) = <x, W1_SHIFT> gains exactly 1 (W1 >= 1, Eq. 2.7).
W1_SHIFT = torch.tensor([0.6, 0.8])
TRUE_W1 = 1.0
# Draws per distribution. A 1-Lipschitz f of a unit Gaussian has Var f <= 1 (Gaussian Poincare inequality), so
# such a critic's held-out gap has a standard deviation of at most sqrt(2 / 20,000) = 0.01.
HELD_OUT_DRAWS = 20_000


def _critic_batch(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(real, fake): n draws of N(W1_SHIFT, I) and n of N(0, I)."""
    return W1_SHIFT + torch.randn(n, 2, generator=generator), torch.randn(n, 2, generator=generator)


def train_wgan_gp_critic(gradient_penalty, steps: int, lr: float, penalty_weight: float = 10.0,
                         batch_size: int = 256, seed: int = 0) -> tuple[torch.nn.Module, list[float]]:
    """Train a small critic f on the WGAN-GP loss (Eq. 2.9) with ``gradient_penalty(critic, real, fake, eps)``.

    loss = E[f(fake)] - E[f(real)] + penalty_weight * gradient_penalty(f, real, fake, eps), Adam (betas 0.5, 0.9),
    real ~ N((0.6, 0.8), I), fake ~ N(0, I) in 2-D (true W1 = 1), a fresh batch and fresh eps ~ U[0, 1] each step.
    Returns the critic and the batch gap E[f(real)] - E[f(fake)] of every step.
    """
    require_function(gradient_penalty, "gradient_penalty")
    check_positive_int(steps, "steps")
    if not lr >= 0:
        raise ValueError(f"lr must be a number >= 0, got {lr!r}")
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        critic = gan.MLPDiscriminator(data_dim=2, hidden=32, depth=2)
    optimizer = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))
    gaps = []
    with single_thread():
        for _ in range(steps):
            real, fake = _critic_batch(batch_size, generator)
            eps = torch.rand(batch_size, 1, generator=generator)
            gap = critic(real).mean() - critic(fake).mean()
            penalty = gradient_penalty(critic, real, fake, eps)
            if not (isinstance(penalty, torch.Tensor) and penalty.numel() == 1):
                raise TypeError("gradient_penalty must return a tensor holding one number (the mean over the "
                                f"batch), got {penalty!r:.80}")
            optimizer.zero_grad()
            (-gap + penalty_weight * penalty.reshape(())).backward()
            optimizer.step()
            gaps.append(gap.item())
    return critic, gaps


@torch.no_grad()
def critic_gap(critic: torch.nn.Module, seed: int = 1) -> float:
    """The critic's estimate of W1: E[f(real)] - E[f(fake)] on ``HELD_OUT_DRAWS`` fixed draws of each distribution."""
    real, fake = _critic_batch(HELD_OUT_DRAWS, torch.Generator().manual_seed(seed))
    with single_thread():
        return (critic(real).mean() - critic(fake).mean()).item()


def check_critic_estimates_w1(critic: torch.nn.Module, max_error: float, verbose: bool = True) -> CheckResult:
    """Pass when the trained critic's held-out gap is within ``max_error`` of the true W1 = 1 (printed if verbose)."""
    refused = wrong_kind(critic, torch.nn.Module, "your trained critic (an nn.Module)", "critic_estimates_w1",
                         verbose=verbose)
    if refused is not None:
        return refused
    return reported(_judge_critic(critic_gap(critic), max_error), verbose)


def _judge_critic(gap: float, max_error: float) -> CheckResult:
    details = {"gap": gap, "true_w1": TRUE_W1, "max_error": max_error}
    if not math.isfinite(gap):
        return CheckResult(False, f"the critic's gap E[f(real)] - E[f(fake)] is {gap}: the training diverged "
                                  "(its outputs are no longer finite).", "trained_critic", "not_finite", details)
    if gap > TRUE_W1 + max_error:
        return CheckResult(False, f"the critic's gap E[f(real)] - E[f(fake)] is {gap:.3g}, above the true W1 = 1 by "
                                  f"more than {max_error}. No 1-Lipschitz critic can get above W1 (Eq. 2.7), so the "
                                  "penalty did not hold this one's slope near 1: does it reach the critic's weights "
                                  "(create_graph=True)?", "trained_critic", "gap_above_w1", details)
    if gap < TRUE_W1 - max_error:
        return CheckResult(False, f"the critic's gap E[f(real)] - E[f(fake)] is {gap:.3g}, below the true W1 = 1 by "
                                  f"more than {max_error}: the critic is flatter than slope 1 in the direction that "
                                  "separates the two distributions, or did not train. A penalty that pulls one norm "
                                  "over the whole batch to 1 leaves each example a slope of about 1/sqrt(batch size).",
                           "trained_critic", "gap_below_w1", details)
    return CheckResult(True, f"the critic's gap E[f(real)] - E[f(fake)] is {gap:.3f}, within {max_error} of the true "
                             "W1 = 1: your penalty keeps the critic 1-Lipschitz where it matters.", "trained_critic",
                       "correct", details)


# =========================================================================== assignment 02: the objective
# solutions/02_gan_objective_assignment.ipynb: the Jensen-Shannon divergence on a grid, the least-squares GAN
# losses, and one whole training iteration of both players.

# --------------------------------------------------------------------------- Jensen-Shannon divergence
def _reference_jsd(p, q, x):
    m = (p + q) / 2

    def kl_to_m(a):  # KL(a || m) with 0 log 0 = 0
        terms = torch.where(a > 0, a * torch.log(torch.where(a > 0, a, 1.0) / torch.where(m > 0, m, 1.0)), 0.0)
        return torch.trapezoid(terms, x)

    return 0.5 * kl_to_m(p) + 0.5 * kl_to_m(q)


def _density(x, generator):
    """A random mixture of two Gaussians, evaluated on the grid x (a density: it integrates to about 1)."""
    means, stds = 4 * torch.randn(2, generator=generator, dtype=x.dtype), 0.3 + torch.rand(2, generator=generator,
                                                                                          dtype=x.dtype)
    weight = float(torch.rand(1, generator=generator))
    normal = lambda mean, std: torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * (2 * torch.pi) ** 0.5)  # noqa: E731
    return weight * normal(means[0], stds[0]) + (1 - weight) * normal(means[1], stds[1])


def _density_pair(generator):
    points = int(torch.randint(2001, 6001, (1,), generator=generator))
    x = torch.linspace(-14, 14, points, dtype=torch.float64)
    return _density(x, generator), _density(x, generator), x


def _uniform(x, low, high):
    return ((x >= low) & (x <= high)).to(x.dtype) / (high - low)


_GRID = torch.linspace(-1, 5, 6001, dtype=torch.float64)
JSD_EXTREME_CASES = [  # disjoint supports (JSD = log 2, zeros everywhere one density is 0), and p = q (JSD = 0)
    (_uniform(_GRID, 0.0, 1.0), _uniform(_GRID, 2.0, 3.0), _GRID),
    (_uniform(_GRID, 0.0, 2.0), _uniform(_GRID, 1.0, 3.0), _GRID),
    (_uniform(_GRID, 0.0, 1.0), _uniform(_GRID, 0.0, 1.0), _GRID),
]


def _observe_jsd(fn, args):
    value = fn(*args)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not torch.isfinite(value).all():
        raise Diagnosis("not_finite_where_a_density_is_zero",
                        f"your divergence is {value.item()} for two densities that are 0 on parts of the grid: "
                        "0 * log 0 gave nan (0 * -inf). By convention 0 log 0 = 0: compute a * log(a / m) only where "
                        "a > 0 (torch.where) and use 0 elsewhere.")
    return value


def _kl(a, b, x):
    terms = torch.where(a > 0, a * torch.log(torch.where(a > 0, a, 1.0) / torch.where(b > 0, b, 1.0)), 0.0)
    return torch.trapezoid(terms, x)


JSD_MISTAKES = [
    Mistake("missing_halves", lambda p, q, x: 2 * _reference_jsd(p, q, x),
            "twice the right value: JSD = 1/2 KL(p || m) + 1/2 KL(q || m), each KL weighted by one half."),
    Mistake("kl_reversed", lambda p, q, x: 0.5 * _kl((p + q) / 2, p, x) + 0.5 * _kl((p + q) / 2, q, x),
            "the KLs are reversed: JSD uses KL(p || m) and KL(q || m) (p and q first), not KL(m || p). The "
            "reversed form is infinite as soon as p or q is 0 where m is not."),
    Mistake("bits_not_nats", lambda p, q, x: _reference_jsd(p, q, x) / torch.log(torch.tensor(2.0, dtype=x.dtype)),
            "your value is in bits (log base 2); the course uses natural logs (nats), so that C(G) = -log 4 + 2 JSD."),
    Mistake("mixture_not_halved", lambda p, q, x: 0.5 * _kl(p, p + q, x) + 0.5 * _kl(q, p + q, x),
            "m must be the mixture (p + q) / 2, a density; p + q integrates to 2."),
    Mistake("kl_p_q", lambda p, q, x: _kl(p, q, x),
            "that is KL(p || q), not the Jensen-Shannon divergence: compare each density with the mixture "
            "m = (p + q) / 2."),
]


def check_jensen_shannon(student) -> CheckResult:
    """jensen_shannon(p, q, x): JSD of two densities sampled on the grid x, in nats (Eq. 2.3)."""
    return check_function(student, _reference_jsd, _density_pair, JSD_MISTAKES, name="jensen_shannon",
                          observe=_observe_jsd, trials=3, extra_cases=JSD_EXTREME_CASES, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- least-squares GAN
def _reference_lsgan_d(real_scores, fake_scores):
    return 0.5 * (real_scores - 1).pow(2).mean() + 0.5 * fake_scores.pow(2).mean()


def _reference_lsgan_g(fake_scores):
    return 0.5 * (fake_scores - 1).pow(2).mean()


LSGAN_D_MISTAKES = [
    Mistake("sigmoid_applied", lambda r, f: 0.5 * (torch.sigmoid(r) - 1).pow(2).mean() + 0.5 * torch.sigmoid(f).pow(2).mean(),
            "the least-squares GAN uses D's raw scores: no sigmoid (a sigmoid bounds the scores and brings back "
            "the saturation LSGAN was designed to avoid)."),
    Mistake("targets_swapped", lambda r, f: 0.5 * r.pow(2).mean() + 0.5 * (f - 1).pow(2).mean(),
            "the targets are swapped: real scores are pulled toward 1 ((D(x) - 1)^2), fake scores toward 0 (D(G(z))^2)."),
    Mistake("missing_half", lambda r, f: (r - 1).pow(2).mean() + f.pow(2).mean(),
            "twice the right value: each term of the least-squares loss carries a factor 1/2."),
    Mistake("sum_not_mean", lambda r, f: 0.5 * (r - 1).pow(2).sum() + 0.5 * f.pow(2).sum(), _SUM),
    Mistake("absolute_not_squared", lambda r, f: 0.5 * (r - 1).abs().mean() + 0.5 * f.abs().mean(),
            "least squares: square the differences, (D(x) - 1)^2, not their absolute values."),
]

LSGAN_G_MISTAKES = [
    Mistake("target_zero", lambda f: 0.5 * f.pow(2).mean(),
            "the generator's target is 0, the *fake* label: it is then trained to be recognised as fake. Its target "
            "is 1 (the real label): 1/2 E[(D(G(z)) - 1)^2]."),
    Mistake("sigmoid_applied", lambda f: 0.5 * (torch.sigmoid(f) - 1).pow(2).mean(),
            "the least-squares GAN uses D's raw scores: no sigmoid."),
    Mistake("missing_half", lambda f: (f - 1).pow(2).mean(), "twice the right value: the loss carries a factor 1/2."),
    Mistake("sum_not_mean", lambda f: 0.5 * (f - 1).pow(2).sum(), _SUM),
]


def _scores(generator):
    n = int(torch.randint(4, 17, (1,), generator=generator))
    scale = 0.5 + 3.5 * float(torch.rand(1, generator=generator))
    return scale * torch.randn(n, generator=generator), scale * torch.randn(n, generator=generator)


def check_lsgan_discriminator_loss(student) -> CheckResult:
    """lsgan_discriminator_loss(real_scores, fake_scores) = 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]."""
    return check_function(student, _reference_lsgan_d, _scores, LSGAN_D_MISTAKES, name="lsgan_discriminator_loss",
                          trials=4)


def check_lsgan_generator_loss(student) -> CheckResult:
    """lsgan_generator_loss(fake_scores) = 1/2 E[(D(G(z)) - 1)^2]."""
    return check_function(student, _reference_lsgan_g, lambda g: (_scores(g)[1],), LSGAN_G_MISTAKES,
                          name="lsgan_generator_loss", trials=4)


# --------------------------------------------------------------------------- one training iteration
def _reference_training_step(G, D, opt_g, opt_d, real, z):
    fake = G(z)
    d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = F.softplus(-D(fake)).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def _training_step_inputs(generator):
    seed = int(torch.randint(0, 10_000, (1,), generator=generator))
    n = int(torch.randint(4, 9, (1,), generator=generator))
    return seed, torch.randn(n, 2, generator=generator), torch.randn(n, 2, generator=generator)


def _parameters(module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def _observe_training_step(fn, args):
    """Run one iteration from a fixed start (with stale gradients left over from a 'previous step');
    compare both players' weights afterwards, and the two losses the function returns."""
    seed, real, z = args
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        G = gan.MLPGenerator(latent_dim=2, data_dim=2, hidden=8, depth=2)
        D = gan.MLPDiscriminator(data_dim=2, hidden=8, depth=2)
        for p in list(G.parameters()) + list(D.parameters()):
            p.grad = torch.randn_like(p)  # what the previous iteration left behind
    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr=0.5), torch.optim.SGD(D.parameters(), lr=0.5)
    try:
        losses = fn(G, D, opt_g, opt_d, real, z)
    except RuntimeError as error:
        if "backward through the graph a second time" in str(error):
            raise Diagnosis("no_detach_in_d_step",
                            "the discriminator's loss was back-propagated through G(z), which freed the graph the "
                            "generator step needs (\"backward through the graph a second time\"). Use "
                            "D(fake.detach()) in the discriminator step.") from None
        raise
    if not (isinstance(losses, (tuple, list)) and len(losses) == 2):
        raise Diagnosis("structure", f"return the two losses as a tuple (d_loss, g_loss), got {type(losses).__name__}.")
    return _parameters(D), _parameters(G), tuple(float(loss) for loss in losses)


def _step_without_zero_grad(G, D, opt_g, opt_d, real, z):
    fake = G(z)
    d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
    d_loss.backward()
    opt_d.step()
    g_loss = F.softplus(-D(fake)).mean()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def _step_generator_label_zero(G, D, opt_g, opt_d, real, z):
    fake = G(z)
    fake_logits = D(fake.detach())
    fake_labels = torch.zeros_like(fake_logits)
    d_loss = F.softplus(-D(real)).mean() + F.binary_cross_entropy_with_logits(fake_logits, fake_labels)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = F.binary_cross_entropy_with_logits(D(fake), fake_labels)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def _step_generator_first(G, D, opt_g, opt_d, real, z):
    fake = G(z)
    g_loss = F.softplus(-D(fake)).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    return d_loss.item(), g_loss.item()


def _step_g_loss_minimax(G, D, opt_g, opt_d, real, z):
    fake = G(z)
    d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = -F.softplus(D(fake)).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


TRAINING_STEP_MISTAKES = [
    Mistake("no_zero_grad", _step_without_zero_grad,
            "gradients from the previous iteration were added to this one: call opt_d.zero_grad() before the "
            "discriminator's backward() and opt_g.zero_grad() before the generator's (PyTorch accumulates .grad)."),
    Mistake("labels_reused_for_generator", _step_generator_label_zero, _LABEL_ZERO_FOR_G),
    Mistake("generator_step_first", _step_generator_first,
            "the generator was updated before the discriminator: this exercise (like notebook 03) takes the "
            "discriminator step first, then the generator step against the updated D."),
    Mistake("minimax_generator_loss", _step_g_loss_minimax,
            "the generator step uses the saturating minimax loss E[log(1 - D(G(z)))]; use the non-saturating "
            "-E[log D(G(z))] = softplus(-l), which gives the generator a gradient when D rejects its samples."),
]


def check_gan_training_step(student) -> CheckResult:
    """gan_training_step(G, D, opt_g, opt_d, real, z) -> (d_loss, g_loss): one iteration, D first, then G."""
    return check_function(student, _reference_training_step, _training_step_inputs, TRAINING_STEP_MISTAKES,
                          name="gan_training_step", observe=_observe_training_step, trials=2)
