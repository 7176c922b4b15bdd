"""Checks for the CNN assignment (solutions/01_cnn_assignment.ipynb)."""
from __future__ import annotations

import torch
from torch import nn

from .. import cnn
from .core import CheckResult, Diagnosis, Mistake, check_function

__all__ = ["check_conv_output_size", "check_conv_transpose_output_size", "check_upsample_block"]


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
