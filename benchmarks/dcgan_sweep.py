#!/usr/bin/env python3
"""Train one DCGAN variant on the bundled digits and print its quality every ``every`` steps.

    python benchmarks/dcgan_sweep.py                          # notebook 03's pair: three layers each side
    python benchmarks/dcgan_sweep.py layers=2 width=32        # the two-layer pair notebook 03 used before
    python benchmarks/dcgan_sweep.py r1=1 aug=translation,cutout seed=1 device=cuda

The table "DCGAN depth" in benchmarks/README.md came from this script: on a GPU machine, one
process per variant, all at once, e.g.
    for v in "seed=0" "layers=2 width=32" "r1=1"; do OMP_NUM_THREADS=1 python benchmarks/dcgan_sweep.py $v & done

Each EVAL line: (step, ms per training step, share of samples the evaluation network classifies
with confidence >= 0.9, smallest class share, largest class share, classifier FID of
`samples` (1,000) samples against the 500 held-out test digits). Samples come from a 0.998 EMA of G, as in
notebook 03; the data are drawn with replacement rather than in epochs.

Options (key=value): steps, every, batch, latent, lr, d_lr_factor, beta1, beta2, width, ema, seed,
layers (2 or 3 on both sides; layers_g / layers_d for one side), r1 (R1 penalty weight on reals),
dropout (in D), aug (translation and/or cutout, DiffAugment-style, on every input of D), topk
(1: G learns from the half of the fakes D rates best, Sinha et al. 2020), loss (non_saturating,
hinge), device, samples (scored at each EVAL).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # course_lib from this checkout, installed or not

from course_lib.data import load_mnist, random_shift  # noqa: E402
from course_lib.gan import (DCGANDiscriminator, DCGANGenerator, discriminator_loss, generate,  # noqa: E402
                            generator_loss, init_dcgan_weights, sample_latents)
from course_lib.metrics import class_histogram, classifier_fid, digit_predictions, evaluation_network  # noqa: E402
from course_lib.training import seed_everything  # noqa: E402

DEFAULTS = dict(steps=6000, every=1000, batch=64, latent=64, lr=5e-4, d_lr_factor=1.0, beta1=0.5, beta2=0.999,
                width=24, ema=0.998, seed=0, layers=3, layers_g=0, layers_d=0, r1=0.0, dropout=0.0, aug="",
                topk=0, loss="non_saturating", device="cuda", samples=1000)


class TwoLayerGenerator(nn.Module):
    """Notebook 03's generator before 2026-11-26: 2w x 14 x 14 -> image in one transposed convolution."""

    def __init__(self, latent_dim: int, w: int):
        super().__init__()
        self.w = w
        self.project = nn.Sequential(nn.Linear(latent_dim, 4 * w * 7 * 7, bias=False), nn.BatchNorm1d(4 * w * 7 * 7),
                                     nn.ReLU())
        self.upsample = nn.Sequential(nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w),
                                      nn.ReLU(), nn.ConvTranspose2d(2 * w, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.upsample(self.project(z).view(len(z), 4 * self.w, 7, 7))


def discriminator(layers: int, w: int, dropout: float) -> nn.Module:
    """The course's D (three layers), the earlier two-layer D, or either with dropout after each activation."""
    if layers == 3 and not dropout:
        return DCGANDiscriminator(w)
    blocks = [nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(dropout),
              nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
    if layers == 3:
        blocks += [nn.Conv2d(2 * w, 4 * w, 3, 2, 1, bias=False), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2),
                   nn.Dropout(dropout), nn.Flatten(), nn.Linear(4 * w * 4 * 4, 1)]
    else:
        blocks += [nn.Flatten(), nn.Linear(2 * w * 7 * 7, 1)]
    net = nn.Sequential(*blocks)
    return nn.Sequential(net, nn.Flatten(0))


def augment(images: torch.Tensor, kinds: str) -> torch.Tensor:
    """DiffAugment (Zhao et al., 2020) for 28 x 28 digits in [-1, 1]: differentiable, fresh per call."""
    if "translation" in kinds:  # shift by up to 3 px (1/8 of the size), background fill
        images = random_shift(images, max_shift=3, fill=-1.0)
    n, device = len(images), images.device
    grid = torch.arange(28, device=device)
    if "cutout" in kinds:  # one 13 x 13 square (about half the size) set to background
        cy, cx = (torch.randint(0, 29, (n, 1, 1), device=device) for _ in range(2))
        inside = ((grid[None, :, None] - cy).abs() < 7) & ((grid[None, None, :] - cx).abs() < 7)
        images = torch.where(inside[:, None], torch.full_like(images, -1.0), images)
    return images


def main(argv: list[str]) -> None:
    options = dict(DEFAULTS)
    for item in argv:
        key, _, value = item.partition("=")
        if key not in DEFAULTS:
            raise SystemExit(f"unknown option {key!r}; valid: {', '.join(DEFAULTS)}")
        options[key] = type(DEFAULTS[key])(value)
    o = type("Options", (), options)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    seed_everything(o.seed)
    device = torch.device(o.device if o.device != "cuda" or torch.cuda.is_available() else "cpu")
    train = (load_mnist("train").tensors[0] * 2 - 1).to(device)
    layers_g, layers_d = o.layers_g or o.layers, o.layers_d or o.layers
    generator = DCGANGenerator(o.latent, o.width) if layers_g == 3 else TwoLayerGenerator(o.latent, o.width)
    critic = discriminator(layers_d, o.width, o.dropout)
    for model in (generator, critic):
        model.apply(init_dcgan_weights).to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=o.lr, betas=(o.beta1, o.beta2))
    opt_d = torch.optim.Adam(critic.parameters(), lr=o.lr * o.d_lr_factor, betas=(o.beta1, o.beta2))
    ema = AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(o.ema), use_buffers=True)
    network, heldout = evaluation_network(verbose=False), load_mnist("test").tensors[0]
    noise = sample_latents(o.samples, o.latent, seed=4321)
    picks = torch.Generator(device=device).manual_seed(o.seed)
    evals, training_seconds, started = [], 0.0, time.perf_counter()
    for step in range(1, o.steps + 1):
        real = train[torch.randint(0, len(train), (o.batch,), generator=picks, device=device)]
        fake = generator(torch.randn(o.batch, o.latent, device=device))
        real.requires_grad_(o.r1 > 0)
        real_logits = critic(augment(real, o.aug))
        d_loss = discriminator_loss(real_logits, critic(augment(fake.detach(), o.aug)), o.loss)
        if o.r1:  # R1 (Mescheder et al., 2018): (gamma / 2) E ||grad_x D(x)||^2 on real images
            grad, = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            d_loss = d_loss + o.r1 / 2 * grad.pow(2).flatten(1).sum(1).mean()
        opt_d.zero_grad(set_to_none=True), d_loss.backward(), opt_d.step()
        fake_logits = critic(augment(fake, o.aug))
        if o.topk:  # k decays from the batch to half of it, 1 % per epoch of the training set
            k = max(o.batch // 2, int(o.batch * 0.99 ** (step * o.batch / len(train))))
            fake_logits = fake_logits.topk(k).values
        g_loss = generator_loss(fake_logits, o.loss)
        opt_g.zero_grad(set_to_none=True), g_loss.backward(), opt_g.step()
        ema.update_parameters(generator)
        if step % o.every == 0:
            if device.type == "cuda":
                torch.cuda.synchronize()
            training_seconds += time.perf_counter() - started
            samples = generate(ema.module, noise)
            confident = (digit_predictions(samples, network)[1] >= 0.9).float().mean().item()
            histogram = class_histogram(samples, network)
            fid = classifier_fid(heldout, samples, network)
            evals.append((step, round(1000 * training_seconds / step, 1), round(confident, 3),
                          round(histogram.min().item(), 3), round(histogram.max().item(), 3), round(fid, 1)))
            print("EVAL", " ".join(argv), evals[-1], flush=True)
            started = time.perf_counter()
    print("RESULT", json.dumps({"options": options, "evals": evals}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
