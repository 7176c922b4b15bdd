"""Every number the course reports about images, in one module.

* Digit sample quality: ``evaluate_samples``, the one protocol every notebook scores generated digits
  with. The *evaluation network* (notebook 01's classifier, loaded by ``zoo``) gives confidence and
  the class histogram; FID, KID and k-NN precision/recall are computed on its features and on those
  of a second network of another architecture (Inception features mean nothing on MNIST), each next
  to its real-vs-real floor at the same sample size.
* Enhancement quality: PSNR and SSIM (torchmetrics), colourfulness.
* Memorization: distance of each sample to its nearest training image.
"""
from __future__ import annotations

import torch
from torch import nn

from ._score_tables import evaluation_table  # the table of evaluate_samples' reports: plumbing
from ._validate import check_images, check_positive_int, check_prediction_target, check_same_device
from .checkpoints import save_checkpoint
from .cnn import DigitClassifier
from .config import checkpoint_path

__all__ = ["save_evaluation_network", "evaluation_network", "digit_predictions", "class_histogram", "digit_features",
           "frechet_distance", "classifier_fid", "classifier_kid", "real_floor", "SecondDigitClassifier", "second_network",
           "evaluate_samples", "evaluation_table", "psnr", "ssim", "colourfulness", "nearest_neighbour_distances",
           "memorization_score"]


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


# --------------------------------------------------------------------------- FID / KID / precision and recall
@torch.no_grad()
def digit_features(images: torch.Tensor, network: DigitClassifier | None = None) -> torch.Tensor:
    """Penultimate-layer features (N, feature_dim) of digits in [0, 1] (the evaluation network's by default)."""
    check_images(images, value_range=(0, 1), channels=(1,), size=(28, 28), name="digits")
    network = _network_or_default(network)
    return _batched(network, images, network.features).double()


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID from features, Eq. (3.7): Gaussians fitted to two feature sets (N, d) (``digit_features``),
    |mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)). Compute a set's features once to score it many times.

    S_r S_f has real eigenvalues >= 0 (it is similar to S_r^(1/2) S_f S_r^(1/2)): the trace of its root is the
    sum of their square roots.
    """
    mu_r, mu_f, s_r, s_f = real.mean(0), fake.mean(0), real.T.cov(), fake.T.cov()
    cross = torch.linalg.eigvals(s_r @ s_f).real.clamp_min(0).sqrt().sum()
    return float((mu_r - mu_f).square().sum() + s_r.trace() + s_f.trace() - 2 * cross)


def _kid(real: torch.Tensor, fake: torch.Tensor, subset_size: int, subsets: int, seed: int) -> tuple[float, float]:
    """Eq. (3.8): unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3, over random subsets: (mean, std)."""
    generator, m = torch.Generator().manual_seed(seed), subset_size
    k_rr, k_ff, k_rf = ((a @ b.T / real.shape[1] + 1) ** 3 for a, b in ((real, real), (fake, fake), (real, fake)))
    scores = []
    for _ in range(subsets):
        r, f = torch.randperm(len(real), generator=generator)[:m], torch.randperm(len(fake), generator=generator)[:m]
        k_xx, k_yy = k_rr[r][:, r], k_ff[f][:, f]
        within = (k_xx.sum() - k_xx.trace() + k_yy.sum() - k_yy.trace()) / (m * (m - 1))
        scores.append(within - 2 * k_rf[r][:, f].mean())
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std()) if subsets > 1 else 0.0


def _precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Eq. (3.9), Kynkäänniemi et al. (2019): improved precision and recall from k-NN balls in feature space.

    Each set is a union of balls, one per point, reaching to its k-th nearest neighbour in the same set.
    precision = share of fake points inside the real set's balls (fidelity: samples look like real digits);
    recall    = share of real points inside the fake set's balls (coverage: the variety of real digits is drawn).
    """
    def distance(a, b):  # exact Euclidean distances (the faster matrix-product form is off by ~1e-4)
        return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")

    distances = distance(fake, real)                                 # (n_fake, n_real)
    real_radii = distance(real, real).kthvalue(k + 1, dim=1).values  # k + 1: a point is its own 0-th neighbour
    fake_radii = distance(fake, fake).kthvalue(k + 1, dim=1).values
    precision = (distances <= real_radii[None, :]).any(1).double().mean()
    recall = (distances.T <= fake_radii[None, :]).any(1).double().mean()
    return float(precision), float(recall)


def classifier_fid(real: torch.Tensor, fake: torch.Tensor, network: DigitClassifier | None = None) -> float:
    """Fréchet distance between Gaussians fitted to evaluation-network features (Eq. 3.7).

    Needs more samples than feature dimensions (128) on each side for a stable covariance.
    """
    network = _checked_real_fake(real, fake, network)
    dimensions = network.config["feature_dim"]
    if min(len(real), len(fake)) <= dimensions:
        raise ValueError(f"FID needs more than {dimensions} images on each side "
                         f"(got {len(real)} real, {len(fake)} fake)")
    return frechet_distance(digit_features(real, network), digit_features(fake, network))


def classifier_kid(real: torch.Tensor, fake: torch.Tensor, network: DigitClassifier | None = None,
                   subset_size: int = 200, subsets: int = 50, seed: int = 0) -> tuple[float, float]:
    """Kernel distance (Eq. 3.8: unbiased MMD², cubic polynomial kernel) on the same features: (mean, std)."""
    check_positive_int(subset_size, "subset_size")
    check_positive_int(subsets, "subsets")
    if subset_size < 2:
        raise ValueError(f"subset_size must be at least 2 (the unbiased estimate compares pairs), got {subset_size}")
    network = _checked_real_fake(real, fake, network)
    if min(len(real), len(fake)) < 2:
        raise ValueError(f"KID needs at least 2 images on each side (got {len(real)} real, {len(fake)} fake)")
    return _kid(digit_features(real, network), digit_features(fake, network),
                min(subset_size, len(real), len(fake)), subsets, seed)


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


# --------------------------------------------------------------------------- the evaluation protocol
class SecondDigitClassifier(DigitClassifier):
    """The second feature extractor: another architecture than the evaluation network, trained apart.

    No BatchNorm, pooling or dropout; two strided 5x5 convolutions and half as many features:
    conv5/2-16 -> 14x14, conv5/2-32 -> 7x7, linear 1568 -> 64 (the features) -> 10.
    Recipe and budget: ``zoo`` ("second_cnn") and ``config.BUDGETS["second_cnn"]``.
    """

    def __init__(self, width: int = 16, feature_dim: int = 64):
        nn.Module.__init__(self)
        self.body = nn.Sequential(nn.Conv2d(1, width, 5, stride=2, padding=2), nn.ReLU(),
                                  nn.Conv2d(width, 2 * width, 5, stride=2, padding=2), nn.ReLU(), nn.Flatten(),
                                  nn.Linear(2 * width * 7 * 7, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, 10)
        self.config = {"width": width, "feature_dim": feature_dim}


def second_network(train_if_missing: bool = True, verbose: bool = False) -> DigitClassifier:
    """The trained ``SecondDigitClassifier``: yours (``zoo.load("second_cnn")``) if saved, else the shipped one,
    else trained on the spot by ``zoo``'s recipe (no notebook trains it)."""
    from . import reference, zoo
    from .config import checkpoint_path

    if not checkpoint_path("second_cnn").exists() and "second_cnn" in reference.manifest():
        return reference.load("second_cnn", verbose=verbose)
    return zoo.load("second_cnn", train_if_missing=train_if_missing, verbose=verbose)


@torch.no_grad()
def evaluate_samples(samples: torch.Tensor | dict, n: int | None = None, *, real: torch.Tensor | None = None,
                     other_real: torch.Tensor | None = None, train: torch.Tensor | None = None,
                     networks: dict | None = None, k: int = 3, seed: int = 0) -> dict:
    """The course's one evaluation protocol for generated digits (N, 1, 28, 28) in [0, 1].

    The first ``n`` samples are compared with ``n`` held-out real digits (``real``, default: the test split),
    and every score sits next to its *floor*: the same score for ``n`` other held-out digits (``other_real``,
    default: the validation split; disjoint from ``real``) against the same ``n``. A score at its floor means
    "as good as real data, at this sample size". ``n`` defaults to as many as all the sets allow.
    ``samples`` may be {model name: digits}: every model is then scored at the same ``n`` against the same
    real digits (their features and the floors are computed once), and the result is {model name: dict}.

    Returns a plain dict (``evaluation_table`` prints it):
      n              images on each side
      confident      share of samples the evaluation network classifies with confidence >= 0.9
      histogram      (10 floats) share of samples per predicted class; classes_covered: classes with >= 5 %
      memorization   ``memorization_score`` against ``train`` (default: the training split), ``real`` as held-out
      evaluation_cnn, second_cnn: per feature extractor (``networks``; default the evaluation network and
                     ``second_network()``): fid, fid_floor (Eq. 3.7); kid, kid_std, kid_floor (Eq. 3.8, 50
                     subsets of min(200, n / 2)); precision, recall, precision_floor, recall_floor (Eq. 3.9, k-NN)
    """
    from .data import load_mnist

    models = dict(samples) if isinstance(samples, dict) else {"samples": samples}
    if not models:
        raise ValueError("samples is an empty dict: pass generated digits, or {model name: generated digits}")
    real = load_mnist("test").tensors[0] if real is None else real
    other_real = load_mnist("val").tensors[0] if other_real is None else other_real
    train = load_mnist("train").tensors[0] if train is None else train
    for name, images in (*models.items(), ("real", real), ("other_real", other_real), ("train", train)):
        check_images(images, value_range=(0, 1), channels=(1,), size=(28, 28), name=name)
    check_same_device(*models.values(), real, other_real, train, names=(*models, "real", "other_real", "train"))
    networks = dict(networks or {"evaluation_cnn": evaluation_network(verbose=False), "second_cnn": second_network()})
    if "evaluation_cnn" not in networks:  # its classes give the confidence and the histogram
        networks["evaluation_cnn"] = evaluation_network(verbose=False)
    fewest = min(models, key=lambda name: len(models[name]))
    largest = min(len(models[fewest]), len(real), len(other_real))
    n = largest if n is None else check_positive_int(n, "n")
    if n > largest:
        raise ValueError(f"n = {n} images per side, but there are only {len(models[fewest])} {fewest}, {len(real)} "
                         f"real and {len(other_real)} other real digits: pass n <= {largest} or more images")
    dimensions = max(network.config["feature_dim"] for network in networks.values())
    if n <= dimensions:
        raise ValueError(f"FID needs more than {dimensions} images on each side (a {dimensions}-feature covariance), "
                         f"got n = {n}")
    if not 0 < check_positive_int(k, "k") < n:
        raise ValueError(f"k must be smaller than n = {n} (the k-th nearest neighbour among the others), got {k}")
    real, subset = real[:n], min(200, n // 2)  # subsets of all n images would all be the same set: no spread

    def scores(reference, features):  # every score of one feature set against the real digits' features
        kid, kid_std = _kid(reference, features, subset, 50, seed)
        precision, recall = _precision_recall(reference, features, k)
        return {"fid": frechet_distance(reference, features), "kid": kid, "kid_std": kid_std, "precision": precision, "recall": recall}

    references = {name: digit_features(real, network) for name, network in networks.items()}
    floors = {name: scores(references[name], digit_features(other_real[:n], network)) for name, network in networks.items()}
    heldout_distance = nearest_neighbour_distances(real, train).median()  # memorization_score's denominator, once
    if not heldout_distance > 0:
        raise ValueError("the real digits are at distance 0 from the training set: pass held-out digits as real")
    reports = {}
    for model, images in models.items():
        images = images[:n]
        features = {name: digit_features(images, network) for name, network in networks.items()}
        judge = next(networks["evaluation_cnn"].parameters())
        logits = networks["evaluation_cnn"].head(features["evaluation_cnn"].to(judge.device, judge.dtype)).cpu()
        confidence, predicted = logits.softmax(1).max(1)  # the network's forward pass is head(features)
        histogram = torch.bincount(predicted, minlength=10).double() / n
        reports[model] = {"n": n, "confident": float((confidence >= 0.9).double().mean()),
                          "histogram": histogram.tolist(), "classes_covered": int((histogram >= 0.05).sum()),
                          "memorization": float(nearest_neighbour_distances(images, train).median() / heldout_distance)}
        for name in networks:
            reports[model][name] = scores(references[name], features[name]) | {
                f"{key}_floor": value for key, value in floors[name].items() if key != "kid_std"}
    return reports if isinstance(samples, dict) else reports["samples"]


# --------------------------------------------------------------------------- PSNR / SSIM
def psnr(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]: 10 log10(1 / MSE)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    check_prediction_target(prediction, target)
    return float(peak_signal_noise_ratio(prediction.clamp(0, 1), target, data_range=1.0))


def ssim(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Structural similarity (Gaussian window 11, sigma 1.5) for images in [0, 1]."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    check_prediction_target(prediction, target)
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
