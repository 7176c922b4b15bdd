#!/usr/bin/env python3
"""Train one diffusion or flow-matching variant on the bundled digits and print its quality every ``every`` steps.

    python benchmarks/diffusion_sweep.py                              # notebook 11's recipe (v-prediction)
    python benchmarks/diffusion_sweep.py objective=flow               # notebook 12's recipe
    python benchmarks/diffusion_sweep.py objective=eps width=48 lr=1e-3 device=cuda

The tables "Diffusion recipe" in benchmarks/README.md came from this script: on a GPU machine, one
process per variant, all at once (``OMP_NUM_THREADS=1 python benchmarks/diffusion_sweep.py ... &``),
each trained for the number of steps that fits in about 8 minutes on 2 CPU cores.

Each EVAL line is a JSON object: step, ms per training step, and for each sampler (``ddim10``,
``ddim20``, ``ddim50`` for diffusion; ``euler10``, ``euler20``, ``heun9``, ``heun19`` for flow
matching, the number being the network evaluations) and each guidance weight (``cfg<w>``: class-
balanced labels, 20 evaluations per label pair) the share of 1,000 samples the evaluation network
classifies with confidence >= 0.9, the smallest class share, and the classifier FID of 500 samples
against the 500 held-out test digits (notebook 03's protocol; the floor is printed once); guided
sets add the mean and worst per-class accuracy. Samples come from an EMA of the weights.

Options (key=value): objective (v, eps, flow), steps, every, batch, lr, warmup, decay (const, cosine),
width, groups, emb, ema, p_uncond (label dropout; 1 = an unconditional model), time (logit_normal,
uniform: flow's time sampling), seed, device, data (a .pt file of {split: (images, labels)}, else
course_lib.data), guidance (comma-separated weights), out (a file that EVAL lines are appended to).
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # course_lib from this checkout, installed or not

from course_lib.diffusion import (NUM_CLASSES, TimeUNet, cosine_schedule, diffusion_loss, drop_labels,  # noqa: E402
                                  flow_matching_loss, sample_diffusion, sample_flow, to_unit_range)
from course_lib.metrics import frechet_distance  # noqa: E402  (Eq. 3.7 on features; they stay on the CPU)

DEFAULTS = dict(objective="v", steps=3500, every=500, batch=128, lr=2e-3, warmup=200, decay="cosine", width=32,
                groups=8, emb=128, ema=0.999, p_uncond=0.1, time="logit_normal", seed=0, device="cuda", data="",
                guidance="0,1,2,3", samples=1000, out="")


def parse(argv):
    options = dict(DEFAULTS)
    for arg in argv:
        key, _, value = arg.partition("=")
        if key not in options:
            raise SystemExit(f"unknown option {key!r}; valid: {', '.join(options)}")
        options[key] = type(DEFAULTS[key])(value) if not isinstance(DEFAULTS[key], str) else value
    return options


def load_digits(path: str):
    """{split: (images in [0, 1], labels)} from a .pt file, or course_lib.data's MNIST."""
    if path:
        return torch.load(path)
    from course_lib.data import load_mnist
    return {split: load_mnist(split).tensors for split in ("train", "val", "test")}


def evaluation_network(device):
    from course_lib.metrics import evaluation_network as load
    return load(train_if_missing=True, verbose=False).to(device)


@torch.no_grad()
def features_and_predictions(network, images, device):
    feats, probs = [], []
    for i in range(0, len(images), 1000):
        x = images[i:i + 1000].to(device)
        feats.append(network.features(x).double().cpu())
        probs.append(network(x).softmax(1).cpu())
    return torch.cat(feats), torch.cat(probs)


class Scorer:
    def __init__(self, digits, device):
        self.device = device
        self.network = evaluation_network(device)
        self.heldout, _ = features_and_predictions(self.network, digits["test"][0], device)
        both = torch.cat([digits["test"][0], digits["val"][0]])
        order = torch.randperm(len(both), generator=torch.Generator().manual_seed(0))  # as metrics.real_floor
        half = len(both) // 2
        feats, _ = features_and_predictions(self.network, both, device)
        self.floor = frechet_distance(feats[order[:half]], feats[order[half:2 * half]])

    def __call__(self, images, labels=None):
        feats, probs = features_and_predictions(self.network, to_unit_range(images), self.device)
        confidence, predicted = probs.max(1)
        histogram = torch.bincount(predicted, minlength=NUM_CLASSES).float() / len(predicted)
        n = min(len(self.heldout), len(feats))
        result = dict(confident=round(float((confidence >= 0.9).float().mean()), 4),
                      smallest=round(float(histogram.min()), 4), fid=round(frechet_distance(self.heldout[:n],
                                                                                           feats[:n]), 2))
        if labels is not None:
            per_class = torch.stack([(predicted[labels == c] == c).float().mean() for c in range(NUM_CLASSES)])
            result.update(accuracy=round(float(per_class.mean()), 4), worst=round(float(per_class.min()), 4))
        return result


def make_loss(options, schedule):
    if options["objective"] == "flow":
        return lambda model, x, y: flow_matching_loss(model, x, y, time_sampling=options["time"])
    return lambda model, x, y: diffusion_loss(model, x, schedule, y, prediction=options["objective"])


def sample(options, model, schedule, nfe, labels=None, guidance=0.0, method=None):
    n = options["samples"]
    if options["objective"] == "flow":
        method = method or "euler"
        steps = nfe if method == "euler" else (nfe + 1) // 2
        return sample_flow(model, n, steps, method, labels=labels, guidance=guidance, seed=1)
    return sample_diffusion(model, schedule, n, nfe, "ddim", labels=labels, guidance=guidance,
                            prediction=options["objective"], seed=1)


def evaluate(options, model, schedule, score):
    results = {}
    samplers = ([("euler", 10), ("euler", 20), ("heun", 9), ("heun", 19)] if options["objective"] == "flow"
                else [("ddim", 10), ("ddim", 20), ("ddim", 50)])
    if options["p_uncond"] > 0:
        for method, nfe in samplers:
            results[f"{method}{nfe}"] = score(sample(options, model, schedule, nfe, method=method))
    if options["p_uncond"] < 1:
        labels = torch.arange(options["samples"]) % NUM_CLASSES
        for w in [float(w) for w in options["guidance"].split(",") if w]:
            results[f"cfg{w:g}"] = score(sample(options, model, schedule, 20, labels=labels, guidance=w), labels)
    return results


def main(argv=None):
    options = parse(sys.argv[1:] if argv is None else argv)
    if options["objective"] not in ("v", "eps", "flow"):
        raise SystemExit("objective must be v, eps or flow")
    device = options["device"] if options["device"] != "cuda" or torch.cuda.is_available() else "cpu"
    torch.manual_seed(options["seed"])
    digits = load_digits(options["data"])
    images, labels = digits["train"]
    images, labels = (images * 2 - 1).to(device), labels.to(device)  # Eq. (11.1): [0, 1] -> [-1, 1]
    score = Scorer(digits, device)
    print(f"FLOOR {score.floor:.2f}  options {json.dumps(options)}", flush=True)
    model = TimeUNet(width=options["width"], emb_dim=options["emb"], groups=options["groups"]).to(device)
    ema = TimeUNet(**model.config).to(device)
    ema.load_state_dict(model.state_dict())
    ema.eval().requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=options["lr"])

    def lr_at(step):
        warm = min(1.0, (step + 1) / options["warmup"]) if options["warmup"] else 1.0
        if options["decay"] == "cosine":
            return warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / options["steps"])))
        return warm

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    schedule = cosine_schedule()
    loss_fn = make_loss(options, schedule)
    generator = torch.Generator(device=device).manual_seed(options["seed"])
    elapsed, losses = 0.0, []
    for step in range(1, options["steps"] + 1):
        start = time.perf_counter()
        index = torch.randint(0, len(images), (options["batch"],), generator=generator, device=device)
        y = drop_labels(labels[index], options["p_uncond"])
        loss = loss_fn(model, images[index], y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        decay = min(options["ema"], (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - decay)
        if device != "cpu":
            torch.cuda.synchronize()
        elapsed += time.perf_counter() - start
        losses.append(loss.item())
        if step % options["every"] == 0 or step == options["steps"]:
            result = dict(step=step, ms=round(1000 * elapsed / step, 2), loss=round(sum(losses[-200:]) /
                          len(losses[-200:]), 4), floor=round(score.floor, 2), **evaluate(options, ema, schedule,
                                                                                             score))
            line = "EVAL " + json.dumps(result)
            print(line, flush=True)
            if options["out"]:
                with open(options["out"], "a") as handle:
                    handle.write(json.dumps(dict(options=options, **result)) + "\n")
    return ema


if __name__ == "__main__":
    main()
