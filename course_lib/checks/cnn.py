"""Checks for the CNN assignment (solutions/01_cnn_assignment.ipynb)."""
from __future__ import annotations

import torch
from torch import nn

from .. import cnn
from ..data import load_mnist
from .core import (CheckResult, Diagnosis, Mistake, TimeLimitExceeded, check_function, reported, run_student,
                   wrong_kind)

__all__ = ["check_conv_output_size", "check_conv_transpose_output_size", "check_upsample_block",
           "check_trained_classifier"]


def _conv_inputs(generator):
    size = int(torch.randint(8, 64, (1,), generator=generator))
    kernel = int(torch.randint(1, 6, (1,), generator=generator))
    stride = int(torch.randint(2, 4, (1,), generator=generator))
    padding = int(torch.randint(1, 3, (1,), generator=generator))
    return size, kernel, stride, padding


def _reference_conv(size, kernel_size, stride, padding):
    return cnn.conv_output_size(size, kernel_size, stride, padding)


CONV_MISTAKES = [
    Mistake("padding_once", lambda n, k, s, p: (n + p - k) // s + 1,
            "padding is added on *both* sides of the input: use 2 * padding."),
    Mistake("no_plus_one", lambda n, k, s, p: (n + 2 * p - k) // s,
            "off by one: count the first kernel position too, (n + 2p - k) // s + 1."),
    Mistake("true_division", lambda n, k, s, p: (n + 2 * p - k) / s + 1,
            "the size must be a whole number: use floor division // instead of /."),
    Mistake("stride_ignored", lambda n, k, s, p: n + 2 * p - k + 1,
            "the stride is missing: the kernel moves `stride` pixels at a time, so divide by it."),
    Mistake("transpose_formula", lambda n, k, s, p: (n - 1) * s - 2 * p + k,
            "that is the *transposed* convolution's formula; a convolution shrinks the input."),
]


def check_conv_output_size(student) -> CheckResult:
    """Student's conv_output_size(size, kernel_size, stride, padding) vs Eq. (1.1)."""
    return check_function(student, _reference_conv, _conv_inputs, CONV_MISTAKES, name="conv_output_size", trials=8)


def _reference_transpose(size, kernel_size, stride, padding):
    return cnn.conv_transpose_output_size(size, kernel_size, stride, padding)


TRANSPOSE_MISTAKES = [
    Mistake("conv_formula", lambda n, k, s, p: (n + 2 * p - k) // s + 1,
            "that is the ordinary convolution's formula; a transposed convolution *grows* the input: "
            "(n - 1) * s - 2p + k."),
    Mistake("n_times_s", lambda n, k, s, p: n * s - 2 * p + k,
            "use (size - 1) * stride: the last input pixel starts the last kernel copy, it does not add a stride."),
    Mistake("padding_added", lambda n, k, s, p: (n - 1) * s + 2 * p + k,
            "in a transposed convolution padding *removes* rows from the output: subtract 2 * padding."),
    Mistake("padding_once", lambda n, k, s, p: (n - 1) * s - p + k,
            "padding is removed on both sides: subtract 2 * padding."),
]


def check_conv_transpose_output_size(student) -> CheckResult:
    """Student's conv_transpose_output_size(size, kernel_size, stride, padding) vs Eq. (1.3)."""
    return check_function(student, _reference_transpose, _conv_inputs, TRANSPOSE_MISTAKES,
                          name="conv_transpose_output_size", trials=8)


def check_upsample_block(student_factory) -> CheckResult:
    """Student's upsample_block(in_channels, out_channels) must double H and W and set the channels.

    We compare output *shapes* and the presence of a learnable upsampling layer; the
    weights are random, so values are not compared.
    """
    def observe(factory, args):
        in_channels, out_channels, batch = args
        block = factory(in_channels, out_channels)
        if not isinstance(block, nn.Module):
            raise TypeError(f"upsample_block must return an nn.Module, got {type(block).__name__}")
        learnable = any(isinstance(m, (nn.ConvTranspose2d, nn.Conv2d)) for m in block.modules())
        out = block(batch)
        shape = tuple(out.shape)
        parameters = dict(block.named_parameters())
        if parameters and isinstance(out, torch.Tensor) and out.requires_grad:
            weights = torch.linspace(-1.0, 2.0, out.numel()).view_as(out)  # not a plain sum: BatchNorm zeroes that
            grads = torch.autograd.grad((out * weights).sum(), list(parameters.values()), allow_unused=True)
            unused = [name for (name, _), g in zip(parameters.items(), grads) if g is None or not g.abs().sum() > 0]
            if unused:
                raise Diagnosis("unused_layer", f"these parameters never receive a gradient: {', '.join(unused)}. "
                                "A layer is created in __init__ but its output never reaches the block's output "
                                "(check forward): it would never learn.")
        return shape, learnable

    def reference(in_channels, out_channels):
        return nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1),
                             nn.BatchNorm2d(out_channels), nn.ReLU())

    def make_inputs(generator):
        cin = int(torch.randint(2, 9, (1,), generator=generator))
        cout = int(torch.randint(2, 9, (1,), generator=generator))
        size = int(torch.randint(3, 9, (1,), generator=generator))
        return cin, cout, torch.randn(2, cin, size, size, generator=generator)

    mistakes = [
        Mistake("kernel3_stride2", lambda i, o: nn.ConvTranspose2d(i, o, 3, 2, 1),
                "kernel 3, stride 2, padding 1 gives 2n - 1, not 2n: use kernel 4 (or output_padding=1)."),
        Mistake("no_padding", lambda i, o: nn.ConvTranspose2d(i, o, 4, 2, 0),
                "without padding=1 the output is 2n + 2: a 4x4 kernel with stride 2 needs padding 1 to give 2n."),
        Mistake("stride1", lambda i, o: nn.ConvTranspose2d(i, o, 4, 1, 1),
                "stride 1 barely changes the size: stride 2 is what doubles it."),
    ]

    return check_function(student_factory, reference, make_inputs, mistakes, name="upsample_block",
                          observe=observe, trials=3)


SOFTMAX_MESSAGE = (
    "your classifier ends in a softmax: its outputs are probabilities (each row is positive and sums to 1). "
    "F.cross_entropy applies the softmax itself (Eq. 1.5) and expects logits, any real numbers; after a softmax it "
    "computes log softmax(softmax(z)), whose inputs lie in [0, 1], so it can never be confident and its gradients "
    "are small: training stalls. End with the linear layer, and apply softmax only when you want probabilities.")


def _logits_of(model, images):
    with torch.no_grad():
        return model(images)


def check_trained_classifier(model, min_accuracy: float, verbose: bool = True) -> CheckResult:
    """Accuracy of a trained digit classifier on the held-out test digits, against ``min_accuracy``.

    The classifier must map (N, 1, 28, 28) digits to (N, 10) logits: outputs that are probabilities
    (a final softmax) are rejected with the reason, whatever their accuracy, because cross-entropy
    (Eq. 1.5) expects logits.
    """
    if not 0 < min_accuracy <= 1:
        raise ValueError(f"min_accuracy is a fraction in (0, 1], got {min_accuracy!r}")
    name = "trained classifier"

    def report(passed, message, diagnosis, **details):
        return reported(CheckResult(passed, message, name, diagnosis, details), verbose)

    refused = wrong_kind(model, nn.Module, "your trained nn.Module", name, verbose=verbose)
    if refused is not None:
        return refused
    images, labels = load_mnist("test").tensors
    parameter = next(model.parameters(), None)
    if parameter is not None:
        images = images.to(parameter.device, parameter.dtype)
    model.eval()
    try:
        logits = run_student(_logits_of, model, images)
    except NotImplementedError:
        return report(False, "not implemented yet: replace `raise NotImplementedError()` with your code.",
                      "not_implemented")
    except TimeLimitExceeded:
        return report(False, f"classifying {len(images)} digits did not finish in time: look for a loop in forward.",
                      "time_limit")
    except Exception as error:
        return report(False, f"your classifier raised {type(error).__name__} on a batch of (N, 1, 28, 28) digits: "
                             f"{error}", "raised")
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(images), 10):
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        return report(False, f"expected logits of shape ({len(images)}, 10), one score per class, got {got}.",
                      "wrong_shape")
    logits = logits.float().cpu()
    if (logits >= 0).all() and torch.allclose(logits.sum(1), torch.ones(len(logits)), atol=1e-4):
        return report(False, SOFTMAX_MESSAGE, "softmax")
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    if accuracy >= min_accuracy:
        return report(True, f"held-out accuracy {accuracy:.1%} on {len(labels)} digits it never trained on "
                            f"(needed: {min_accuracy:.0%}).", "correct", accuracy=accuracy)
    return report(False, f"held-out accuracy {accuracy:.1%} on {len(labels)} test digits; needed: {min_accuracy:.0%} "
                         "(chance is 10%). If the checks above pass, look at what forward returns (every layer "
                         "used, a ReLU between layers) and at the learning rate.", "too_inaccurate", accuracy=accuracy)
