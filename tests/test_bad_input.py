"""What students commonly get wrong, given to every public foundation function.

Each case is one bad input; the function must raise ValueError or TypeError (or, for a
missing folder, FileNotFoundError) whose message says what was expected and what was
given. The message each case produced is recorded in docs/reliability.md.
Exercise checks given garbage answer with a CheckResult and guidance, never a traceback.
"""
from __future__ import annotations

import enum
import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from typing import Callable

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from course_lib import _validate as validate, checkpoints, cnn, config, data, enhance, gan, metrics, training, vae, viz
from course_lib import _notebooks as exercises
from course_lib.checks import CheckResult

RNG = torch.Generator().manual_seed(0)
DIGITS = torch.rand(4, 1, 28, 28, generator=RNG)
LABELS = torch.tensor([0, 1, 2, 3])
RGB = torch.rand(2, 3, 16, 16, generator=RNG)


def _model():
    return cnn.DigitClassifier(width=2, feature_dim=4)


def _many(n):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(n))


def _protocol(**sets):
    """evaluate_samples' keyword arguments: 8 random 'digits' per set and a small network (nothing is loaded)."""
    return {"real": _many(8), "other_real": _many(8) * 0.5, "train": _many(8) * 0.9,
            "networks": {"evaluation_cnn": _model()}} | sets


class _Mode(enum.IntEnum):  # an int subclass: pickled as a reference to this class, refused by safe loading
    FAST = 1


class _Name(str):
    pass


def _fit(config=None, **overrides):
    model = nn.Linear(3, 1)
    if config is not None:  # fit() stores model.config in the checkpoint
        model.config = config
    arguments = dict(model=model, dataset=TensorDataset(torch.rand(8, 3), torch.rand(8, 1)),
                     loss_fn=lambda m, b: ((m(b[0]) - b[1]) ** 2).mean(),
                     optimizer=torch.optim.SGD(model.parameters(), 0.1), steps=2, batch_size=4,
                     fabric=training.make_fabric("cpu")) | overrides
    return training.fit(**arguments)


def _saved(tmp_path):
    path = tmp_path / "m.pt"
    checkpoints.save_checkpoint(path, models=nn.Linear(2, 2))
    return path


@dataclass
class Case:
    """``call(tmp_path)`` must raise ``error`` with a message matching ``expected`` (a regex)."""

    function: str
    bad_input: str
    call: Callable
    error: type
    expected: str


CASES = [
    # config
    Case("budgets", "unknown notebook name", lambda t: config.budgets("dcgann"), ValueError, r"'dcgann'.*valid choices.*dcgan"),
    Case("checkpoint_path", "a path instead of a name", lambda t: config.checkpoint_path("a/b"), ValueError, r"plain file stem, got 'a/b'"),
    Case("checkpoint_path", "a number instead of a name", lambda t: config.checkpoint_path(3), TypeError, r"string.*got int"),
    # data
    Case("load_mnist", "unknown split", lambda t: data.load_mnist("training"), ValueError, r"'training'.*valid choices.*'train'"),
    Case("load_mnist", "unknown source", lambda t: data.load_mnist(source="internet"), ValueError, r"'internet'.*valid choices"),
    Case("load_mnist", "limit = 0", lambda t: data.load_mnist(limit=0), ValueError, r"positive integer.*got 0"),
    Case("load_photo", "unknown photo", lambda t: data.load_photo("lena"), ValueError, r"'lena'.*valid choices.*'astronaut'"),
    Case("load_texture", "unknown texture", lambda t: data.load_texture("wood"), ValueError, r"'wood'.*valid choices"),
    Case("photo_names", "unknown split", lambda t: data.photo_names("test"), ValueError, r"'test'.*valid choices.*'heldout'"),
    Case("PhotoPatches", "patch_size = 0", lambda t: data.PhotoPatches(patch_size=0), ValueError, r"patch_size must be a positive integer, got 0"),
    Case("PhotoPatches", "negative n_patches", lambda t: data.PhotoPatches(n_patches=-5), ValueError, r"n_patches.*positive.*-5"),
    Case("PhotoPatches", "unknown split", lambda t: data.PhotoPatches("test"), ValueError, r"'test'.*valid choices.*'heldout'"),
    Case("PhotoPatches", "patch larger than every photo", lambda t: data.PhotoPatches(patch_size=10_000), ValueError,
         r"patch_size 10000 is larger than the smallest photo side"),
    Case("PhotoPatches", "a photo of the other split", lambda t: data.PhotoPatches("train", names=["coffee"]), ValueError,
         r"photo 'coffee' is not in split 'train'"),
    Case("random_shift", "negative max_shift", lambda t: data.random_shift(DIGITS, max_shift=-1), ValueError, r"max_shift must be a non-negative integer.*-1"),
    Case("random_shift", "a flat batch", lambda t: data.random_shift(DIGITS[0, 0]), ValueError, r"4 dimensions, got shape \(28, 28\)"),
    # training
    Case("make_fabric", "unknown accelerator", lambda t: training.make_fabric("tpu"), ValueError, r"'tpu'.*valid choices.*'cpu'"),
    Case("seed_everything", "negative seed", lambda t: training.seed_everything(-1), ValueError, r"non-negative integer, got -1"),
    Case("fit", "steps = 0", lambda t: _fit(steps=0), ValueError, r"steps must be a positive integer, got 0"),
    Case("fit", "batch_size = 0", lambda t: _fit(batch_size=0), ValueError, r"batch_size must be a positive integer, got 0"),
    Case("fit", "eval_every = 0", lambda t: _fit(eval_every=0), ValueError, r"eval_every must be a positive integer, got 0"),
    Case("fit", "empty dataset", lambda t: _fit(dataset=TensorDataset(torch.zeros(0, 3))), ValueError, r"dataset is empty"),
    Case("fit", "a list instead of a model", lambda t: _fit(model=[nn.Linear(3, 1)]), TypeError, r"torch.nn.Module, got list"),
    Case("fit", "no optimizer", lambda t: _fit(optimizer=None), TypeError, r"torch.optim.Optimizer.*got NoneType"),
    Case("fit", "loss_fn is not a function", lambda t: _fit(loss_fn="mse"), TypeError, r"loss_fn must be a function, got str"),
    Case("fit", "loss_fn returns one loss per example", lambda t: _fit(loss_fn=lambda m, b: (m(b[0]) - b[1]).pow(2).flatten()),
         ValueError, r"single number, got a tensor of shape \(4,\).*\.mean\(\)"),
    Case("fit", "loss_fn returns a float", lambda t: _fit(loss_fn=lambda m, b: 0.5), TypeError, r"must return a tensor.*got float"),
    Case("History.log", "a batch of values", lambda t: training.History().log(1, loss=torch.ones(3)), TypeError, r"needs a number.*got Tensor\(3,\).*loss.item\(\)"),
    Case("History[...]", "unknown series", lambda t: training.History({"loss": [[1, 0.5]]})["acc"], KeyError, r"'acc'.*it has \['loss'\]"),
    # checkpoints
    Case("save_checkpoint", "a string as the model", lambda t: checkpoints.save_checkpoint(t / "m.pt", models="generator"),
         TypeError, r"model 'model' must be a torch.nn.Module.*got str"),
    Case("save_checkpoint", "no models", lambda t: checkpoints.save_checkpoint(t / "m.pt", models={}), ValueError, r"models is empty"),
    Case("save_checkpoint", "negative step", lambda t: checkpoints.save_checkpoint(t / "m.pt", models=nn.Linear(2, 2), step=-1),
         ValueError, r"non-negative integer, got -1"),
    Case("save_checkpoint", "a History instead of its state_dict", lambda t: checkpoints.save_checkpoint(
        t / "m.pt", models=nn.Linear(2, 2), history=training.History()), TypeError, r"history must be a dict.*History.*state_dict\(\)"),
    Case("save_checkpoint", "an optimizer that is not one", lambda t: checkpoints.save_checkpoint(
        t / "m.pt", models=nn.Linear(2, 2), optimizers={"opt": 0.001}), TypeError, r"optimizer 'opt' must be a torch.*Optimizer.*got float"),
    Case("load_checkpoint", "a number as the path", lambda t: checkpoints.load_checkpoint(123), TypeError, r"str or pathlib.Path, got int"),
    Case("load_checkpoint", "a model name the file lacks", lambda t: checkpoints.load_checkpoint(_saved(t), models={"generator": nn.Linear(2, 2)}),
         checkpoints.CheckpointError, r"no model 'generator'; it has \['model'\]"),
    Case("load_state_dict_checked", "not a module", lambda t: checkpoints.load_state_dict_checked("net", {}), TypeError, r"torch.nn.Module, got str"),
    # validate
    Case("check_images", "uint8 images", lambda t: validate.check_images((DIGITS * 255).to(torch.uint8)), TypeError, r"floating-point.*got dtype torch.uint8.*/ 255"),
    Case("check_images", "0-255 float images", lambda t: validate.check_images(DIGITS * 255), ValueError, r"values in \[0, 1\] \(got min .*max 2\d\d.*x / 255"),
    Case("check_images", "-1..1 images where 0..1 expected", lambda t: validate.check_images(DIGITS * 2 - 1), ValueError, r"values in \[0, 1\].*min -.*\(x \+ 1\) / 2"),
    Case("check_images", "-1..1 range given 0-255", lambda t: validate.check_images(DIGITS * 255, value_range=(-1, 1)), ValueError, r"values in \[-1, 1\].*x / 255"),
    Case("check_images", "one image without batch dimension", lambda t: validate.check_images(DIGITS[0]), ValueError, r"4 dimensions \(N, C, H, W\), got shape \(1, 28, 28\).*unsqueeze\(0\)"),
    Case("check_images", "wrong rank (2-D)", lambda t: validate.check_images(DIGITS[0, 0]), ValueError, r"must have 4 dimensions, got shape \(28, 28\)"),
    Case("check_images", "empty batch", lambda t: validate.check_images(DIGITS[:0]), ValueError, r"empty \(shape \(0, 1, 28, 28\)\)"),
    Case("check_images", "NaN pixels", lambda t: validate.check_images(DIGITS * float("nan")), ValueError, r"NaN or infinite"),
    Case("check_images", "a NumPy array", lambda t: validate.check_images(DIGITS.numpy()), TypeError, r"torch.Tensor, got ndarray"),
    Case("check_images", "reversed value_range", lambda t: validate.check_images(DIGITS, value_range=(1, 0)), ValueError, r"low < high.*got \(1, 0\)"),
    Case("check_same_device", "tensors on two devices", lambda t: validate.check_same_device(DIGITS, DIGITS.to("meta"), names=("real", "fake")),
         ValueError, r"one device, got real on cpu, fake on meta.*\.to\(device\)"),
    Case("check_positive_int", "zero", lambda t: validate.check_positive_int(0, "batch_size"), ValueError, r"batch_size must be a positive integer, got 0"),
    Case("check_positive_int", "a float", lambda t: validate.check_positive_int(64.0, "batch_size"), ValueError, r"got the float 64\.0; use int"),
    # cnn
    Case("conv_output_size", "a float size", lambda t: cnn.conv_output_size(28.0, 3), TypeError, r"size must be an integer, got float 28\.0"),
    Case("conv_output_size", "size = 0", lambda t: cnn.conv_output_size(0, 3), ValueError, r"size must be positive, got 0"),
    Case("conv_output_size", "kernel larger than the input", lambda t: cnn.conv_output_size(5, 7), ValueError, r"7x7 kernel.*does not fit.*size 5"),
    Case("conv_output_size", "negative padding", lambda t: cnn.conv_output_size(28, 3, padding=-1), ValueError, r"padding must be >= 0, got -1"),
    Case("pool_output_size", "stride = 0", lambda t: cnn.pool_output_size(28, 2, stride=0), ValueError, r"stride must be positive, got 0"),
    Case("conv_transpose_output_size", "output_padding >= stride", lambda t: cnn.conv_transpose_output_size(7, 4, 2, 1, output_padding=2),
         ValueError, r"output_padding \(2\) must be smaller than stride \(2\)"),
    # the model's forward() does not check (it runs at every step): the functions that call it do
    Case("classification_loss", "digits without channel dimension", lambda t: cnn.classification_loss(_model(), (DIGITS[:, 0], LABELS)),
         ValueError, r"4 dimensions \(N, C, H, W\), got shape \(4, 28, 28\).*unsqueeze\(1\)"),
    Case("accuracy", "colour images", lambda t: cnn.accuracy(_model(), TensorDataset(torch.rand(2, 3, 28, 28), LABELS[:2])),
         ValueError, r"1 channel\(s\).*got shape \(2, 3, 28, 28\)"),
    Case("accuracy", "uint8 digits", lambda t: cnn.accuracy(_model(), TensorDataset((DIGITS * 255).byte(), LABELS)), TypeError, r"floating-point.*uint8"),
    Case("classification_loss", "images without labels", lambda t: cnn.classification_loss(_model(), DIGITS), TypeError, r"pair \(images, labels\), got Tensor"),
    Case("classification_loss", "one-hot float labels", lambda t: cnn.classification_loss(_model(), (DIGITS, torch.eye(10)[LABELS])),
         ValueError, r"labels must have 1 dimensions, got shape \(4, 10\)"),
    Case("classification_loss", "0-255 images", lambda t: cnn.classification_loss(_model(), (DIGITS * 255, LABELS)), ValueError, r"\[0, 1\].*x / 255"),
    Case("accuracy", "empty dataset", lambda t: cnn.accuracy(_model(), TensorDataset(DIGITS[:0], LABELS[:0])), ValueError, r"dataset is empty"),
    Case("accuracy", "batch_size = 0", lambda t: cnn.accuracy(_model(), TensorDataset(DIGITS, LABELS), batch_size=0), ValueError, r"batch_size.*got 0"),
    # metrics (a small network is passed so nothing is trained)
    Case("digit_predictions", "colour images", lambda t: metrics.digit_predictions(torch.rand(2, 3, 28, 28), _model()), ValueError, r"1 channel.*got shape \(2, 3, 28, 28\)"),
    Case("digit_predictions", "32x32 images", lambda t: metrics.digit_predictions(torch.rand(2, 1, 32, 32), _model()), ValueError, r"28x28 pixels, got shape \(2, 1, 32, 32\)"),
    Case("digit_predictions", "tanh outputs in -1..1", lambda t: metrics.digit_predictions(DIGITS * 2 - 1, _model()), ValueError, r"\[0, 1\].*\(x \+ 1\) / 2"),
    Case("digit_predictions", "a network that is not a DigitClassifier", lambda t: metrics.digit_predictions(DIGITS, nn.Linear(2, 2)),
         TypeError, r"DigitClassifier.*got Linear"),
    Case("classifier_fid", "uint8 fakes", lambda t: metrics.classifier_fid(DIGITS, (DIGITS * 255).byte(), _model()), TypeError, r"fake digits must be a floating-point.*uint8"),
    Case("classifier_fid", "fakes without channel dimension", lambda t: metrics.classifier_fid(DIGITS, DIGITS[:, 0], _model()),
         ValueError, r"fake digits must have 4 dimensions \(N, C, H, W\)"),
    Case("classifier_fid", "too few images", lambda t: metrics.classifier_fid(DIGITS, DIGITS, _model()), ValueError, r"more than 4 images on each side \(got 4 real, 4 fake\)"),
    Case("classifier_fid", "real and fake on two devices", lambda t: metrics.classifier_fid(DIGITS, DIGITS.to("meta"), _model()),
         ValueError, r"one device, got real digits on cpu, fake digits on meta"),
    Case("classifier_kid", "fakes in -1..1", lambda t: metrics.classifier_kid(DIGITS, DIGITS * 2 - 1, _model()), ValueError, r"fake digits must have values in \[0, 1\]"),
    Case("classifier_kid", "subset_size = 0", lambda t: metrics.classifier_kid(DIGITS, DIGITS, _model(), subset_size=0), ValueError, r"subset_size.*got 0"),
    Case("psnr", "different shapes", lambda t: metrics.psnr(RGB, RGB[:1]), ValueError, r"same shape, got \(2, 3, 16, 16\) and \(1, 3, 16, 16\)"),
    Case("psnr", "prediction and target on two devices", lambda t: metrics.psnr(RGB.to("meta"), RGB), ValueError, r"prediction on meta, target on cpu"),
    Case("psnr", "0-255 target", lambda t: metrics.psnr(RGB, RGB * 255), ValueError, r"target must have values in \[0, 1\].*x / 255"),
    Case("ssim", "uint8 prediction", lambda t: metrics.ssim((RGB * 255).byte(), RGB), TypeError, r"prediction must be a floating-point.*uint8"),
    Case("nearest_neighbour_distances", "images of different sizes", lambda t: metrics.nearest_neighbour_distances(DIGITS, RGB),
         ValueError, r"same \(C, H, W\), got \(1, 28, 28\) and \(3, 16, 16\)"),
    Case("memorization_score", "no samples", lambda t: metrics.memorization_score(DIGITS[:0], DIGITS, DIGITS), ValueError, r"number of samples.*positive.*got 0"),
    # viz
    Case("image_grid", "0-255 images", lambda t: viz.image_grid(DIGITS * 255), ValueError, r"\[0, 1\].*x / 255"),
    Case("image_grid", "nrow = 0", lambda t: viz.image_grid(DIGITS, nrow=0), ValueError, r"nrow must be a positive integer, got 0"),
    Case("show_images", "tanh outputs shown as 0..1", lambda t: viz.show_images(DIGITS * 2 - 1), ValueError, r"\(x \+ 1\) / 2"),
    Case("to_numpy_image", "channels-last image", lambda t: viz.to_numpy_image(torch.rand(16, 16, 3)), ValueError, r"\(C, H, W\).*got shape \(16, 16, 3\).*permute"),
    Case("to_numpy_image", "a batch", lambda t: viz.to_numpy_image(RGB), ValueError, r"2 or 3 dimensions, got shape \(2, 3, 16, 16\)"),
    Case("plot_history", "unknown series", lambda t: viz.plot_history({"loss": [1.0, 0.5]}, names=["acc"]), ValueError, r"unknown series \['acc'\].*\['loss'\]"),
    Case("plot_history", "a number instead of a history", lambda t: viz.plot_history(5), TypeError, r"History or a dict.*got int"),
    Case("plot_history", "smooth = 0", lambda t: viz.plot_history({"loss": [1.0]}, smooth=0), ValueError, r"smooth must be a positive integer, got 0"),
    Case("before_after", "a batch instead of one image", lambda t: viz.before_after({"noisy": RGB}), ValueError, r"column 'noisy' must have 3 dimensions, got shape \(2, 3, 16, 16\)"),
    Case("before_after", "zoom outside the image", lambda t: viz.before_after({"x": RGB[0]}, zoom=(10, 10, 8)), ValueError, r"zoom \(10, 10, 8\) falls outside.*\(3, 16, 16\)"),
    Case("before_after", "no columns", lambda t: viz.before_after({}), TypeError, r"non-empty dict.*\(empty\)"),
    # silent garbage found by red-teaming (issue 17): each used to return a plausible number or run on
    Case("bernoulli_nll", "targets in -1..1", lambda t: vae.bernoulli_nll(torch.zeros(4, 784), DIGITS.flatten(1) * 2 - 1),
         ValueError, r"target images must have values in \[0, 1\].*min -.*\(x \+ 1\) / 2"),
    Case("negative_elbo", "0-255 targets", lambda t: vae.negative_elbo(torch.zeros(4, 784), DIGITS.flatten(1) * 255,
                                                                       torch.zeros(4, 2), torch.zeros(4, 2)),
         ValueError, r"target images must have values in \[0, 1\].*max 2\d\d.*x / 255"),
    Case("fit", "an optimizer over another model's parameters", lambda t: _fit(optimizer=torch.optim.SGD(nn.Linear(3, 1).parameters(), 0.1)),
         ValueError, r"optimizer updates 2 tensor\(s\), none of them a parameter of this model \(Linear\).*model.parameters\(\)"),
    Case("fit", "a model.config holding an IntEnum", lambda t: _fit(config={"mode": _Mode.FAST}, checkpoint=t / "m.pt"),
         TypeError, r"config\['mode'\] is a .*_Mode.*store int\(\.\.\.\)"),
    Case("save_checkpoint", "a config holding a str subclass", lambda t: checkpoints.save_checkpoint(
        t / "m.pt", models=nn.Linear(2, 2), config={"name": _Name("dcgan")}), TypeError, r"config\['name'\] is a .*_Name.*store str"),
    Case("memorization_score", "held-out images = training images", lambda t: metrics.memorization_score(DIGITS, DIGITS, DIGITS),
         ValueError, r"held-out images are at distance 0 from the training set"),
    Case("classifier_kid", "subset_size = 1", lambda t: metrics.classifier_kid(DIGITS, DIGITS, _model(), subset_size=1),
         ValueError, r"subset_size must be at least 2.*got 1"),
    Case("evaluate_samples", "samples in -1..1", lambda t: metrics.evaluate_samples(DIGITS * 2 - 1, **_protocol()),
         ValueError, r"samples must have values in \[0, 1\].*\(x \+ 1\) / 2"),
    Case("evaluate_samples", "n larger than the held-out digits", lambda t: metrics.evaluate_samples(_many(9), 9, **_protocol(real=_many(8))),
         ValueError, r"n = 9 images per side, but there are only 9 samples, 8 real and 8 other real.*n <= 8"),
    Case("evaluate_samples", "n not above the feature dimension", lambda t: metrics.evaluate_samples(_many(8), 4, **_protocol()),
         ValueError, r"FID needs more than 4 images on each side.*got n = 4"),
    Case("evaluate_samples", "k as large as n", lambda t: metrics.evaluate_samples(_many(8), k=8, **_protocol()),
         ValueError, r"k must be smaller than n = 8.*got 8"),
    Case("evaluate_samples", "real digits on another device", lambda t: metrics.evaluate_samples(_many(8), **_protocol(real=_many(8).to("meta"))),
         ValueError, r"samples on cpu, real on meta"),
    Case("evaluation_table", "reports at different n", lambda t: metrics.evaluation_table({"a": {"n": 200}, "b": {"n": 500}}),
         ValueError, r"different n \[200, 500\].*same n"),
    Case("mode_coverage", "no samples", lambda t: gan.mode_coverage(torch.zeros(0, 2), gan.mixture_centers(), 0.05),
         ValueError, r"needs samples and centres, got 0 samples"),
    Case("to_numpy_image", "a uint8 image", lambda t: viz.to_numpy_image((RGB[0] * 255).byte()), TypeError, r"floating-point.*uint8.*/ 255"),
    Case("center_crop", "size = 0", lambda t: enhance.center_crop(RGB[0], 0), ValueError, r"size must be a positive integer, got 0"),
    Case("center_crop", "crop smaller than the multiple", lambda t: enhance.center_crop(RGB[0], 3, multiple=4), ValueError, r"3 px crop.*multiple of 4 is empty"),
    Case("load_mnist", "limit = True", lambda t: data.load_mnist(limit=True), ValueError, r"limit must be a positive integer or None, got True"),
    Case("seed_everything", "seed = True", lambda t: training.seed_everything(True), ValueError, r"non-negative integer, got True"),
    Case("Colouriser.colourise", "0-255 luma", lambda t: enhance.Colouriser(width=4).colourise(torch.rand(1, 1, 16, 16) * 255),
         ValueError, r"luma must have values in \[0, 1\].*x / 255"),
    Case("Colouriser.colourise", "an RGB image instead of its luma", lambda t: enhance.Colouriser(width=4).colourise(torch.rand(1, 3, 16, 16)),
         ValueError, r"luma must have 1 channel\(s\).*\(1, 3, 16, 16\)"),
    # wrong shapes and channels that used to end inside torch (issue 17)
    Case("bicubic_upscale", "one image without batch dimension", lambda t: enhance.bicubic_upscale(RGB[0], 2), ValueError, r"4 dimensions \(N, C, H, W\).*unsqueeze\(0\)"),
    Case("bicubic_upscale", "0-255 images", lambda t: enhance.bicubic_upscale(RGB * 255, 2), ValueError, r"\[0, 1\].*x / 255"),
    Case("unsharp_upscale", "one image without batch dimension", lambda t: enhance.unsharp_upscale(RGB[0], 2), ValueError, r"4 dimensions \(N, C, H, W\)"),
    Case("ycbcr_to_rgb", "a one-channel image", lambda t: enhance.ycbcr_to_rgb(DIGITS), ValueError, r"3 channels \(Y, Cb, Cr\), got shape \(4, 1, 28, 28\)"),
    Case("residual_denoiser_loss", "noise of another size", lambda t: enhance.residual_denoiser_loss(enhance.ResidualDenoiser(width=4, depth=2), DIGITS, DIGITS[..., :14, :14]),
         ValueError, r"noise must have the shape of the clean images \(4, 1, 28, 28\), got \(4, 1, 14, 14\)"),
    Case("ResidualDenoiser.denoise", "colour images into a grey denoiser", lambda t: enhance.ResidualDenoiser(width=4, depth=2).denoise(RGB),
         ValueError, r"built for 1-channel images.*got shape \(2, 3, 16, 16\).*colour=False"),
    Case("LuminanceChromaLookup.colourise", "an RGB image instead of its luma", lambda t: enhance.LuminanceChromaLookup().fit(RGB).colourise(RGB),
         ValueError, r"luma must have 1 channel\(s\).*\(2, 3, 16, 16\)"),
    Case("reparameterize", "integer tensors", lambda t: vae.reparameterize(torch.ones(2, 2, dtype=torch.long), torch.ones(2, 2, dtype=torch.long)),
         TypeError, r"mu must be a floating-point tensor, got dtype torch.int64"),
    Case("vae_loss", "colour images", lambda t: vae.vae_loss(vae.make_vae(latent_dim=2, hidden=4), (torch.rand(2, 3, 28, 28), LABELS[:2])),
         ValueError, r"images must have 1 channel\(s\).*\(2, 3, 28, 28\)"),
    Case("encode_means", "32x32 images", lambda t: vae.encode_means(vae.make_vae(latent_dim=2, hidden=4), torch.rand(2, 1, 32, 32)),
         ValueError, r"28x28 pixels, got shape \(2, 1, 32, 32\)"),
    Case("importance_weighted_log_likelihood", "colour images", lambda t: vae.importance_weighted_log_likelihood(
        vae.make_vae(latent_dim=2, hidden=4), torch.rand(2, 3, 28, 28), k=2), ValueError, r"1 channel\(s\).*\(2, 3, 28, 28\)"),
    Case("sample_prior", "a network that is not a VAE", lambda t: vae.sample_prior(nn.Linear(2, 2), 3), TypeError, r"course's VAEs \(with a latent_dim\), got Linear"),
    Case("ssim", "images smaller than the 11x11 window", lambda t: metrics.ssim(RGB[..., :4, :4], RGB[..., :4, :4]), ValueError, r"11x11 window.*\(2, 3, 4, 4\)"),
    # exercises
    Case("strip_solution_code", "None instead of source", lambda t: exercises.strip_solution_code(None), TypeError, r"source text \(str\), got NoneType"),
    Case("strip_solution_code", "an unclosed solution block", lambda t: exercises.strip_solution_code("### BEGIN SOLUTION\nx = 1"), ValueError, r"never closed by '### END SOLUTION'"),
    Case("make_exercise", "a path instead of a notebook", lambda t: exercises.make_exercise("solutions/01.ipynb"), TypeError, r"nbformat.read.*got str"),
    Case("generate", "a missing solutions folder", lambda t: exercises.generate(t / "nope", t / "out"), FileNotFoundError, r"no solutions folder at .*nope"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.function}: {c.bad_input}" for c in CASES])
def test_bad_input_raises_a_clear_error_saying_what_was_expected_and_given(case, tmp_path, record_property):
    """Common wrong input to a public function -> ValueError/TypeError whose message names what was expected and what was given."""
    with pytest.raises(case.error, match=case.expected) as caught:
        case.call(tmp_path)
    error = caught.value
    record_property("message", error.args[0] if isinstance(error, KeyError) else str(error))


def test_float64_images_are_accepted_at_the_public_entry_points():
    """float64 digits (e.g. from NumPy) go in as the network's float32 instead of torch's 'Input type (double)' error."""
    model, digits = _model().eval(), DIGITS.double()
    assert cnn.classification_loss(model, (digits, LABELS)).dtype == torch.float32
    assert 0 <= cnn.accuracy(model, TensorDataset(digits, LABELS)) <= 1
    predicted, confidence = metrics.digit_predictions(digits, model)
    assert predicted.shape == (4,) and confidence.dtype == torch.float32
    assert enhance.Colouriser(width=4).colourise(torch.rand(1, 1, 16, 16, dtype=torch.float64)).shape == (1, 3, 16, 16)


# --------------------------------------------------------------------------- exercise checks
def _all_checks():
    import course_lib.checks as package

    found = []
    for module_info in pkgutil.iter_modules(package.__path__):
        if module_info.name == "core":
            continue
        module = importlib.import_module(f"course_lib.checks.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("check_") and function.__module__ == module.__name__:
                found.append(pytest.param(function, id=f"{module_info.name}.{name}"))
    return found


def _raises(*args, **kwargs):
    raise RuntimeError("boom")


GARBAGE = {
    "None": None,
    "a number (not callable)": 42,
    "a function that raises": _raises,
    "a function returning a string": lambda *args, **kwargs: "not a tensor",
    "a function returning None": lambda *args, **kwargs: None,
    "a function taking no arguments": lambda: 0,
}


# the thresholds a "train it" check takes after the student's model or results (plausible values)
THRESHOLDS = {"min_accuracy": 0.9, "min_gain_db": 2.0, "max_ratio": 0.5, "max_error": 0.2, "max_ratio_to_untrained": 0.5,
              "max_memorization_few": 0.8, "min_memorization_everything": 0.9}


def _call_with_garbage(check, garbage):
    """The garbage goes where the student's answer goes: every required argument except the thresholds."""
    required = [p for p in inspect.signature(check).parameters.values() if p.default is inspect.Parameter.empty]
    return check(**{p.name: THRESHOLDS.get(p.name, garbage) for p in required})


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=GARBAGE.keys())
@pytest.mark.parametrize("check", _all_checks())
def test_exercise_checks_answer_garbage_with_guidance_never_a_traceback(check, garbage, capsys):
    """An exercise check given None, a non-function, a raising function or a wrong return type -> a failed CheckResult with guidance."""
    result = _call_with_garbage(check, garbage)
    assert isinstance(result, CheckResult) and not result.passed
    assert len(result.message) > 20 and "Traceback" not in result.message
    assert "❌" in capsys.readouterr().out
