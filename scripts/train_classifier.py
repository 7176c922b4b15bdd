#!/usr/bin/env python3
"""Train the digit classifier on one device or several (Lightning Fabric DDP).

The same script runs everywhere: the course's ``fit`` loop shares each global batch
between the processes, and DDP averages their gradients, so N processes train exactly
like one process on the same global batch.

    python scripts/train_classifier.py                                  # one device, auto-selected
    python scripts/train_classifier.py --accelerator cuda --devices 4   # DDP on 4 GPUs
    python scripts/train_classifier.py --accelerator cpu --devices 2    # DDP on 2 CPU processes (gloo)

Fabric starts the extra processes itself (it re-runs this script); ``torchrun`` works too.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

from course_lib.cnn import DigitClassifier, accuracy, classification_loss
from course_lib.data import load_mnist
from course_lib.training import fit, make_fabric, seed_everything


def small_mlp() -> nn.Module:
    """A BatchNorm-free model: per-process BatchNorm statistics would make DDP differ from one process."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accelerator", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--precision", default=None, help="e.g. 32-true, bf16-mixed (default: chosen per device)")
    parser.add_argument("--model", default="cnn", choices=["cnn", "mlp"])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch, shared by the processes")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use only this many training digits")
    parser.add_argument("--no-augment", action="store_true", help="no random shifts (exactly reproducible)")
    parser.add_argument("--save-parameters", type=Path, default=None,
                        help="write each process's final parameters to PATH.rankN.pt")
    args = parser.parse_args(argv)

    fabric = make_fabric(accelerator=args.accelerator, devices=args.devices, precision=args.precision)
    seed_everything(args.seed)
    model = DigitClassifier() if args.model == "cnn" else small_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    train_set = load_mnist("train", limit=args.limit)
    history = fit(model, train_set, lambda m, b: classification_loss(m, b, augment=not args.no_augment),
                  optimizer=optimizer, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                  fabric=fabric, desc=f"{args.model} on {fabric.world_size} process(es)")
    if args.save_parameters is not None:
        path = args.save_parameters.with_name(f"{args.save_parameters.name}.rank{fabric.global_rank}.pt")
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
    if fabric.global_rank == 0:
        model.to(fabric.device)
        print(f"final loss {history['loss'][-1]:.4f}, validation accuracy {accuracy(model, load_mnist('val')):.2%} "
              f"({fabric.world_size} process(es) on {fabric.device.type})")


if __name__ == "__main__":
    main()
