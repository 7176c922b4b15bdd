#!/usr/bin/env python3
"""Train every reference model briefly on this machine's best device; check sanity; print timings.

    python benchmarks/gpu_check.py               # on a CUDA GPU: bf16 autocast, channels_last
    python benchmarks/gpu_check.py --steps 5     # a quick pass (the test suite runs this on CPU)
    python benchmarks/gpu_check.py --json out.json

Each model trains for ``--steps`` optimizer steps with the course's helpers
(``make_fabric`` picks device and precision, ``setup_model`` applies channels_last where
it helps, ``to_device`` copies batches with pinned memory and non_blocking). A model is *sane* when every loss stayed finite and, for the models with a
supervised loss trained for at least 20 steps, the loss fell. Exit status 1 if any model is not sane.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # course_lib from this checkout, installed or not


def _synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _supervised(name, fabric, model, make_batch, loss_of, steps, lr=1e-3):
    from course_lib.training import setup_model

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = setup_model(fabric, model, optimizer)
    losses, started = [], None
    for step in range(steps + 2):
        if step == 2:  # two warm-up steps (kernel selection, compilation) are not timed
            _synchronize(fabric.device)
            started = time.perf_counter()
        batch = make_batch()
        loss = loss_of(model, batch)
        optimizer.zero_grad(set_to_none=True)
        fabric.backward(loss)
        optimizer.step()
        losses.append(loss.item())
    _synchronize(fabric.device)
    return _row(name, losses, started, steps, len(batch[0]), supervised=steps >= 20)


def _adversarial(name, fabric, generator, discriminator, step_inputs, steps, batch_size):
    """``steps`` calls of the course's ``adversarial_step``; ``step_inputs(G)`` gives its batch arguments."""
    from course_lib.gan import adversarial_step
    from course_lib.training import setup_model

    optimizer_g = torch.optim.Adam(generator.parameters(), 2e-4, betas=(0.5, 0.999))
    optimizer_d = torch.optim.Adam(discriminator.parameters(), 2e-4, betas=(0.5, 0.999))
    generator, optimizer_g = setup_model(fabric, generator, optimizer_g)
    discriminator, optimizer_d = setup_model(fabric, discriminator, optimizer_d)
    losses, started = [], None
    for step in range(steps + 2):
        if step == 2:
            _synchronize(fabric.device)
            started = time.perf_counter()
        result = adversarial_step(generator, discriminator, optimizer_g, optimizer_d, fabric=fabric,
                                  **step_inputs(generator))
        losses.append(result.d_loss + result.g_loss)     # a tensor: no host sync inside the timed loop
    _synchronize(fabric.device)
    return _row(name, torch.stack(losses).float().tolist(), started, steps, batch_size, supervised=False)


def _row(name, losses, started, steps, batch_size, supervised):
    seconds = time.perf_counter() - started
    finite = all(map(lambda v: v == v and abs(v) != float("inf"), losses))
    k = max(1, len(losses) // 4)
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    sane = finite and (last < first if supervised else True)
    return {"model": name, "ms_per_step": 1000 * seconds / steps, "images_per_s": steps * batch_size / seconds,
            "first_loss": first, "last_loss": last, "finite": finite, "sane": sane}


def run(steps: int, batch_size: int) -> tuple[list[dict], dict]:
    from course_lib import cnn, conditional, enhance, gan, pix2pix, vae
    from course_lib.data import PhotoPatches, load_mnist
    from course_lib.training import make_fabric, seed_everything, to_device

    seed_everything(0)
    fabric = make_fabric()
    digits, labels = load_mnist("train", limit=4 * batch_size).tensors
    patches = torch.stack([PhotoPatches("train", 48, 4 * batch_size, colour=False)[i] for i in range(4 * batch_size)])
    cursor = {"i": 0}

    def pick(*tensors):
        i = cursor["i"] = (cursor["i"] + batch_size) % (4 * batch_size)
        return to_device(fabric, tuple(t[i:i + batch_size] for t in tensors))

    def latents(n, dim):
        return torch.randn(n, dim, device=fabric.device)

    rows = []
    rows.append(_supervised("CNN classifier", fabric, cnn.DigitClassifier(), lambda: pick(digits, labels),
                            lambda m, b: F.cross_entropy(m(b[0]), b[1]), steps))
    rows.append(_supervised("MLP VAE", fabric, vae.make_vae("mlp"), lambda: pick(digits),
                            lambda m, b: vae.vae_loss(m, b)[0], steps))
    rows.append(_supervised("conv VAE", fabric, vae.make_vae("conv"), lambda: pick(digits),
                            lambda m, b: vae.vae_loss(m, b)[0], steps))

    def dcgan_inputs(g):
        real, = pick(digits * 2 - 1)
        return dict(generator_inputs=latents(len(real), g.latent_dim), real=real)

    def cgan_inputs(g):
        real, y = pick(digits * 2 - 1, labels)
        return dict(generator_inputs=(latents(len(real), g.latent_dim), y), real=(real, y), fake_condition=(y,))

    edges, _ = pix2pix.edge_pairs(digits)

    def pix2pix_inputs(g):
        x, y = pick(edges * 2 - 1, digits * 2 - 1)
        return dict(generator_inputs=x, real=(y, x), fake_condition=(x,), d_weight=0.5,
                    g_extra_loss=lambda fake: 100.0 * (fake - y).abs().mean())

    rows.append(_adversarial("DCGAN", fabric, gan.DCGANGenerator(), gan.DCGANDiscriminator(), dcgan_inputs, steps,
                             batch_size))
    rows.append(_adversarial("conditional GAN", fabric, conditional.ConditionalGenerator(),
                             conditional.ConditionalDiscriminator(), cgan_inputs, steps, batch_size))
    rows.append(_adversarial("pix2pix (edges->digits)", fabric, pix2pix.UNet(), pix2pix.PatchDiscriminator(),
                             pix2pix_inputs, steps, batch_size))
    sigma = 25 / 255
    rows.append(_supervised("residual denoiser", fabric, enhance.ResidualDenoiser(), lambda: pick(patches),
                            lambda m, b: enhance.residual_denoiser_loss(m, b[0], sigma * torch.randn_like(b[0])),
                            steps))
    rows.append(_supervised("super-resolution x2", fabric, enhance.SubPixelSR(scale=2), lambda: pick(patches),
                            lambda m, b: F.mse_loss(m(enhance.downscale(b[0], 2)), b[0]), steps))
    info = {"device": str(fabric.device), "precision": str(fabric.strategy.precision.__class__.__name__),
            "name": torch.cuda.get_device_name(0) if fabric.device.type == "cuda" else "cpu",
            "torch": torch.__version__, "steps": steps, "batch_size": batch_size}
    return rows, info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    rows, info = run(args.steps, args.batch_size)
    print(f"device {info['name']} ({info['device']}), precision plugin {info['precision']}, torch {info['torch']}, "
          f"{args.steps} steps of batch {args.batch_size}")
    print(f"{'model':<26}{'ms/step':>10}{'images/s':>11}{'first loss':>12}{'last loss':>11}  sane")
    for r in rows:
        print(f"{r['model']:<26}{r['ms_per_step']:>10.1f}{r['images_per_s']:>11.0f}{r['first_loss']:>12.4f}"
              f"{r['last_loss']:>11.4f}  {'yes' if r['sane'] else 'NO'}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"info": info, "rows": rows}, handle, indent=2)
    return 0 if all(r["sane"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
