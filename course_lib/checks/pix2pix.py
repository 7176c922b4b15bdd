"""Checks for assignment 07, pix2pix (solutions/07_pix2pix_assignment.ipynb).

Two functions the student writes, and the run that trains a translator with the second:

* ``receptive_field(layers)``: the width of the input patch one output of a stack of convolutions sees,
  from its (kernel, stride) layers (notebook 07, Eq. 7.4). The listed mistakes are the ways the recursion
  r <- r + (k - 1) j, j <- j s goes wrong.
* ``pix2pix_training_step(G, D, opt_g, opt_d, inputs, targets, l1_weight)``: one whole pix2pix iteration,
  a discriminator step on the pairs (x, y) and (x, G(x).detach()), then a generator step on the
  non-saturating cGAN loss + lambda * L1 (Eq. 7.3). The check runs it from a fixed start with SGD (so every
  gradient shows in the weights) and with stale gradients left in ``.grad`` (as a previous iteration
  leaves them), and compares both networks' weights afterwards and the two losses returned. Where a
  mistake is structural (D never shown x, a gradient reaching G in D's step, none reaching G in its own
  step), the check watches the calls as they happen and says so directly.
* ``train_edges_to_digits(step, ...)`` trains notebook 07's U-Net and PatchGAN on the edges -> digits task
  with the student's step; ``check_translator`` compares its held-out L1 with predicting the mean digit.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .. import pix2pix
from .core import CheckResult, Diagnosis, Mistake, check_function, reported, run_student, wrong_kind

__all__ = ["check_receptive_field", "RECEPTIVE_FIELD_MISTAKES", "check_pix2pix_training_step",
           "TRAINING_STEP_MISTAKES", "TranslatorRun", "train_edges_to_digits", "check_translator"]


# =========================================================================== receptive field (Eq. 7.4)
def _field(layers, start=1, grow=lambda kernel, jump: (kernel - 1) * jump, advance=lambda jump, stride: jump * stride,
           jump_first=False):
    """The recursion of Eq. (7.4), with each part replaceable (the listed mistakes)."""
    width, jump = start, 1
    for kernel, stride in layers:
        if jump_first:
            jump = advance(jump, stride)
        width += grow(kernel, jump)
        if not jump_first:
            jump = advance(jump, stride)
    return width


def _reference_receptive_field(layers):
    return pix2pix.receptive_field(list(layers))


def _layers(generator):
    """2 to 6 layers, kernels 1 to 7, strides 1 to 3, with a stride > 1 followed by a kernel > 1 (otherwise the
    strides, and their order, could not matter)."""
    count = int(torch.randint(2, 7, (1,), generator=generator))
    kernels = torch.randint(1, 8, (count,), generator=generator).tolist()
    strides = torch.randint(1, 4, (count,), generator=generator).tolist()
    strided = int(torch.randint(0, count - 1, (1,), generator=generator))
    strides[strided] = int(torch.randint(2, 4, (1,), generator=generator))
    kernels[strided + 1] = max(kernels[strided + 1], 2)
    return ([(k, s) for k, s in zip(kernels, strides)],)


# The paper's 70x70 PatchGAN (Eq. 7.4 gives 70), one layer alone, and the course's PatchGAN with n_down = 1 and 2.
RECEPTIVE_FIELD_CASES = [([(4, 2), (4, 2), (4, 2), (4, 1), (4, 1)],), ([(3, 2)],),
                         ([(4, 2), (4, 1), (4, 1)],), ([(4, 2), (4, 2), (4, 1), (4, 1)],)]

_TRY_70 = "Try the paper's PatchGAN by hand: kernels 4, strides 2, 2, 2, 1, 1 give 70."
RECEPTIVE_FIELD_MISTAKES = [
    Mistake("strides_ignored", lambda layers: _field(layers, advance=lambda jump, stride: 1),
            "your value is 1 + sum of (k - 1): the strides are ignored. After a layer of stride s, neighbouring "
            "pixels of its output are s input pixels apart, so each later layer's k - 1 extra pixels count "
            f"(product of all earlier strides) times. {_TRY_70}"),
    Mistake("strides_added", lambda layers: _field(layers, advance=lambda jump, stride: jump + stride),
            "the strides are added up; the spacing of a layer's pixels in the input is the *product* of the "
            f"strides before it (jump = jump * stride). {_TRY_70}"),
    Mistake("kernel_not_minus_one", lambda layers: _field(layers, grow=lambda kernel, jump: kernel * jump),
            "each layer adds k * jump; it adds (k - 1) * jump: a k-wide kernel reaches k - 1 pixels beyond the one "
            "it is centred on (a 1x1 convolution widens nothing). The 1 you start from is that centre pixel."),
    Mistake("kernel_added", lambda layers: _field(layers, grow=lambda kernel, jump: kernel),
            "each layer adds its kernel size k: a layer adds (k - 1) pixels *of its input*, which are "
            f"jump = (product of the earlier strides) image pixels apart: r += (k - 1) * jump. {_TRY_70}"),
    Mistake("own_stride_counted", lambda layers: _field(layers, jump_first=True),
            "each layer's stride is already applied to its own kernel: a layer's stride spaces out its *output*, "
            "so it multiplies the growth of the layers after it, not its own. Add (k - 1) * jump, then update "
            "jump *= stride."),
    Mistake("layers_reversed", lambda layers: _field(list(layers)[::-1]),
            "you went through the layers from the last to the first; the recursion starts at the input (the "
            "first layer, jump = 1) and the strides multiply up towards the output."),
    Mistake("off_by_one", lambda layers: _field(layers, start=0),
            "one less than the receptive field: start from r = 1 (one output pixel sees at least the one input "
            "pixel under it), not 0. A single 3x3 convolution sees 3 pixels."),
]


def check_receptive_field(student) -> CheckResult:
    """receptive_field(layers) = 1 + sum_l (k_l - 1) prod_{m<l} s_m  (notebook 07, Eq. 7.4)."""
    return check_function(student, _reference_receptive_field, _layers, RECEPTIVE_FIELD_MISTAKES,
                          name="receptive_field", trials=4, extra_cases=RECEPTIVE_FIELD_CASES)


# =========================================================================== one pix2pix iteration
class _ProbeGenerator(nn.Module):
    """A tiny translator: two 3x3 convolutions and a sigmoid, like the U-Net's output range."""

    def __init__(self, in_channels=1, out_channels=1):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.Tanh(),
                                 nn.Conv2d(4, out_channels, 3, padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)


class _ProbeDiscriminator(nn.Module):
    """A tiny PatchGAN with PatchDiscriminator's interface: D(pair) or D(image, condition).

    It mixes its input channels with fixed weights 1, 2, 3, ... before its trainable layers, so it accepts a
    pair with any number of channels (a student's wrong pair is diagnosed, not a crash), and the order of
    the channels matters. Every input it is called on is recorded in ``seen``.
    """

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 4, 2, 1))
        self.seen = []

    def forward(self, image, condition=None):
        pair = image if condition is None else torch.cat([condition, image], dim=1)
        self.seen.append(pair.detach().clone())
        weights = torch.arange(1, pair.shape[1] + 1, dtype=pair.dtype, device=pair.device)
        return 2 * self.net((pair * weights[None, :, None, None]).sum(1, keepdim=True))


def _bce(logits, label):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


def _step(*, condition=True, reversed_pair=False, detach=True, detach_in_g_step=False, g_label=1.0,
          d_fake_label=0.0, d_weight=0.5, sigmoid_twice=False, l1="weighted", minimax=False, zero_d=True,
          zero_g=True, step_d=True, step_g=True, d_first=True):
    """pix2pix_training_step with switches: every default is the right answer, each switch one mistake."""
    def pair(image, inputs):
        if not condition:
            return image
        return torch.cat([image, inputs] if reversed_pair else [inputs, image], dim=1)

    def logits_of(D, image, inputs):
        logits = D(pair(image, inputs))
        return torch.sigmoid(logits) if sigmoid_twice else logits

    def training_step(G, D, opt_g, opt_d, inputs, targets, l1_weight=100.0):
        fake = G(inputs)

        def d_step():
            d_fake = fake.detach() if detach else fake
            d_loss = d_weight * (_bce(logits_of(D, targets, inputs), 1.0) + _bce(logits_of(D, d_fake, inputs),
                                                                                d_fake_label))
            if zero_d:
                opt_d.zero_grad()
            d_loss.backward()
            if step_d:
                opt_d.step()
            return d_loss

        def g_step():
            g_fake = fake.detach() if detach_in_g_step else fake
            logits = logits_of(D, g_fake, inputs)
            adversarial = -_bce(logits, 0.0) if minimax else _bce(logits, g_label)
            error = (g_fake - targets).abs().mean()
            reconstruction = {"weighted": l1_weight * error, "missing": 0.0, "unweighted": error,
                              "always_100": 100.0 * error,
                              "squared": l1_weight * (g_fake - targets).pow(2).mean()}[l1]
            g_loss = adversarial + reconstruction
            if zero_g:
                opt_g.zero_grad()
            g_loss.backward()
            if step_g:
                opt_g.step()
            return g_loss

        if d_first:
            d_loss = d_step()
            g_loss = g_step()
        else:
            g_loss = g_step()
            d_loss = d_step()
        return d_loss.item(), g_loss.item()

    return training_step


_reference_training_step = _step()

TRAINING_STEP_MISTAKES = [
    # found by watching the step as it runs (the calls of D, the gradients reaching G(x), the optimizer steps)
    Mistake("condition_not_shown_to_d", _step(condition=False),
            "the discriminator was called on a tensor whose channels do not start with the input image: it must "
            "judge *pairs*, D(torch.cat([inputs, image], dim=1)) (or D(image, inputs)), for the real and the fake "
            "images alike. Shown the images alone, D can only ask whether an output looks like a digit, not "
            "whether it fits its input."),
    Mistake("pair_reversed", _step(reversed_pair=True),
            "the pairs are stacked the other way round: the input image x goes first, torch.cat([inputs, image], "
            "dim=1), as in notebook 07 (D(image, inputs) does this for you)."),
    Mistake("fake_not_detached", _step(detach=False),
            "a gradient reached the generator's output G(inputs) before opt_d.step(), so the discriminator's loss "
            "was back-propagated into G: use fake.detach() in the discriminator's step. (Without it D's loss "
            "pushes G towards *easier to reject* outputs, or frees the graph G's own step needs.)"),
    Mistake("generator_gets_no_gradient", _step(detach_in_g_step=True),
            "opt_g.step() ran, but no gradient reached the generator's output G(inputs): the generator's loss was "
            "computed on a detached fake (or one made under torch.no_grad()). Detach only in the discriminator's "
            "step; the generator learns *through* D and through the L1 term."),
    # reproduced exactly by the implementation next to each message
    Mistake("generator_label_zero", _step(g_label=0.0),
            "the generator's adversarial term uses label 0 (BCE(D(x, G(x)), 0)): that trains G to make D call its "
            "outputs *fake*. The generator step uses label 1, BCE(D(x, G(x)), 1). (Reusing the discriminator's "
            "fake labels, the zeros, for the generator gives exactly this.)"),
    Mistake("real_label_for_fakes", _step(d_fake_label=1.0),
            "the discriminator's loss labels the fake pairs 1, like the real ones (one tensor of ones used for "
            "both terms?): D is then trained to call everything real. In D's step the fake pairs get label 0; "
            "label 1 for fakes belongs only to the generator's step."),
    Mistake("sigmoid_twice", _step(sigmoid_twice=True),
            "you applied a sigmoid to D's output before binary_cross_entropy_with_logits, which applies it "
            "again: the loss saw sigmoid(sigmoid(l)), probabilities where it expects logits. Pass the raw logits."),
    Mistake("minimax_generator_loss", _step(minimax=True),
            "the generator uses the saturating minimax loss log(1 - D(x, G(x))) = -BCE(D(x, G(x)), 0); use the "
            "non-saturating BCE(D(x, G(x)), 1), which still gives G a gradient when D rejects its outputs."),
    Mistake("l1_missing", _step(l1="missing"),
            "the generator's loss has no L1 term: add l1_weight * mean |G(x) - y|. Without it nothing ties the "
            "output to *this* target, and nothing gets the low frequencies right."),
    Mistake("l1_not_weighted", _step(l1="unweighted"),
            "the L1 term is not weighted: multiply mean |G(x) - y| by l1_weight (lambda, 100 in pix2pix)."),
    Mistake("l1_weight_ignored", _step(l1="always_100"),
            "the L1 term is weighted by 100 whatever l1_weight is passed: use the argument l1_weight."),
    Mistake("squared_error", _step(l1="squared"),
            "that is the squared (L2) error; pix2pix uses the absolute (L1) error, mean |G(x) - y|, which blurs "
            "less (its per-pixel optimum is the median of the plausible outputs, not their mean)."),
    Mistake("d_loss_not_halved", _step(d_weight=1.0),
            "the discriminator's loss is the sum of its two terms; pix2pix halves it (the mean of the real and the "
            "fake term), so that D learns more slowly than G."),
    Mistake("no_zero_grad", _step(zero_d=False, zero_g=False),
            "gradients left in .grad by the previous iteration were added to this one's: call opt_d.zero_grad() "
            "before the discriminator's backward() and opt_g.zero_grad() before the generator's (PyTorch adds "
            "new gradients to .grad)."),
    Mistake("d_not_zeroed", _step(zero_d=False),
            "the discriminator's update includes the gradients the previous iteration left in .grad: call "
            "opt_d.zero_grad() before d_loss.backward()."),
    Mistake("g_not_zeroed", _step(zero_g=False),
            "the generator's update includes gradients left in .grad from before (the previous iteration's, or "
            "D's step): call opt_g.zero_grad() right before g_loss.backward()."),
    Mistake("d_not_stepped", _step(step_d=False),
            "the discriminator's weights did not change: call opt_d.step() after d_loss.backward()."),
    Mistake("g_not_stepped", _step(step_g=False),
            "the generator's weights did not change: call opt_g.step() after g_loss.backward()."),
    Mistake("generator_step_first", _step(d_first=False),
            "the generator was updated before the discriminator: take the discriminator's step first, then the "
            "generator's step against the updated D (as notebook 07's loop does)."),
]
_BY_NAME = {mistake.name: mistake for mistake in TRAINING_STEP_MISTAKES}


def _diagnosis(name: str) -> Diagnosis:
    return Diagnosis(name, _BY_NAME[name].message)


def _training_step_inputs(generator):
    seed = int(torch.randint(0, 10_000, (1,), generator=generator))
    n = int(torch.randint(2, 6, (1,), generator=generator))
    inputs = (torch.rand(n, 1, 8, 8, generator=generator) < 0.3).float()    # a sparse binary map, like edges
    targets = torch.rand(n, 1, 8, 8, generator=generator)
    l1_weight = float(torch.randint(5, 50, (1,), generator=generator))   # not 100: a hard-coded lambda shows
    return seed, inputs, targets, l1_weight


def _weights(module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def _starts_with(pair: torch.Tensor, inputs: torch.Tensor, first: bool) -> bool:
    """Are the input images the first (or last) channels of every example D was shown?"""
    channels = inputs.shape[1]
    if pair.ndim != 4 or pair.shape[1] <= channels or pair.shape[-2:] != inputs.shape[-2:]:
        return False
    part = pair[:, :channels] if first else pair[:, -channels:]
    return all(any(torch.equal(example, candidate) for candidate in inputs) for example in part)


def _observe_training_step(fn, args):
    """Run one iteration from a fixed start, with stale gradients from a 'previous iteration' in .grad.

    Watches the run: what D is shown, when a gradient reaches G's output (events "grad_G"), when each
    optimizer steps ("d_step", "g_step"). Returns both networks' weights afterwards and the two losses."""
    seed, inputs, targets, l1_weight = args
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        G, D = _ProbeGenerator(), _ProbeDiscriminator()
        for p in list(G.parameters()) + list(D.parameters()):
            p.grad = torch.randn_like(p)
    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1)
    events = []

    def watch_output(module, module_inputs, output):
        if isinstance(output, torch.Tensor) and output.requires_grad:
            output.register_hook(lambda grad: events.append("grad_G"))

    G.register_forward_hook(watch_output)
    opt_d.register_step_pre_hook(lambda *_: events.append("d_step"))
    opt_g.register_step_pre_hook(lambda *_: events.append("g_step"))

    def gradient_in_d_step():  # a gradient reached G(x), then D stepped before G did
        for i, event in enumerate(events):
            if event == "grad_G":
                later = [e for e in events[i + 1:] if e != "grad_G"]
                if later and later[0] == "d_step":
                    return True
        return False

    def diagnose_what_was_watched():
        for pair in D.seen:
            if not _starts_with(pair, inputs, first=True):
                raise _diagnosis("pair_reversed" if _starts_with(pair, inputs, first=False)
                                 else "condition_not_shown_to_d")
        if gradient_in_d_step():
            raise _diagnosis("fake_not_detached")
        if "g_step" in events and "grad_G" not in events:
            raise _diagnosis("generator_gets_no_gradient")

    try:
        losses = fn(G, D, opt_g, opt_d, inputs, targets, l1_weight)
    except RuntimeError:
        diagnose_what_was_watched()   # e.g. "backward through the graph a second time" after an undetached D step
        raise
    diagnose_what_was_watched()
    if not (isinstance(losses, (tuple, list)) and len(losses) == 2):
        raise Diagnosis("structure", "return the two losses as a tuple of numbers, (d_loss, g_loss), got "
                                     f"{type(losses).__name__}.")
    try:
        losses = tuple(float(loss) for loss in losses)
    except (TypeError, ValueError, RuntimeError):
        raise Diagnosis("structure", "return the two losses as numbers (d_loss.item(), g_loss.item()).") from None
    return _weights(D), _weights(G), losses


_STEP_TRIALS = 3


def _what_the_step_got_wrong(student, trial: int) -> str | None:
    """Which of the four things the check compares differ on one trial, and by how much (no guessed cause)."""
    generator = torch.Generator().manual_seed(0)      # check_function's inputs, drawn again in the same order
    args = [_training_step_inputs(generator) for _ in range(_STEP_TRIALS)][trial]
    expected = _observe_training_step(_reference_training_step, args)
    try:
        got = run_student(_observe_training_step, student, args)
    except BaseException:  # noqa: BLE001 -- it returned once; if it now fails, keep the generic message
        return None
    parts = []
    for label, g, e in (("the discriminator's weights", got[0], expected[0]),
                        ("the generator's weights", got[1], expected[1])):
        gap = (g - e).abs()
        if g.shape == e.shape and not torch.allclose(g, e, rtol=1e-4, atol=1e-5):
            parts.append(f"{label} after your step differ from the expected ones by up to {gap.max().item():.3g} "
                         f"({int((gap > 1e-5 + 1e-4 * e.abs()).sum())} of {g.numel()} values)")
        elif g.shape == e.shape:
            parts.append(f"{label} are right")
    for label, g, e in (("d_loss", got[2][0], expected[2][0]), ("g_loss", got[2][1], expected[2][1])):
        right = abs(g - e) <= 1e-5 + 1e-4 * abs(e)
        parts.append(f"the returned {label} is {'right' if right else f'{g:.6g}, expected {e:.6g}'}")
    return (f"wrong values on test case {trial + 1} of {_STEP_TRIALS} (one step from a fixed start, plain SGD, "
            f"l1_weight = {args[3]:g}): " + "; ".join(parts) + ".")


def check_pix2pix_training_step(student) -> CheckResult:
    """pix2pix_training_step(G, D, opt_g, opt_d, inputs, targets, l1_weight) -> (d_loss, g_loss)  (Eq. 7.3)."""
    result = check_function(student, _reference_training_step, _training_step_inputs, TRAINING_STEP_MISTAKES,
                            name="pix2pix_training_step", observe=_observe_training_step, trials=_STEP_TRIALS,
                            verbose=False)
    if result.diagnosis == "values":
        result.message = _what_the_step_got_wrong(student, result.details.get("trial", 0)) or result.message
    print(result)
    return result


# =========================================================================== train it: edges -> digits
@dataclass
class TranslatorRun:
    """What ``train_edges_to_digits`` measured: held-out L1 of the translator and of the mean-digit baseline.

    ``examples``: eight held-out edge maps, the translator's digits for them and the real digits (24 images)."""

    steps: int
    held_out_l1: float
    baseline_l1: float
    seconds: float
    d_loss: float
    g_loss: float
    examples: torch.Tensor = field(repr=False, default=None)

    @property
    def ratio(self) -> float:
        return self.held_out_l1 / self.baseline_l1

    def __str__(self):
        return (f"{self.steps} steps in {self.seconds:.0f} s: held-out L1 {self.held_out_l1:.4f} vs "
                f"{self.baseline_l1:.4f} for predicting the mean training digit (ratio {self.ratio:.3f}); "
                f"last losses: D {self.d_loss:.3f}, G {self.g_loss:.3f}")


def train_edges_to_digits(training_step, steps: int, *, batch_size: int = 32, lr: float = 2e-3,
                          train_digits: int = 4000, test_digits: int = 500, width: int = 16,
                          seed: int = 0) -> TranslatorRun:
    """Train notebook 07's edges -> digits translator with ``training_step``; score it on held-out digits.

    The U-Net (depth 2) and the PatchGAN (n_down = 1) of notebook 07, Adam (betas 0.5, 0.999) for both,
    l1_weight = 100 (Eq. 7.3). Held out: the *test* split's digits. The baseline ignores its input: it
    predicts the mean training digit for every edge map.
    """
    from ..data import load_mnist
    from ..training import progress, seed_everything

    seed_everything(seed)
    train_inputs, train_targets = pix2pix.edge_pairs(load_mnist("train", limit=train_digits).tensors[0])
    test_inputs, test_targets = pix2pix.edge_pairs(load_mnist("test", limit=test_digits).tensors[0])
    G = pix2pix.UNet(1, 1, width=width, depth=2)
    D = pix2pix.PatchDiscriminator(in_channels=2, width=width, n_down=1)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    sampler = torch.Generator().manual_seed(seed)
    bar = progress(range(steps), desc="your pix2pix step")
    d_loss = g_loss = float("nan")
    started = time.perf_counter()
    for step in bar:
        index = torch.randint(0, len(train_inputs), (batch_size,), generator=sampler)
        d_loss, g_loss = run_student(training_step, G, D, opt_g, opt_d, train_inputs[index], train_targets[index],
                                     100.0)
        rate = (step + 1) * batch_size / (time.perf_counter() - started)
        bar.set_postfix(d_loss=f"{float(d_loss):.3f}", g_loss=f"{float(g_loss):.3f}", img_s=f"{rate:.0f}",
                        refresh=False)
    seconds = time.perf_counter() - started
    G.eval()
    with torch.no_grad():
        predictions = G(test_inputs)
    held_out_l1 = (predictions - test_targets).abs().mean().item()
    baseline_l1 = (test_targets - train_targets.mean(0)).abs().mean().item()
    examples = torch.cat([test_inputs[:8], predictions[:8], test_targets[:8]])
    return TranslatorRun(steps, held_out_l1, baseline_l1, seconds, float(d_loss), float(g_loss), examples)


def check_translator(run: TranslatorRun, max_ratio: float) -> CheckResult:
    """Passes when the held-out L1 is at most ``max_ratio`` times the mean-digit baseline's."""
    refused = wrong_kind(run, TranslatorRun, "what train_edges_to_digits returns (a TranslatorRun)",
                         "train_edges_to_digits", "not_a_run")
    if refused is not None:
        return refused
    passed = run.ratio <= max_ratio
    verdict = "at most" if passed else "more than"
    message = (f"held-out L1 {run.held_out_l1:.4f} is {run.ratio:.3f} of the mean-digit baseline's "
               f"{run.baseline_l1:.4f}: {verdict} the {max_ratio:g} required.")
    if not passed:
        message += (" If the checks above pass, look at what your step returns and updates; a translator that "
                    "learned nothing scores about 1 (or worse).")
    return reported(CheckResult(passed, message, "train_edges_to_digits", "correct" if passed else "not_good_enough",
                                {"ratio": run.ratio}))
