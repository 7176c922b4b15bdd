"""Every number the course reports about images, in one module.

* Digit sample quality, measured with the *evaluation network* (notebook 01's classifier, loaded
  by ``zoo``): confidence, class histogram, classifier-feature FID and KID (Inception features mean
  nothing on MNIST), always next to a real-vs-real floor.
* Enhancement quality: PSNR and SSIM (torchmetrics), colourfulness.
* Memorization: distance of each sample to its nearest training image.
"""
from __future__ import annotations

import torch
from torch import nn

from .checkpoints import save_checkpoint
from .cnn import DigitClassifier
from .config import checkpoint_path
from .validate import check_images, check_positive_int, check_same_device

__all__ = ["save_evaluation_network", "evaluation_network", "digit_predictions",
           "class_histogram", "ClassifierFeatures", "classifier_fid", "classifier_kid", "real_floor", "psnr", "ssim",
           "colourfulness", "nearest_neighbour_distances", "memorization_score", "sample_report"]


# --------------------------------------------------------------------------- evaluation network
def save_evaluation_network(model: DigitClassifier, val_accuracy: float, source: str):
    """Notebook 01 saves its classifier here; ``evaluation_network()`` loads it (fast and full runs apart)."""
    return save_checkpoint(checkpoint_path("evaluation_cnn"), models=model, config=model.config,
                           extra={"val_accuracy": float(val_accuracy), "mnist_source": source})


def evaluation_network(train_if_missing: bool = True, verbose: bool = True) -> DigitClassifier:
    """Notebook 01's digit classifier, in eval mode and frozen (``zoo.load``; if missing, notebook 01 runs first)."""
    from . import zoo

    return zoo.load("evaluation_cnn", train_if_missing=train_if_missing, verbose=verbose)


def _network_or_default(network) -> DigitClassifier:
    """``network``, or the evaluation network when it is None."""
    if network is not None and not isinstance(network, DigitClassifier):
        raise TypeError(f"network must be the course's DigitClassifier (or None for the evaluation network), "
                        f"got {type(network).__name__}")
    return network or evaluation_network(verbose=False)


@torch.no_grad()
def _batched(model: nn.Module, images: torch.Tensor, fn, batch_size: int = 1000) -> torch.Tensor:
    first = next(model.parameters())  # float64 images are accepted: they go in as the network's dtype
    return torch.cat([fn(images[i:i + batch_size].to(first.device, first.dtype)).cpu()
                      for i in range(0, len(images), batch_size)])


def digit_predictions(images: torch.Tensor, network: DigitClassifier | None = None):
    """(predicted class, confidence = max softmax probability) for digits in [0, 1]."""
    check_images(images, value_range=(0, 1), channels=(1,), size=(28, 28), name="digits")
    network = _network_or_default(network)
    probabilities = _batched(network, images, lambda x: network(x).softmax(1))
    confidence, predicted = probabilities.max(1)
    return predicted, confidence


def class_histogram(images: torch.Tensor, network: DigitClassifier | None = None) -> torch.Tensor:
    """Fraction of samples the evaluation network puts in each of the 10 classes."""
    predicted, _ = digit_predictions(images, network)
    return torch.bincount(predicted, minlength=10).float() / len(predicted)


def sample_report(samples: torch.Tensor, network: DigitClassifier | None = None,
                  heldout: torch.Tensor | None = None) -> dict:
    """How generated digits (N, 1, 28, 28) in [0, 1] score, the columns of notebook 10's table.

    confident: share the evaluation network classifies with confidence >= 0.9 (notebook 03, section 5);
    classes_covered: classes that get at least 5 % of the samples; histogram_entropy: entropy of the
    class histogram divided by log 10 (1: every class equally often); fid: classifier FID (Eq. 3.7)
    against the real ``heldout`` digits, when they are given.
    """
    predicted, confidence = digit_predictions(samples, network)
    histogram = torch.bincount(predicted, minlength=10).float() / len(predicted)
    report = {"fid": classifier_fid(heldout, samples, network)} if heldout is not None else {}
    return report | {"confident": (confidence >= 0.9).float().mean().item(),
                     "classes_covered": int((histogram >= 0.05).sum()),
                     "histogram_entropy": float(-(histogram.clamp_min(1e-12).log() * histogram).sum()
                                                / torch.log(torch.tensor(10.0)))}


# --------------------------------------------------------------------------- FID / KID
class ClassifierFeatures(nn.Module):
    """Adapter: the evaluation network's penultimate features, as torchmetrics expects.

    torchmetrics probes a custom extractor with a random uint8 image, so uint8
    input is rescaled to [0, 1] here; float input must already be in [0, 1].
    """

    def __init__(self, network: DigitClassifier):
        super().__init__()
        self.network = network
        self.num_features = network.config["feature_dim"]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        return self.network.features(images)


def _update(metric, images, real: bool, batch_size=1000):
    for i in range(0, len(images), batch_size):
        metric.update(images[i:i + batch_size].float(), real=real)


@torch.no_grad()
def classifier_fid(real: torch.Tensor, fake: torch.Tensor, network: DigitClassifier | None = None) -> float:
    """Fréchet distance between Gaussians fitted to evaluation-network features (Eq. 3.7).

    FID = |mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)). Needs more samples than
    feature dimensions (128) on each side for a stable covariance.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    features = ClassifierFeatures(_checked_real_fake(real, fake, network)).eval()
    if min(len(real), len(fake)) <= features.num_features:
        raise ValueError(f"FID needs more than {features.num_features} images on each side "
                         f"(got {len(real)} real, {len(fake)} fake)")
    metric = FrechetInceptionDistance(feature=features, normalize=True, input_img_size=(1, 28, 28))
    _update(metric, real, True)
    _update(metric, fake, False)
    return float(metric.compute())


@torch.no_grad()
def classifier_kid(real: torch.Tensor, fake: torch.Tensor, network: DigitClassifier | None = None,
                   subset_size: int = 200, subsets: int = 50) -> tuple[float, float]:
    """Kernel distance (unbiased MMD², cubic polynomial kernel) on the same features: (mean, std)."""
    from torchmetrics.image.kid import KernelInceptionDistance

    check_positive_int(subset_size, "subset_size")
    check_positive_int(subsets, "subsets")
    if subset_size < 2:
        raise ValueError(f"subset_size must be at least 2 (the unbiased estimate compares pairs), got {subset_size}")
    network = _checked_real_fake(real, fake, network)
    if min(len(real), len(fake)) < 2:
        raise ValueError(f"KID needs at least 2 images on each side (got {len(real)} real, {len(fake)} fake)")
    subset_size = min(subset_size, len(real), len(fake))
    metric = KernelInceptionDistance(feature=ClassifierFeatures(network).eval(), subset_size=subset_size,
                                     subsets=subsets, normalize=True)
    _update(metric, real, True)
    _update(metric, fake, False)
    mean, std = metric.compute()
    return float(mean), float(std)


def _checked_real_fake(real, fake, network) -> DigitClassifier:
    """Check both sets of digits; return the network that scores them."""
    for name, images in (("real", real), ("fake", fake)):
        check_images(images, value_range=(0, 1), channels=(1,), size=(28, 28), name=f"{name} digits")
    check_same_device(real, fake, names=("real digits", "fake digits"))
    return _network_or_default(network)


def real_floor(real: torch.Tensor, network: DigitClassifier | None = None, seed: int = 0) -> float:
    """FID between two disjoint random halves of ``real``: what "as good as real data" scores.

    Compare it with an FID computed on the same number of images per side (``len(real) // 2``):
    FID's estimate is biased upward, the more so the fewer images, so a floor from halves of 250
    sits above the FID of a good generator measured on 1,000.
    """
    check_images(real, value_range=(0, 1), channels=(1,), size=(28, 28), name="real digits")
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))
    half = len(real) // 2
    return classifier_fid(real[order[:half]], real[order[half:2 * half]], network)


# --------------------------------------------------------------------------- PSNR / SSIM
def psnr(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]: 10 log10(1 / MSE)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    _check_pair(prediction, target)
    return float(peak_signal_noise_ratio(prediction.clamp(0, 1), target, data_range=1.0))


def ssim(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Structural similarity (Gaussian window 11, sigma 1.5) for images in [0, 1]."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    _check_pair(prediction, target)
    if min(prediction.shape[-2:]) < 11:
        raise ValueError(f"SSIM uses an 11x11 window: images must be at least 11x11 pixels, got shape "
                         f"{tuple(prediction.shape)}")
    return float(structural_similarity_index_measure(prediction.clamp(0, 1), target, data_range=1.0))


def colourfulness(images: torch.Tensor) -> float:
    """Hasler and Suesstrunk's (2003) colourfulness of RGB images (N, 3, H, W) in [0, 1].

    With rg = R - G and yb = (R + G) / 2 - B over all pixels:
    M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2).
    Grey images score 0; muted, sepia-like colourisations (what an L1 or L2 loss produces) score low.
    """
    check_images(images, channels=(3,), value_range=(-0.5, 1.5), name="images")
    r, g, b = images.double().unbind(1)
    rg, yb = r - g, 0.5 * (r + g) - b
    spread = (rg.std() ** 2 + yb.std() ** 2).sqrt()
    offset = (rg.mean() ** 2 + yb.mean() ** 2).sqrt()
    return float(spread + 0.3 * offset)


def _check_pair(prediction, target):
    check_same_device(prediction, target, names=("prediction", "target"))
    check_images(target, value_range=(0, 1), name="target")
    check_images(prediction, value_range=(-0.5, 1.5), name="prediction")
    if prediction.shape != target.shape:
        raise ValueError(f"prediction and target must have the same shape, got {tuple(prediction.shape)} "
                         f"and {tuple(target.shape)}")


# --------------------------------------------------------------------------- memorization
@torch.no_grad()
def nearest_neighbour_distances(samples: torch.Tensor, reference: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Euclidean pixel distance from each sample to its nearest image in ``reference``."""
    check_images(samples, name="samples")
    check_images(reference, name="reference")
    check_same_device(samples, reference, names=("samples", "reference"))
    check_positive_int(batch_size, "batch_size")
    if samples.shape[1:] != reference.shape[1:]:
        raise ValueError(f"samples and reference images must have the same (C, H, W), got "
                         f"{tuple(samples.shape[1:])} and {tuple(reference.shape[1:])}")
    flat_reference = reference.flatten(1).float()
    out = [torch.cdist(samples[i:i + batch_size].flatten(1).float(), flat_reference).min(1).values
           for i in range(0, len(samples), batch_size)]
    return torch.cat(out)


def memorization_score(samples: torch.Tensor, train: torch.Tensor, heldout: torch.Tensor) -> float:
    """Median nearest-training-image distance of samples / the same for held-out real images.

    About 1 or above: samples are as far from the training set as unseen real digits are.
    Well below 1: samples sit closer to training images than new data does -- copies.
    """
    check_positive_int(len(samples), "number of samples")
    check_positive_int(len(heldout), "number of held-out images")
    sample_distance = nearest_neighbour_distances(samples, train).median()
    heldout_distance = nearest_neighbour_distances(heldout, train).median()
    if not heldout_distance > 0:
        raise ValueError("the held-out images are at distance 0 from the training set (held-out = train, or "
                         "copies of training images): pass real images the model never saw, e.g. the test split")
    return float(sample_distance / heldout_distance)
