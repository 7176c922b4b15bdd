"""Checks for the evaluation assignment (solutions/10_evaluation_assignment.ipynb).

Student signatures:
    frechet_distance(mu1, sigma1, mu2, sigma2) -> scalar   Eq. (3.7): the Fréchet (2-Wasserstein) distance squared
                                                          between N(mu1, sigma1) and N(mu2, sigma2)
    fid_from_features(real_features, fake_features) -> scalar
                                                          Eq. (3.7) on Gaussians fitted to two (N, d) feature sets
                                                          (mean over the rows, unbiased covariance, as torchmetrics)
    memorization_score(samples, train, heldout) -> float  median nearest-training-image distance of the samples /
                                                          the same for held-out real images (notebook 10, section 7)
    evaluate_samples(samples, heldout, train, features) -> dict
                                                          FID of n samples against the first n held-out images, next
                                                          to the real-vs-real floor at the same n (notebook 03, 5.2)
"""
from __future__ import annotations

import math

import torch

from .core import CheckResult, Diagnosis, Mistake, check_function, reported

__all__ = ["check_frechet_distance", "check_fid_from_features", "check_memorization_score", "check_evaluate_samples",
           "check_training_results", "FRECHET_MISTAKES", "FID_FROM_FEATURES_MISTAKES", "MEMORIZATION_MISTAKES",
           "EVALUATE_SAMPLES_MISTAKES", "REPORT_KEYS"]


# --------------------------------------------------------------------------- the Fréchet distance
def _sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix (eigenvalues clamped at 0)."""
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T


def _trace_sqrt_product(sigma1, sigma2):
    """Tr (sigma1 sigma2)^(1/2), through the symmetric matrix sigma1^(1/2) sigma2 sigma1^(1/2).

    sigma1 sigma2 is similar to it (same eigenvalues, real and >= 0), so the traces of their roots agree.
    """
    root1 = _sqrtm_psd(sigma1)
    return torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp_min(0).sqrt().sum()


def _frechet(mu1, sigma1, mu2, sigma2, means=lambda d: d.square().sum(), factor=2.0, sign=-1.0,
             cross=_trace_sqrt_product):
    return means(mu1 - mu2) + sigma1.trace() + sigma2.trace() + sign * factor * cross(sigma1, sigma2)


def _frechet_distance(mu1, sigma1, mu2, sigma2):
    """Eq. (3.7): |mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))."""
    return _frechet(mu1, sigma1, mu2, sigma2)


def _random_covariance(d, generator):
    a = torch.randn(d, d + 2, generator=generator, dtype=torch.float64)
    return a @ a.T / (d + 2) + 0.1 * torch.eye(d, dtype=torch.float64)


def _frechet_inputs(generator):
    d = int(torch.randint(2, 6, (1,), generator=generator))
    scale = 0.5 + 2 * torch.rand(1, generator=generator, dtype=torch.float64).item()
    return (scale * torch.randn(d, generator=generator, dtype=torch.float64), _random_covariance(d, generator),
            scale * torch.randn(d, generator=generator, dtype=torch.float64), _random_covariance(d, generator))


# In 1-D, N(m1, s1^2) and N(m2, s2^2) are (m1 - m2)^2 + (s1 - s2)^2 apart: (1.5)^2 + (2 - 1)^2 = 3.25.
ONE_DIMENSIONAL_CASE = (torch.tensor([1.0], dtype=torch.float64), torch.tensor([[4.0]], dtype=torch.float64),
                        torch.tensor([-0.5], dtype=torch.float64), torch.tensor([[1.0]], dtype=torch.float64))

FRECHET_MISTAKES = [
    Mistake("no_factor_two", lambda m1, s1, m2, s2: _frechet(m1, s1, m2, s2, factor=1.0),
            "the cross term counts twice: in 1-D the distance is (m1 - m2)^2 + (s1 - s2)^2 = (m1 - m2)^2 + s1^2 + "
            "s2^2 - 2 s1 s2, so subtract 2 Tr((sigma1 sigma2)^(1/2)), not once."),
    Mistake("no_square_root", lambda m1, s1, m2, s2: _frechet(m1, s1, m2, s2,
                                                              cross=lambda a, b: (a @ b).trace()),
            "the cross term needs the matrix square root of the product: Tr((sigma1 sigma2)^(1/2)). In 1-D it is "
            "s1 s2 (standard deviations), while Tr(sigma1 sigma2) would be s1^2 s2^2."),
    Mistake("means_not_squared", lambda m1, s1, m2, s2: _frechet(m1, s1, m2, s2, means=lambda d: d.norm()),
            "the means enter squared: |mu1 - mu2|^2 = sum((mu1 - mu2)^2), not the length |mu1 - mu2| (its root)."),
    Mistake("sum_not_trace", lambda m1, s1, m2, s2: (m1 - m2).square().sum()
            + (s1 + s2 - 2 * _sqrtm_psd(_sqrtm_psd(s1) @ s2 @ _sqrtm_psd(s1))).sum(),
            "you summed every entry of the covariance term: only the trace (the sum of the diagonal) belongs in the "
            "distance. The off-diagonal entries are covariances between different features."),
    Mistake("product_of_roots",
            lambda m1, s1, m2, s2: _frechet(m1, s1, m2, s2, cross=lambda a, b: (_sqrtm_psd(a) @ _sqrtm_psd(b)).trace()),
            "(sigma1 sigma2)^(1/2) is not sigma1^(1/2) sigma2^(1/2): they agree only when the two covariances "
            "commute (e.g. both diagonal). Take the square root of the product (its eigenvalues are real and >= 0)."),
    Mistake("diagonal_only", lambda m1, s1, m2, s2: (m1 - m2).square().sum()
            + (s1.diagonal().sqrt() - s2.diagonal().sqrt()).square().sum(),
            "you treated the covariances as diagonal (one 1-D formula per feature): that ignores the correlations "
            "between features. Use the whole matrices: Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))."),
    Mistake("plus_cross_term", lambda m1, s1, m2, s2: _frechet(m1, s1, m2, s2, sign=1.0),
            "the cross term is subtracted: two identical Gaussians must be at distance 0, and Tr(sigma + sigma) = "
            "2 Tr((sigma sigma)^(1/2))."),
]


def _as_number(fn, args):
    """The student's scalar as a 0-d float64 tensor; a matrix or a complex number is diagnosed."""
    value = fn(*args)
    if len(getattr(value, "shape", ())) == 2:
        raise Diagnosis("matrix_not_number", "your function returned a matrix: the distance is one number. Take the "
                                             "trace of the covariance term (the sum of its diagonal).")
    if "complex" in str(getattr(value, "dtype", type(value).__name__)):
        raise Diagnosis("complex", "your result is a complex number: a matrix square root (scipy's sqrtm, or the "
                                   "square roots of eigenvalues) leaves tiny imaginary parts from rounding. Keep the "
                                   "real part (.real).")
    return _as_float(lambda: value, ())


def check_frechet_distance(student) -> CheckResult:
    """frechet_distance(mu1, sigma1, mu2, sigma2) = |mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))."""
    return check_function(student, _frechet_distance, _frechet_inputs, FRECHET_MISTAKES, name="frechet_distance",
                          trials=3, observe=_as_number, extra_cases=[ONE_DIMENSIONAL_CASE], rtol=1e-5, atol=1e-6,
                          success="correct on 3 random Gaussians in 2-5 dimensions and on the 1-D closed form "
                                  "(m1 - m2)^2 + (s1 - s2)^2.")


# --------------------------------------------------------------------------- FID from two feature sets
def _fit_gaussian(features, mean_over_rows=True, covariance_over_rows=True, centred=True, ddof=1):
    mean = features.mean(0 if mean_over_rows else 1)
    x = features if covariance_over_rows else features.T       # .T: each row taken as one variable (torch.cov(x))
    deviations = x - x.mean(0) if centred else x
    return mean, deviations.T @ deviations / (len(x) - ddof)


def _fid(real_features, fake_features, **fit):
    return _frechet_distance(*_fit_gaussian(real_features, **fit), *_fit_gaussian(fake_features, **fit))


def _fid_from_features(real_features, fake_features):
    """FID (Eq. 3.7) between Gaussians fitted to (N, d) features: row mean, unbiased covariance (N - 1)."""
    return _fid(real_features, fake_features)


def _fid_inputs(generator):
    n, d = int(torch.randint(10, 30, (1,), generator=generator)), int(torch.randint(2, 5, (1,), generator=generator))
    mixing = torch.randn(d, d, generator=generator, dtype=torch.float64)
    real = torch.randn(n, d, generator=generator, dtype=torch.float64) @ mixing
    fake = 1.5 * torch.randn(n, d, generator=generator, dtype=torch.float64) @ mixing + 0.7
    return real, fake  # the same number of rows on both sides, as evaluate_samples compares them


FID_FROM_FEATURES_MISTAKES = [
    Mistake("covariance_of_rows", lambda r, f: _fid(r, f, covariance_over_rows=False),
            "your covariance is (N, N), one entry per pair of images: torch.cov and np.cov treat each *row* as a "
            "variable, and here each row is an image. The covariance of the d features is (d, d): pass features.T "
            "(or np.cov(..., rowvar=False))."),
    Mistake("features_transposed", lambda r, f: _fid(r, f, mean_over_rows=False, covariance_over_rows=False),
            "each row is one image and each column one feature: the mean is over dimension 0 (one value per "
            "feature) and the covariance is (d, d). torch.cov and np.cov treat each *row* as a variable: pass "
            "features.T (or np.cov(..., rowvar=False))."),
    Mistake("biased_covariance", lambda r, f: _fid(r, f, ddof=0),
            "the covariance divides by N - 1 (the unbiased estimate, torch.cov's default and torchmetrics' FID), "
            "not by N."),
    Mistake("covariance_not_centred", lambda r, f: _fid(r, f, centred=False),
            "subtract the mean before the outer products: X^T X / (N - 1) is the second moment, not the covariance."),
]


def check_fid_from_features(student) -> CheckResult:
    """fid_from_features(real, fake): Eq. (3.7) between Gaussians fitted to (N, d) features (unbiased covariance)."""
    return check_function(student, _fid_from_features, _fid_inputs, FID_FROM_FEATURES_MISTAKES,
                          name="fid_from_features", trials=3, observe=_as_number, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- memorization
def _nearest_distances(images, reference, squared=False, farthest=False):
    distances = torch.cdist(images.flatten(1).double(), reference.flatten(1).double())
    distances = distances.max(1).values if farthest else distances.min(1).values
    return distances ** 2 if squared else distances


def _memorization(samples, train, heldout, typical=torch.median, **distance):
    return float(typical(_nearest_distances(samples, train, **distance))
                 / typical(_nearest_distances(heldout, train, **distance)))


def _memorization_score(samples, train, heldout):
    """Median nearest-training-image distance of the samples / the same for held-out real images."""
    return _memorization(samples, train, heldout)


def _memorization_inputs(generator):
    # odd counts: torch.median and np.median agree (for an even count torch takes the lower middle value)
    n_samples, n_heldout = (2 * int(v) + 1 for v in torch.randint(2, 6, (2,), generator=generator))
    n_train = int(torch.randint(6, 15, (1,), generator=generator))
    train = torch.rand(n_train, 1, 4, 3, generator=generator)
    near_copies = train[torch.randint(0, n_train, (n_samples,), generator=generator)]
    samples = (near_copies + 0.3 * torch.rand(near_copies.shape, generator=generator)).clamp(0, 1)
    return samples, train, torch.rand(n_heldout, 1, 4, 3, generator=generator)


MEMORIZATION_MISTAKES = [
    Mistake("inverted", lambda s, t, h: 1 / _memorization(s, t, h),
            "the ratio is upside down: the samples' distance goes on top, the held-out images' below, so that "
            "copies of training images (distance near 0) give a score near 0."),
    Mistake("squared_distances", lambda s, t, h: _memorization(s, t, h, squared=True),
            "these are squared distances (did you skip the square root, or use ((a - b)**2).sum()?). Use Euclidean "
            "distances, e.g. torch.cdist of the flattened images."),
    Mistake("mean_not_median", lambda s, t, h: _memorization(s, t, h, typical=torch.mean),
            "take the median of the distances, not the mean: a few unusual samples far from every training image "
            "would pull a mean up and hide many copies."),
    Mistake("farthest_neighbour", lambda s, t, h: _memorization(s, t, h, farthest=True),
            "each image's distance to the training set is the distance to its *nearest* training image (min over "
            "the training images), not the farthest."),
]


def _as_float(fn, args):
    value = fn(*args)
    try:
        return torch.as_tensor(float(value), dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return value


def check_memorization_score(student) -> CheckResult:
    """memorization_score(samples, train, heldout) = median_s d(s, train) / median_h d(h, train), d: nearest image."""
    return check_function(student, _memorization_score, _memorization_inputs, MEMORIZATION_MISTAKES,
                          name="memorization_score", trials=3, observe=_as_float, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- evaluate samples with a floor
REPORT_KEYS = ("fid", "floor", "fid_over_floor", "memorization")


def _same_size_halves(heldout, n):
    return heldout[:n], heldout[n:2 * n]


def _evaluate(samples, heldout, train, features, fid_size=None, floor_sets=_same_size_halves, inverted=False):
    n = len(samples)
    fid = _fid_from_features(features(heldout[:fid_size or n]), features(samples))
    first, second = floor_sets(heldout, n)
    floor = _fid_from_features(features(first), features(second))
    return {"fid": float(fid), "floor": float(floor), "fid_over_floor": float(floor / fid if inverted else fid / floor),
            "memorization": _memorization_score(samples, train, heldout[:n])}


def _evaluate_samples(samples, heldout, train, features):
    """FID of the n samples against the first n held-out images, the floor between the first and the next n
    held-out images, their ratio, and the memorization score against the first n held-out images."""
    return _evaluate(samples, heldout, train, features)


def _evaluate_inputs(generator):
    n = 2 * int(torch.randint(5, 8, (1,), generator=generator)) + 1                     # 11 to 15 samples
    extra = int(torch.randint(3, n, (1,), generator=generator))                          # held-out: more than 2n
    projection = torch.randn(12, 3, generator=generator, dtype=torch.float64)

    def features(images):  # a stand-in for the evaluation network: 3 features of 1x4x3 images
        return images.flatten(1).double() @ projection

    train = torch.rand(int(torch.randint(8, 16, (1,), generator=generator)), 1, 4, 3, generator=generator)
    samples = (0.8 * torch.rand(n, 1, 4, 3, generator=generator)).clamp(0, 1)
    return samples, torch.rand(2 * n + extra, 1, 4, 3, generator=generator), train, features


EVALUATE_SAMPLES_MISTAKES = [
    Mistake("floor_of_another_size",
            lambda s, h, t, f: _evaluate(s, h, t, f, floor_sets=lambda h, n: (h[:len(h) // 2], h[len(h) // 2:])),
            "your floor compares the two halves of *all* the held-out images, but the FID compares n samples with n "
            "real images. FID's bias grows as the sample shrinks, so a floor is a floor only at the same size: "
            "compare heldout[:n] with heldout[n:2n]."),
    Mistake("fid_against_every_heldout", lambda s, h, t, f: _evaluate(s, h, t, f, fid_size=len(h)),
            "your FID compares the n samples with *all* the held-out images, a larger set than the floor's: "
            "compare the samples with the first n held-out images (heldout[:n]), the same size as the floor's sets."),
    Mistake("ratio_inverted", lambda s, h, t, f: _evaluate(s, h, t, f, inverted=True),
            "fid_over_floor is the FID divided by the floor: about 1 means as good as real data, larger is worse."),
]


def _report(fn, args):
    report = fn(*args)
    if not isinstance(report, dict):
        raise Diagnosis("not_a_dict", f"evaluate_samples must return a dict with the keys {list(REPORT_KEYS)}, got "
                                      f"{type(report).__name__}.")
    if set(report) != set(REPORT_KEYS):
        raise Diagnosis("keys", f"the dict must have exactly the keys {list(REPORT_KEYS)}; yours has "
                                f"{sorted(map(str, report))}.")
    try:
        return {key: torch.as_tensor(float(report[key]), dtype=torch.float64) for key in REPORT_KEYS}
    except (TypeError, ValueError, RuntimeError):
        raise Diagnosis("not_numbers", "every value of the dict must be one number (a float or a 0-d tensor).") \
            from None


def check_evaluate_samples(student) -> CheckResult:
    """evaluate_samples(samples, heldout, train, features): FID and floor at the same size n, and memorization."""
    return check_function(student, _evaluate_samples, _evaluate_inputs, EVALUATE_SAMPLES_MISTAKES,
                          name="evaluate_samples", trials=3, observe=_report, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- the trained models
def check_training_results(everything: dict, few: dict, untrained: dict, *, max_ratio_to_untrained: float,
                           max_memorization_few: float, min_memorization_everything: float,
                           verbose: bool = True) -> CheckResult:
    """Did the evaluation see that training happened, and which model memorizes?

    everything, few, untrained: ``evaluate_samples`` reports of a VAE trained on every training digit, one trained
    on a few digits, and an untrained one. Passes when the first model's FID / floor is at most
    ``max_ratio_to_untrained`` times the untrained model's, the few-digit model's memorization score is at most
    ``max_memorization_few`` and the other's at least ``min_memorization_everything``.
    """
    def report(passed, message, diagnosis):
        return reported(CheckResult(passed, message, "trained models", diagnosis,
                                    {"everything": everything, "few": few, "untrained": untrained}), verbose)

    reports = {"everything": everything, "few": few, "untrained": untrained}
    numbers = {}
    for name, values in reports.items():
        try:
            numbers[name] = {key: float(values[key]) for key in REPORT_KEYS}
        except (TypeError, KeyError, ValueError, RuntimeError):
            return report(False, f"the {name} report must be evaluate_samples' dict of four numbers, with the keys "
                                 f"{list(REPORT_KEYS)}.", "structure")
        if not all(math.isfinite(value) for value in numbers[name].values()):
            return report(False, f"the {name} report holds inf or nan: {numbers[name]}. Is the floor 0 (the same "
                                 "images twice)?", "not_finite")
    trained_ratio, untrained_ratio = numbers["everything"]["fid_over_floor"], numbers["untrained"]["fid_over_floor"]
    few_copies, everything_copies = numbers["few"]["memorization"], numbers["everything"]["memorization"]
    if not trained_ratio <= max_ratio_to_untrained * untrained_ratio:
        return report(False, f"the model trained on every digit scores FID/floor {trained_ratio:.3g}, "
                             f"{trained_ratio / untrained_ratio:.2f} times the untrained model's {untrained_ratio:.3g} "
                             f"(at most {max_ratio_to_untrained:g} times needed): training barely helped. Look at the "
                             "learning rate, the loss, and whether optimizer.step() runs.", "not_trained")
    if not few_copies <= max_memorization_few:
        return report(False, f"the model trained on a few digits has memorization score {few_copies:.3g} (at most "
                             f"{max_memorization_few:g} expected): its samples are not clearly closer to its training "
                             "digits than new digits are. Did it train long enough, on those digits only?",
                      "few_not_memorizing")
    if not everything_copies >= min_memorization_everything:
        return report(False, f"the model trained on every digit has memorization score {everything_copies:.3g} (at "
                             f"least {min_memorization_everything:g} expected): its samples sit closer to its "
                             "training digits than new digits do. Check that the score compares with the model's own "
                             "training digits and with held-out digits it never saw.", "everything_memorizing")
    return report(True, f"FID/floor {trained_ratio:.3g} vs {untrained_ratio:.3g} untrained; memorization "
                        f"{everything_copies:.2f} (every digit) vs {few_copies:.2f} (a few digits).", "correct")
