"""Checks for the image-enhancement assignment (solutions/09_enhancement_assignment.ipynb).

Student signatures:
    psnr_db(prediction, target) -> scalar        Eq. (9.5): 10 log10(1 / MSE), images in [0, 1], MSE over every value
    pixel_shuffle(x, r) -> tensor                 Eq. (9.3): (N, C r^2, H, W) -> (N, C, H r, W r), as nn.PixelShuffle
    SuperResolver(scale) -> nn.Module             Eq. (9.3): bicubic + pixel_shuffle(body(low_res)), the body's last
                                                  convolution zero-initialised so training starts at bicubic
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..enhance import bicubic_upscale
from .core import CheckResult, Diagnosis, Mistake, check_function

__all__ = ["check_psnr", "check_pixel_shuffle", "check_super_resolver", "PSNR_MISTAKES", "PIXEL_SHUFFLE_MISTAKES"]


# --------------------------------------------------------------------------- PSNR
def _psnr(prediction, target, factor=10.0, log=math.log10, peak=1.0, error=lambda p, t: ((p - t) ** 2).mean()):
    return factor * log(peak ** 2 / error(prediction, target).item())


def _psnr_inputs(generator):
    target = torch.rand(int(torch.randint(2, 5, (1,), generator=generator)), 1, 6, 6, generator=generator)
    noise = 0.02 + 0.2 * torch.rand(1, generator=generator).item()
    return (target + noise * torch.randn(target.shape, generator=generator)).clamp(0, 1), target


PSNR_MISTAKES = [
    Mistake("twenty_log_of_mse", lambda p, t: _psnr(p, t, factor=20.0),
            "20 log10 belongs to the RMSE (an amplitude): 10 log10(1 / MSE) = 20 log10(1 / RMSE). "
            "With the MSE (a power) the factor is 10."),
    Mistake("natural_log", lambda p, t: _psnr(p, t, log=math.log),
            "decibels use log10, not the natural log: PSNR = 10 log10(1 / MSE)."),
    Mistake("peak_255", lambda p, t: _psnr(p, t, peak=255.0),
            "these images are in [0, 1], so the peak value is 1: PSNR = 10 log10(1 / MSE), not 10 log10(255^2 / MSE)."),
    Mistake("rmse_for_mse", lambda p, t: _psnr(p, t, error=lambda p, t: ((p - t) ** 2).mean().sqrt()),
            "you used the root of the mean squared error: 10 log10 needs the MSE itself (or write 20 log10(1 / RMSE))."),
    Mistake("absolute_error", lambda p, t: _psnr(p, t, error=lambda p, t: (p - t).abs().mean()),
            "the error is squared: MSE = mean((prediction - target)^2), not the mean absolute difference."),
    Mistake("inverted", lambda p, t: -_psnr(p, t),
            "the ratio is upside down: PSNR = 10 log10(peak^2 / MSE), which grows as the error shrinks."),
]


def _as_number(fn, args):
    value = fn(*args)
    return torch.as_tensor(value, dtype=torch.float64).reshape(()) if isinstance(value, (int, float, torch.Tensor)) else value


def check_psnr(student) -> CheckResult:
    """psnr_db(prediction, target) = 10 log10(1 / MSE) for images in [0, 1] (Eq. 9.5)."""
    return check_function(student, _psnr, _psnr_inputs, PSNR_MISTAKES, name="psnr_db", trials=3,
                          observe=_as_number, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- the sub-pixel rearrangement
def _shuffle(x, r, order=(0, 1, 4, 2, 5, 3), channels_last=False):
    n, c, h, w = x.shape
    out = c // (r * r)
    if channels_last:  # the r x r sub-pixels taken as the slow index, the channel as the fast one
        return x.view(n, r, r, out, h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, out, h * r, w * r)
    return x.view(n, out, r, r, h, w).permute(*order).reshape(n, out, h * r, w * r)


def _shuffle_inputs(generator):
    r = int(torch.randint(2, 4, (1,), generator=generator))
    c = int(torch.randint(1, 3, (1,), generator=generator))
    h, w = (int(v) for v in torch.randint(2, 5, (2,), generator=generator))
    return torch.randn(2, c * r * r, h, w + 1, generator=generator), r  # never square


PIXEL_SHUFFLE_MISTAKES = [
    Mistake("no_permute", lambda x, r: x.reshape(x.shape[0], x.shape[1] // (r * r), x.shape[2] * r, x.shape[3] * r),
            "a reshape alone scrambles the image: split the channels into (C, r, r), then move the two r axes next "
            "to H and W with permute(0, 1, 4, 2, 5, 3) before the final reshape."),
    Mistake("rows_and_columns_swapped", lambda x, r: _shuffle(x, r, order=(0, 1, 4, 3, 5, 2)),
            "the two sub-pixel axes are swapped: channel c r^2 + i r + j goes to row h r + i and column w r + j "
            "(i with H, j with W), i.e. permute(0, 1, 4, 2, 5, 3)."),
    Mistake("channel_as_fast_index", lambda x, r: _shuffle(x, r, channels_last=True),
            "the channels are split the wrong way round: channel index = c r^2 + (i r + j), so view the input as "
            "(N, C, r, r, H, W), with the output channel first."),
]


def check_pixel_shuffle(student) -> CheckResult:
    """pixel_shuffle(x, r) = nn.PixelShuffle(r)(x): output[n, c, h r + i, w r + j] = x[n, c r^2 + i r + j, h, w]."""
    return check_function(student, lambda x, r: F.pixel_shuffle(x, r), _shuffle_inputs, PIXEL_SHUFFLE_MISTAKES,
                          name="pixel_shuffle", trials=3, rtol=0, atol=0)


# --------------------------------------------------------------------------- the model
def _last_conv(model: nn.Module) -> nn.Conv2d:
    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convolutions:
        raise Diagnosis("no_convolution", "your model has no nn.Conv2d: build the body from 3x3 convolutions.")
    return convolutions[-1]


def _model_output(model_class, args):
    scale, low_res = args
    model = model_class(scale)
    if not isinstance(model, nn.Module):
        raise Diagnosis("not_a_module", f"SuperResolver({scale}) must build an nn.Module, got {type(model).__name__}.")
    last = _last_conv(model)
    if last.out_channels != scale * scale:
        raise Diagnosis("wrong_channels", f"the last convolution outputs {last.out_channels} channels; pixel_shuffle "
                                          f"needs scale^2 = {scale * scale} per output channel (one per sub-pixel).")
    with torch.no_grad():
        at_start = model(low_res)
        if tuple(at_start.shape) != (len(low_res), 1, low_res.shape[2] * scale, low_res.shape[3] * scale):
            raise Diagnosis("shape", f"SuperResolver({scale}) turned {tuple(low_res.shape)} into "
                                     f"{tuple(at_start.shape)}; expected every side {scale} times longer.")
        bicubic = bicubic_upscale(low_res, scale)
        if not torch.allclose(at_start, bicubic, atol=1e-6):
            zero = torch.zeros_like(last.weight)
            if torch.equal(last.weight, zero) and torch.equal(last.bias, torch.zeros_like(last.bias)):
                raise Diagnosis("no_bicubic", "with a zero correction your model's output is not the bicubic "
                                              "upscaling: the forward pass is bicubic_upscale(low_res, scale) + "
                                              "pixel_shuffle(body(low_res), scale).")
            raise Diagnosis("not_zero_initialised", "an untrained model should return exactly the bicubic upscaling: "
                                                    "set the last convolution's weight and bias to zero "
                                                    "(nn.init.zeros_), so training starts from bicubic.")
        last.weight.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
        last.bias.normal_(0, 0.1, generator=torch.Generator().manual_seed(2))
        body_input = {}
        hook = last.register_forward_hook(lambda module, inputs, output: body_input.setdefault("out", output))
        trained = model(low_res)
        hook.remove()
    if not torch.allclose(trained, bicubic + F.pixel_shuffle(body_input["out"], scale), atol=1e-5):
        raise Diagnosis("correction", "once the last convolution is trained, the output is not bicubic_upscale(low_res, "
                                      "scale) + pixel_shuffle(body(low_res), scale): check your pixel_shuffle (its "
                                      "check above) and that nothing else is added or rescaled.")
    return torch.zeros_like(trained)


def check_super_resolver(student_class) -> CheckResult:
    """SuperResolver(scale): bicubic + pixel_shuffle(body(low_res)), starting exactly at bicubic (Eq. 9.3)."""
    def inputs(generator):
        scale = int(torch.randint(2, 4, (1,), generator=generator))
        return scale, torch.rand(2, 1, 5, 6, generator=generator)

    def reference(scale, low_res):
        return torch.zeros(len(low_res), 1, low_res.shape[2] * scale, low_res.shape[3] * scale)

    def student(scale, low_res):
        if not isinstance(student_class, type):
            raise Diagnosis("not_a_class", "pass the class itself, check_super_resolver(SuperResolver), "
                                           f"not {type(student_class).__name__!r}.")
        return _model_output(student_class, (scale, low_res))

    return check_function(student, reference, inputs, name="SuperResolver", trials=2, atol=1e-5,
                          success="starts at bicubic and adds pixel_shuffle(body(low_res)): correct.")
