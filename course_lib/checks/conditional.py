"""Checks for the conditional-GAN assignment (solutions/06_conditional_assignment.ipynb), and the matching-aware
discriminator its "train it" exercise trains with the student's discriminator_input."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .. import conditional, pix2pix
from .._validate import check_positive_int
from .core import CheckResult, Mistake, check_function, reported, require_function, single_thread, wrong_kind

__all__ = ["check_generator_input", "check_discriminator_input", "check_pix2pix_generator_loss",
           "check_pix2pix_discriminator_loss", "ProbeDiscriminator", "MatchingDiscriminator", "wrong_labels",
           "train_matching_discriminator", "mismatch_accuracy", "check_matching_discriminator"]


# --------------------------------------------------------------------------- label conditioning
def _label_inputs(generator):
    batch = int(torch.randint(3, 9, (1,), generator=generator))
    latent_dim = int(torch.randint(4, 17, (1,), generator=generator))
    return (torch.randn(batch, latent_dim, generator=generator),
            torch.randint(0, 10, (batch,), generator=generator), 10)


GENERATOR_INPUT_MISTAKES = [
    Mistake("label_missing", lambda z, labels, k: z,
            "the label never reaches the generator: concatenate onehot(labels) to z (Eq. 6.3)."),
    Mistake("raw_label", lambda z, labels, k: torch.cat([z, labels.float()[:, None]], 1),
            "you appended the class index as one number; use the one-hot vector F.one_hot(labels, num_classes) "
            "so that no class is 'bigger' than another."),
    Mistake("label_first", lambda z, labels, k: torch.cat([F.one_hot(labels, k).float(), z], 1),
            "right pieces, wrong order: the course's layers expect [z, onehot(y)] (z first)."),
    Mistake("added_not_concatenated", lambda z, labels, k: z + F.one_hot(labels, k).float().sum(1, keepdim=True),
            "concatenate along dim=1 (torch.cat), do not add the label to z."),
]


def check_generator_input(student) -> CheckResult:
    """Student's generator_input(z, labels, num_classes) vs Eq. (6.3): [z, onehot(y)]."""
    return check_function(student, conditional.generator_input, _label_inputs, GENERATOR_INPUT_MISTAKES,
                          name="generator_input", trials=4)


def _image_label_inputs(generator):
    batch = int(torch.randint(2, 6, (1,), generator=generator))
    size = int(torch.randint(4, 9, (1,), generator=generator))
    return (torch.rand(batch, 1, size, size, generator=generator),
            torch.randint(0, 10, (batch,), generator=generator), 10)


def _planes(labels, k, h, w):
    return F.one_hot(labels, k).float()[:, :, None, None].expand(-1, -1, h, w)


DISCRIMINATOR_INPUT_MISTAKES = [
    Mistake("condition_not_reaching_d", lambda x, labels, k: x,
            "the condition does not reach D: it then cannot tell a good 3 labelled '8' from a real 8. "
            "Append onehot(labels) as num_classes constant planes (Eq. 6.5)."),
    Mistake("label_planes_first", lambda x, labels, k: torch.cat([_planes(labels, k, *x.shape[-2:]), x], 1),
            "right pieces, wrong order: the image channels come first, then the label planes."),
    Mistake("one_plane_of_indices",
            lambda x, labels, k: torch.cat([x, labels.float()[:, None, None, None].expand(-1, 1, *x.shape[-2:])], 1),
            "you appended one plane holding the class index; use num_classes one-hot planes."),
]


def check_discriminator_input(student) -> CheckResult:
    """Student's discriminator_input(images, labels, num_classes) vs Eq. (6.5)."""
    return check_function(student, conditional.discriminator_input, _image_label_inputs,
                          DISCRIMINATOR_INPUT_MISTAKES, name="discriminator_input", trials=3)


# --------------------------------------------------------------------------- pix2pix losses
class ProbeDiscriminator(nn.Module):
    """A fixed, tiny patch discriminator that accepts any channel count and cares about channel order.

    logit map = avg_pool_2(sum_c (c + 1) * tanh(pair_c)) - 1: whatever pair the student builds, its
    value is reproducible, so each wrong pair gives its own recognisable loss.
    """

    def forward(self, pair):
        weights = torch.arange(1, pair.shape[1] + 1, dtype=pair.dtype, device=pair.device)
        mixed = (torch.tanh(pair) * weights[None, :, None, None]).sum(1, keepdim=True)
        return F.avg_pool2d(mixed, 2) - 1.0


def _pair_inputs(generator):
    batch = int(torch.randint(2, 5, (1,), generator=generator))
    channels = int(torch.randint(1, 4, (1,), generator=generator))
    size = 2 * int(torch.randint(2, 5, (1,), generator=generator))
    shape = (batch, channels, size, size)
    inputs = torch.rand(*shape, generator=generator)
    fake = torch.rand(*shape, generator=generator).requires_grad_(True)   # stands for G(x): it has a graph
    target = torch.rand(*shape, generator=generator)
    return ProbeDiscriminator(), inputs, fake, target


def _bce(logits, value):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, value))


def _generator_loss_mistake(pair_of, l1_of, weight=100.0):
    def loss(d, x, fake, target, l1_weight=100.0):
        return _bce(d(pair_of(x, fake)), 1.0) + weight * l1_of(x, fake, target)
    return loss


_PAIR = lambda x, y: torch.cat([x, y], 1)  # noqa: E731
_L1 = lambda x, fake, target: (fake - target).abs().mean()  # noqa: E731

PIX2PIX_GENERATOR_MISTAKES = [
    Mistake("l1_weight_missing", _generator_loss_mistake(_PAIR, _L1, weight=1.0),
            "the L1 term is not weighted: multiply it by l1_weight (lambda = 100, Eq. 7.3)."),
    Mistake("l1_weight_on_adversarial",
            lambda d, x, fake, target, l1_weight=100.0: 100.0 * _bce(d(_PAIR(x, fake)), 1.0) + _L1(x, fake, target),
            "lambda multiplies the wrong term: it weights the L1 reconstruction, not the adversarial loss."),
    Mistake("l1_divided", _generator_loss_mistake(_PAIR, _L1, weight=0.01),
            "you divided the L1 term by lambda; multiply it: loss = adversarial + l1_weight * L1."),
    Mistake("l1_against_input", _generator_loss_mistake(_PAIR, lambda x, fake, target: (fake - x).abs().mean()),
            "the L1 term compares the output with the *input* x; it must compare G(x) with the target y (Eq. 7.2)."),
    Mistake("squared_error", _generator_loss_mistake(_PAIR, lambda x, fake, target: (fake - target).pow(2).mean()),
            "that is the squared (L2) error; pix2pix uses the absolute (L1) error, which blurs less."),
    Mistake("condition_not_reaching_d", _generator_loss_mistake(lambda x, y: y, _L1),
            "the condition does not reach D: pass the pair torch.cat([inputs, fake], 1), not the output alone."),
    Mistake("pair_reversed", _generator_loss_mistake(lambda x, y: torch.cat([y, x], 1), _L1),
            "the pair is reversed: D expects torch.cat([inputs, fake], dim=1), the condition first."),
    Mistake("minimax_generator",
            lambda d, x, fake, target, l1_weight=100.0: -_bce(d(_PAIR(x, fake)), 0.0) + 100.0 * _L1(x, fake, target),
            "that is the saturating minimax form log(1 - D); use the non-saturating BCE(D(x, G(x)), 1)."),
]


def _generator_observe(fn, args):
    loss = fn(*args)
    return loss.detach() if isinstance(loss, torch.Tensor) else loss


def check_pix2pix_generator_loss(student) -> CheckResult:
    """Student's pix2pix_generator_loss(discriminator, inputs, fake, target, l1_weight=100) vs Eq. (7.3)."""
    return check_function(student, pix2pix.pix2pix_generator_loss, _pair_inputs, PIX2PIX_GENERATOR_MISTAKES,
                          name="pix2pix_generator_loss", observe=_generator_observe, trials=3)


def _discriminator_observe(fn, args):
    """(loss value, does a gradient reach the fake image?) -- D's step must not train G."""
    discriminator, inputs, fake, target = args
    loss = fn(discriminator, inputs, fake, target)
    if not isinstance(loss, torch.Tensor):
        return loss, None
    reaches_fake = False
    if loss.requires_grad:
        (gradient,) = torch.autograd.grad(loss, fake, allow_unused=True)
        reaches_fake = gradient is not None and bool(gradient.abs().sum() > 0)
    return loss.detach(), reaches_fake


def _d_loss(pair_of, detach=True, half=True):
    def loss(d, x, fake, target):
        fake_in = fake.detach() if detach else fake
        total = _bce(d(pair_of(x, target)), 1.0) + _bce(d(pair_of(x, fake_in)), 0.0)
        return 0.5 * total if half else total
    return loss


PIX2PIX_DISCRIMINATOR_MISTAKES = [
    Mistake("fake_not_detached", _d_loss(_PAIR, detach=False),
            "the fake pair is not detached: D's loss would also send gradients into G. Use fake.detach()."),
    Mistake("condition_not_reaching_d", _d_loss(lambda x, y: y),
            "the condition does not reach D: judge the pairs torch.cat([inputs, target], 1) and "
            "torch.cat([inputs, fake.detach()], 1), not the outputs alone."),
    Mistake("condition_replaced_by_output", _d_loss(lambda x, y: torch.cat([y, y], 1)),
            "the discriminator ignores the condition: it is shown the output twice, [image, image], instead of "
            "[inputs, image]. It then cannot tell whether an output fits its input. Judge torch.cat([inputs, "
            "target], 1) and torch.cat([inputs, fake.detach()], 1)."),
    Mistake("condition_zeroed", _d_loss(lambda x, y: torch.cat([torch.zeros_like(x), y], 1)),
            "the discriminator ignores the condition: the input channels it sees are zeros. Judge "
            "torch.cat([inputs, target], 1) and torch.cat([inputs, fake.detach()], 1)."),
    Mistake("condition_not_reaching_d_and_not_detached", _d_loss(lambda x, y: y, detach=False),
            "two problems: the condition does not reach D (pass the pairs [inputs, image]) and the fake is not "
            "detached (use fake.detach())."),
    Mistake("labels_swapped",
            lambda d, x, fake, target: 0.5 * (_bce(d(_PAIR(x, target)), 0.0) + _bce(d(_PAIR(x, fake.detach())), 1.0)),
            "the targets are swapped: real pairs should be labelled 1 and fake pairs 0."),
    Mistake("not_halved", _d_loss(_PAIR, half=False),
            "pix2pix halves D's loss (1/2 [real term + fake term]) so D learns more slowly than G."),
]


def check_pix2pix_discriminator_loss(student) -> CheckResult:
    """Student's pix2pix_discriminator_loss(discriminator, inputs, fake, target) vs Eq. (7.1)."""
    return check_function(student, pix2pix.pix2pix_discriminator_loss, _pair_inputs,
                          PIX2PIX_DISCRIMINATOR_MISTAKES, name="pix2pix_discriminator_loss",
                          observe=_discriminator_observe, trials=3)


# --------------------------------------------------------------------------- a matching-aware discriminator
# Assignment 06, Exercise 6. The discriminator sees real digits only: each with its own label (target 1) and with
# a wrong label (target 0). It can tell the two apart only through the label planes your discriminator_input adds.
class MatchingDiscriminator(nn.Module):
    """D(x, y) = w^T phi(discriminator_input(x, y)): notebook 06's "concat" discriminator (Eq. 6.5) around the
    given ``discriminator_input``, with as many input channels as that function produces."""

    def __init__(self, discriminator_input, in_channels: int, width: int = 16):
        super().__init__()
        self.discriminator_input = discriminator_input
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2),         # 28 -> 14
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),           # 14 -> 7
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(self.discriminator_input(images, labels, conditional.NUM_CLASSES)).squeeze(1)


def wrong_labels(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each label, another class drawn uniformly from the other nine."""
    classes = conditional.NUM_CLASSES
    return (labels + torch.randint(1, classes, labels.shape, generator=generator)) % classes


def train_matching_discriminator(discriminator_input, steps: int, lr: float, width: int = 16, batch_size: int = 64,
                                 seed: int = 0) -> tuple[MatchingDiscriminator, list[float]]:
    """Train a ``MatchingDiscriminator`` on the training digits (in [-1, 1], as in notebook 06).

    loss = BCE(D(x, y), 1) + BCE(D(x, y'), 0), y' a wrong label, Adam (betas 0.5, 0.999). Returns the
    discriminator and the loss of every step.
    """
    from ..data import load_mnist

    require_function(discriminator_input, "discriminator_input")
    check_positive_int(steps, "steps")
    if not lr >= 0:
        raise ValueError(f"lr must be a number >= 0, got {lr!r}")
    images, labels = load_mnist("train").tensors
    images = 2 * images - 1
    probe = discriminator_input(images[:2], labels[:2], conditional.NUM_CLASSES)
    if not (isinstance(probe, torch.Tensor) and probe.ndim == 4 and tuple(probe.shape[2:]) == (28, 28)):
        raise TypeError("discriminator_input(images, labels) must return a tensor (N, channels, 28, 28) for 28x28 "
                        f"digits, got {getattr(probe, 'shape', type(probe).__name__)}")
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        discriminator = MatchingDiscriminator(discriminator_input, probe.shape[1], width)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    losses = []
    with single_thread():
        for _ in range(steps):
            batch = torch.randint(0, len(images), (batch_size,), generator=generator)
            x, y = images[batch], labels[batch]
            matching, mismatched = discriminator(x, y), discriminator(x, wrong_labels(y, generator))
            loss = (F.binary_cross_entropy_with_logits(matching, torch.ones_like(matching))
                    + F.binary_cross_entropy_with_logits(mismatched, torch.zeros_like(mismatched)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return discriminator, losses


def _test_digits(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``count`` held-out test digits, in [-1, 1], and their labels."""
    from ..data import load_mnist

    images, labels = load_mnist("test", limit=count).tensors
    return 2 * images - 1, labels


@torch.no_grad()
def mismatch_accuracy(discriminator: nn.Module, test_digits: int = 500, seed: int = 1) -> float:
    """Held-out accuracy at telling matching labels (logit > 0) from mismatched ones (logit <= 0).

    Each of the first ``test_digits`` test digits is judged twice, with its own label and with a wrong one, so a
    discriminator that ignores the label gives both the same logit and scores exactly 50 %.
    """
    images, labels = _test_digits(test_digits)
    with single_thread():
        matching = discriminator(images, labels) > 0
        mismatched = discriminator(images, wrong_labels(labels, torch.Generator().manual_seed(seed))) <= 0
    return 0.5 * (matching.float().mean() + mismatched.float().mean()).item()


def check_matching_discriminator(discriminator: nn.Module, min_accuracy: float, test_digits: int = 500,
                                 verbose: bool = True) -> CheckResult:
    """Pass when the trained discriminator spots mismatched labels on held-out digits with ``min_accuracy``
    (printed if verbose)."""
    refused = wrong_kind(discriminator, nn.Module, "your trained discriminator (an nn.Module)",
                         "matching_discriminator", verbose=verbose)
    if refused is not None:
        return refused
    return reported(_judge_matching(discriminator, mismatch_accuracy(discriminator, test_digits), min_accuracy,
                                    test_digits), verbose)


def _judge_matching(discriminator: nn.Module, accuracy: float, min_accuracy: float, test_digits: int) -> CheckResult:
    details = {"accuracy": accuracy, "min_accuracy": min_accuracy}
    if accuracy >= min_accuracy:
        return CheckResult(True, f"on {test_digits} held-out digits your discriminator tells a right label from a "
                                 f"wrong one {accuracy:.1%} of the time (needed: {min_accuracy:.0%}).",
                           "matching_discriminator", "correct", details)
    with torch.no_grad():
        images, labels = _test_digits(8)
        ignores_label = torch.equal(discriminator(images, labels), discriminator(images, (labels + 1) % 10))
    if ignores_label:
        return CheckResult(False, f"held-out accuracy {accuracy:.1%}, chance level: the discriminator gives a digit "
                                  "the same score whatever its label, so the label never reaches it. Your "
                                  "discriminator_input must append the label planes (Eq. 6.5).",
                           "matching_discriminator", "ignores_condition", details)
    return CheckResult(False, f"held-out accuracy {accuracy:.1%}, below the {min_accuracy:.0%} needed (chance is "
                              "50 %): the label reaches the discriminator, but it has not learned which digits go "
                              "with which label. If the check of Exercise 2 passes, look at the learning rate.",
                       "matching_discriminator", "below_threshold", details)
