"""Course-wide settings: fast mode, where files live, and every training budget.

* ``COURSE_FAST=1`` shrinks every budget so that the whole course runs on two CPU cores in
  minutes (the test suite runs the notebooks so). Each budget is written once, below, as
  ``Budget(full=..., fast=...)``: a reader sees both values; notebooks never hard-code one.
* ``COURSE_HOME`` (default ``~/.cache/pixels-from-noise``) holds downloaded data (``data/``) and
  trained models (``checkpoints/``); ``COURSE_DATA`` moves the data folder alone, so a shared
  MNIST cache can outlive a scratch ``COURSE_HOME``.
* ``COURSE_OFFLINE=1`` blocks every network connection of the process as soon as ``course_lib``
  is imported (``_network``); the test suite sets it, so no notebook can depend on a download.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from ._folders import CourseHomeError, checkpoint_dir, course_home, data_dir

__all__ = ["FAST", "is_fast", "Budget", "budgets", "course_home", "CourseHomeError", "data_dir", "checkpoint_dir",
           "checkpoint_path", "is_offline"]


def _flag(name: str) -> bool:
    return os.environ.get(name, "0").strip().lower() in {"1", "true", "yes", "on"}


def is_fast() -> bool:
    """True when ``COURSE_FAST`` is set to 1/true/yes/on (read at call time)."""
    return _flag("COURSE_FAST")


def is_offline() -> bool:
    """True when ``COURSE_OFFLINE`` is set to 1/true/yes/on."""
    return _flag("COURSE_OFFLINE")


def __getattr__(name):
    """``config.FAST`` (and ``course_lib.FAST``) is ``is_fast()`` read when it is looked up: one source."""
    if name == "FAST":
        return is_fast()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def checkpoint_path(name: str) -> Path:
    """Where model ``name`` is saved. Fast runs use their own file (``name_fast.pt``),
    so a quick test run never replaces a model trained in full mode."""
    if not isinstance(name, str):
        raise TypeError(f"checkpoint name must be a string such as 'dcgan', got {type(name).__name__}")
    if not name or any(c in name for c in "/\\"):
        raise ValueError(f"checkpoint name must be a plain file stem, got {name!r}")
    return checkpoint_dir() / f"{name}{'_fast' if is_fast() else ''}.pt"


# --------------------------------------------------------------------------- budgets
@dataclass(frozen=True)
class Budget:
    """One training budget: the value for a full run and the value in fast mode."""

    full: int | float
    fast: int | float

    @property
    def value(self):
        return self.fast if is_fast() else self.full


# Every notebook's budgets, in one place. Keys are the notebooks' short names.
# Full-mode values are the ones the notebooks' promised quality was measured with.
BUDGETS: dict[str, dict[str, Budget]] = {
    "cnn": {  # notebooks/01_cnn_building_blocks.ipynb
        "steps": Budget(full=1500, fast=120),  # optimizer steps (an epoch of bundled digits is 63)
        "batch_size": Budget(full=64, fast=64),
        "lr": Budget(full=1e-3, fast=1e-3),
    },
    "second_cnn": {  # metrics.evaluate_samples's second feature extractor (recipe: zoo.train_second_cnn)
        "steps": Budget(full=800, fast=200),  # Adam steps (25 epochs of the bundled digits), shifted by up to 1 px
        "batch_size": Budget(full=128, fast=128),
        "lr": Budget(full=2e-3, fast=2e-3),
    },
    # Each entry below belongs to one notebook; edit only your notebook's entry.
    "gan_objective": {  # notebooks/02_gan_objective.ipynb
        "steps": Budget(full=1500, fast=300),  # 8-Gaussian GAN: optimizer steps of each of G and D
        "seeds": Budget(full=3, fast=1),  # independent runs of each 8-Gaussian setting (mean and range)
        "head_start_steps": Budget(full=200, fast=200),  # D alone at 10x its learning rate before G starts
        "saturation_steps": Budget(full=600, fast=200),  # then both players, minimax vs non-saturating G
        "discriminator_steps": Budget(full=1500, fast=200),  # 1-D discriminator vs the analytic D*
        "critic_steps": Budget(full=1000, fast=150),  # Wasserstein critic, with and without penalty
    },
    "dcgan": {  # notebooks/03_dcgan.ipynb
        "steps": Budget(full=6000, fast=120),  # optimizer steps of each of G and D (an epoch is 62)
        "batch_size": Budget(full=64, fast=64),
        "lr": Budget(full=5e-4, fast=5e-4),  # Adam, betas (0.5, 0.999); the paper's 2e-4 is slower on a short run
        "width": Budget(full=24, fast=16),  # channels of D's first layer (then 2w, 4w); G has 4w / 2w / w
        "ema_decay": Budget(full=0.998, fast=0.95),  # EMA of G's weights (Eq. 3.4): ~1 / (1 - decay) steps
        "samples": Budget(full=1000, fast=200),  # generated digits scored by the evaluation network
    },
    "vae_elbo": {  # notebooks/04_vae_elbo.ipynb
        "steps": Budget(full=3000, fast=150),  # optimizer steps of the MLP VAE at lr (an epoch is 32 steps)
        "finetune_steps": Budget(full=1000, fast=50),  # then at lr / 5
        "batch_size": Budget(full=128, fast=128),
        "lr": Budget(full=1e-3, fast=1e-3),
        "demo_steps": Budget(full=500, fast=60),  # each "what goes wrong" variant and its baseline
        "iw_samples": Budget(full=100, fast=100),  # k of the importance-weighted estimate
    },
    "vae_latent": {  # notebooks/05_vae_latent_space.ipynb
        "conv_steps": Budget(full=4000, fast=120),  # conv VAE at lr, batch 64 (an epoch is 63 steps)
        "conv_finetune_steps": Budget(full=500, fast=20),  # then at lr / 5
        "conv_batch_size": Budget(full=64, fast=64),
        "latent2d_steps": Budget(full=2000, fast=100),  # the 2-D latent MLP VAE, batch 128
        "beta_steps": Budget(full=800, fast=40),  # each MLP VAE of the beta curve, batch 128
        "seeds": Budget(full=3, fast=1),  # MLP VAEs per beta, one per seed (mean and range): 15 x 800 steps in full mode
        "lr": Budget(full=1e-3, fast=1e-3),
        "iw_samples": Budget(full=100, fast=100),  # k of the importance-weighted estimate
        "iw_digits": Budget(full=500, fast=100),  # test digits it is averaged over (500 = all bundled ones)
    },
    "cgan": {  # notebooks/06_conditional_gan.ipynb
        "steps": Budget(full=1200, fast=150),  # the main model (learned embedding + projection D)
        "ablation_steps": Budget(full=400, fast=20),  # each model of the 2x2 ablation (fast: it only runs)
        "seeds": Budget(full=3, fast=1),  # independent runs of each ablation cell (mean and range)
        "batch_size": Budget(full=64, fast=64),
        "lr": Budget(full=5e-4, fast=5e-4),
        "ema_decay": Budget(full=0.99, fast=0.9),  # EMA of G's weights (Eq. 3.4), as in notebook 03
        "samples_per_class": Budget(full=300, fast=50),  # main model's per-class accuracy
        "eval_per_class": Budget(full=50, fast=20),  # samples per class for FID (n = 10x, vs n held-out) and diversity
    },
    "pix2pix": {  # notebooks/07_pix2pix.ipynb (five small translators, each trained once per seed)
        "seeds": Budget(full=3, fast=1),  # every comparison is read as mean, spread and per-seed difference
        "steps": Budget(full=400, fast=30),  # per translator and seed: 3 x 400 cost what one run of 1,200 did
        "batch_size": Budget(full=32, fast=32),
        "lr": Budget(full=1e-3, fast=2e-3),  # Adam, both players; fast: 30 steps at 1e-3 do not beat the mean digit
        "train_digits": Budget(full=4000, fast=1000),  # edges->digits training pairs
        "test_digits": Budget(full=500, fast=200),
        "train_patches": Budget(full=3000, fast=800),  # grey->colour 32 px photo patches
        "test_patches": Budget(full=300, fast=100),
    },
    "style": {  # notebooks/08_style_transfer.ipynb
        "steps": Budget(full=200, fast=12),  # Adam steps on the pixels (L-BFGS gets a third of them)
        "size": Budget(full=128, fast=48),  # image side in pixels (GPUs: 256-512)
        "tradeoff_steps": Budget(full=60, fast=20),  # steps per style weight in the trade-off sweep (fewer: no trade-off yet)
        "tradeoff_weights": Budget(full=(1e1, 1e2, 1e3, 1e4), fast=(1e1, 1e4)),  # style weights of that sweep
    },
    "enhance": {  # notebooks/09_image_enhancement.ipynb
        "denoise_steps": Budget(full=4000, fast=50),  # grey 48 px patches, width 48, depth 8
        "sr_steps": Budget(full=300, fast=20),  # per scale (x2 and x3)
        "colour_steps": Budget(full=200, fast=15),
        "batch_size": Budget(full=16, fast=8),
        "patch_size": Budget(full=48, fast=36),  # a multiple of 2, 3 and 4 (denoiser, SR x3, colouriser)
        "eval_crop": Budget(full=192, fast=72),  # centre crop of each held-out photo
        "sweep_sigmas": Budget(full=(15, 25, 40), fast=(25,)),  # noise levels (0-255) of the denoiser comparison
    },
    "diffusion": {  # notebooks/11_diffusion.ipynb (recipe: benchmarks/README.md, "Diffusion recipe")
        "steps": Budget(full=2900, fast=100),  # Adam steps of the v-prediction U-Net, batch 128 (an epoch is 31)
        "batch_size": Budget(full=128, fast=32),  # fast mode is a smoke test: the loss falls, FID beats untrained
        "lr": Budget(full=2e-3, fast=2e-3),  # peak; 200 warm-up steps, cosine decay to lr / 10
        "width": Budget(full=32, fast=32),  # U-Net channels at 14x14 (2x at 7x7)
        "ema_decay": Budget(full=0.999, fast=0.99),
        "label_dropout": Budget(full=0.1, fast=0.1),  # share of labels replaced by NO_LABEL (guidance)
        "samples": Budget(full=1000, fast=150),  # generated digits scored by the evaluation network (FID: > 128)
        "curve_samples": Budget(full=300, fast=130),  # per point of the quality-vs-steps curve (FID needs > 128)
        "curve_steps": Budget(full=(10, 25, 50, 250), fast=(4, 10)),
        "guidance_samples": Budget(full=500, fast=50),  # class-balanced, per guidance weight
        "guidance_weights": Budget(full=(0.0, 0.5, 1.0, 2.0, 3.0), fast=(0.0, 1.0)),
        "cfg_weight": Budget(full=1.0, fast=1.0),  # the weight the guided targets are measured at
        "sample_steps": Budget(full=20, fast=10),  # DDIM steps of the evaluation samples
    },
    "flow": {  # notebooks/12_flow_matching.ipynb (same recipe as "diffusion", flow-matching loss)
        "toy_steps": Budget(full=2000, fast=200),  # the 8-Gaussian velocity MLP, batch 256
        "steps": Budget(full=2900, fast=100),  # 3,000 took 482-486 s on 2 cores: over the 480 s target
        "batch_size": Budget(full=128, fast=32),  # fast mode is a smoke test: the loss falls, FID beats untrained
        "lr": Budget(full=2e-3, fast=2e-3),
        "width": Budget(full=32, fast=32),
        "ema_decay": Budget(full=0.999, fast=0.99),
        "label_dropout": Budget(full=0.1, fast=0.1),
        "samples": Budget(full=1000, fast=150),
        "curve_samples": Budget(full=300, fast=130),
        "nfe": Budget(full=(4, 10, 20, 50), fast=(4, 10)),  # network evaluations per sample on the comparison plot
        "guidance_samples": Budget(full=500, fast=50),
        "cfg_weight": Budget(full=1.0, fast=1.0),
        "sample_steps": Budget(full=20, fast=10),  # Euler steps of the evaluation samples
    },
    "diffusion_assignment": {  # solutions/11_diffusion_assignment.ipynb (the student's own functions)
        "steps": Budget(full=2000, fast=30),  # eps-prediction U-Net, Adam 2e-3
        "batch_size": Budget(full=128, fast=32),  # fast mode: the loss must still fall by 20 %
        "samples": Budget(full=500, fast=50),  # guided samples (w = 1) scored for the threshold
    },
    "comparison": {  # notebooks/10_comparison_and_outlook.ipynb
        "samples": Budget(full=2000, fast=200),  # generated digits per model for FID, confidence, coverage
        "sample_seeds": Budget(full=3, fast=2),  # draws of each model's samples (other noise, same n and digits)
        "seeds": Budget(full=3, fast=2),  # independent short trainings per model for the stability study
        "stability_steps": Budget(full=800, fast=30),  # steps of each of those trainings
        "iw_samples": Budget(full=200, fast=20),  # k of the importance-weighted likelihood
        "iw_digits": Budget(full=500, fast=100),
        "vae_lr": Budget(full=1e-3, fast=1e-3),  # Adam, the MLP VAE of the stability study
        "vae_batch_size": Budget(full=128, fast=128),
    },
    "enhancement_assignment": {  # solutions/09_enhancement_assignment.ipynb, Exercise 4
        "steps": Budget(full=300, fast=40),  # the student's SuperResolver x2 (width 32, depth 4), batch 32, Adam 2e-3
        "patch_size": Budget(full=48, fast=36),  # grey training patches
        "eval_crop": Budget(full=192, fast=72),  # centre crop of each held-out photo
        "min_gain_db": Budget(full=0.8, fast=0.1),  # PSNR gain over bicubic the run must reach (measured: 1.6 / 0.34)
    },
    "evaluation_assignment": {  # solutions/10_evaluation_assignment.ipynb, Exercise 5 (the student's own loop)
        "steps": Budget(full=1500, fast=200),  # Adam steps of each MLP VAE (latent 16, hidden 256), batch 64
        "lr": Budget(full=2e-3, fast=2e-3),
        "few_digits": Budget(full=10, fast=10),  # training digits of the model that should memorize
        "samples": Budget(full=500, fast=150),  # n: samples per model, against n + n held-out digits
        "max_ratio_to_untrained": Budget(full=0.3, fast=0.6),  # FID/floor vs the untrained VAE's (measured: 0.15 / 0.36)
        "max_memorization_few": Budget(full=0.75, fast=0.8),  # memorization score (measured: 0.50 / 0.58)
        "min_memorization_everything": Budget(full=0.9, fast=0.9),  # (measured: 1.05 / 1.08)
    },
    "pix2pix_assignment": {  # solutions/07_pix2pix_assignment.ipynb, Exercise 4
        "steps": Budget(full=400, fast=40),  # the student's step on notebook 07's U-Net + PatchGAN (width 16), batch 32
        "lr": Budget(full=2e-3, fast=2e-3),  # Adam, betas (0.5, 0.999), both players
        "train_digits": Budget(full=4000, fast=1000),  # edges->digits training pairs
        "test_digits": Budget(full=500, fast=200),
        "max_l1_ratio": Budget(full=0.3, fast=0.75),  # held-out L1 / the mean digit's (measured: 0.13 / 0.43-0.47)
    },
    "iwae_assignment": {  # solutions/05_iwae_assignment.ipynb, Exercise 4
        "steps": Budget(full=1200, fast=60),  # the MLP VAE (latent 20, hidden 400) trained on the student's L_5, batch 128
        "k": Budget(full=5, fast=5),  # importance samples in the training bound
        "test_digits": Budget(full=500, fast=200),
        "max_nll": Budget(full=115.0, fast=200.0),  # test -L_100 (nats) the run must reach (measured: 107 / 183)
    },
    "cnn_assignment": {  # solutions/01_cnn_assignment.ipynb, Exercise 5
        "steps": Budget(full=1500, fast=60),  # the student's classifier (two strided convs, width 16), batch 64, Adam
        "lr": Budget(full=2e-3, fast=2e-3),
        "min_accuracy": Budget(full=0.95, fast=0.7),  # held-out accuracy the run must reach (measured: 0.972 / 0.85)
    },
    "style_assignment": {  # solutions/08_style_assignment.ipynb, Exercise 4 (the residual denoiser of Exercise 3)
        "steps": Budget(full=300, fast=40),  # ResidualDenoiser (width 32, depth 5) on the student's loss, batch 16, Adam
        "lr": Budget(full=2e-3, fast=2e-3),
        "patch_size": Budget(full=40, fast=40),  # grey training patches, noise sigma 25/255
        "eval_crop": Budget(full=192, fast=96),  # centre crop of each held-out photo
        "min_gain_db": Budget(full=8.0, fast=2.0),  # PSNR gain over the noisy photos (measured: 9.95 / 4.08)
    },
    "gan_objective_assignment": {  # solutions/02_gan_objective_assignment.ipynb, Exercise 4
        "steps": Budget(full=1500, fast=200),  # the student's training step on the 8-Gaussian mixture, batch 256
        "lr": Budget(full=1e-3, fast=2e-3),  # Adam, betas (0.5, 0.999), both players
    },
    "gan_losses_assignment": {  # solutions/03_gan_losses_assignment.ipynb, Exercise 5
        "steps": Budget(full=1500, fast=400),  # the WGAN-GP critic (MLP, hidden 32) on the student's penalty, batch 256
        "lr": Budget(full=1e-3, fast=2e-3),  # Adam, betas (0.5, 0.9)
        "max_error": Budget(full=0.15, fast=0.25),  # |critic's held-out gap - W1| allowed (W1 = 1)
    },
    "conditional_assignment": {  # solutions/06_conditional_assignment.ipynb, Exercise 6
        "steps": Budget(full=800, fast=100),  # the matching-aware discriminator on the student's input, batch 64
        "lr": Budget(full=1e-3, fast=2e-3),  # Adam, betas (0.5, 0.999)
        "width": Budget(full=32, fast=16),  # channels of its first convolution (then 2x)
        "min_accuracy": Budget(full=0.9, fast=0.75),  # held-out accuracy at spotting a wrong label (chance: 0.5)
    },
    "common_mistakes": {  # notebooks/99_common_mistakes.ipynb (each broken recipe and its fix, on every seed)
        "gan_steps": Budget(full=800, fast=300),  # the 1-D toy GAN: G(z) = a z + b against a small MLP D
        "gan_lr": Budget(full=1e-2, fast=1e-2),  # Adam, betas (0.5, 0.999), both players
        "vae_steps": Budget(full=1500, fast=150),  # the MLP VAE (latent 8, hidden 256), batch 128
        "seeds": Budget(full=3, fast=1),  # fast mode: one seed shows each effect; full mode checks it on all three
    },
}


def budgets(name: str, verbose: bool = True) -> SimpleNamespace:
    """The budgets of notebook ``name`` resolved for the current mode.

    >>> b = budgets("cnn")      # prints a small table
    >>> b.steps                 # 1500 in full mode, 120 with COURSE_FAST=1
    """
    if name not in BUDGETS:
        raise ValueError(f"unknown budget set {name!r}; valid choices: {sorted(BUDGETS)}")
    table = BUDGETS[name]
    fast = is_fast()
    if verbose:
        mode = "FAST (COURSE_FAST=1)" if fast else "FULL"
        print(f"Budgets for '{name}' in {mode} mode:")
        width = max(len(k) for k in table)
        for key, b in table.items():
            print(f"  {key:<{width}} = {b.value!s:<8} (full: {b.full}, fast: {b.fast})")
    return SimpleNamespace(**{k: b.value for k, b in table.items()})
