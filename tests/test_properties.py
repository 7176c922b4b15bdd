"""Property-based tests (hypothesis): size arithmetic, the classification loss, image conversions.

Instead of a few hand-picked examples, hypothesis draws hundreds of inputs and
shrinks any counter-example to the simplest one.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st
from torch import nn

from course_lib import _photos, _validate as validate, cnn, viz

# Derandomized: the same examples on every run, so CI never flakes; no per-example deadline on a busy CPU.
examples = settings(max_examples=40, deadline=None, derandomize=True)

sizes = st.integers(1, 40)
kernels = st.integers(1, 7)
strides = st.integers(1, 4)
paddings = st.integers(0, 3)
dilations = st.integers(1, 3)


def _layer_output(layer, size):
    with torch.no_grad():
        return layer(torch.zeros(1, 1, size, size)).shape[-1]


# --------------------------------------------------------------------------- size arithmetic
@examples
@given(size=sizes, kernel=kernels, stride=strides, padding=paddings, dilation=dilations)
def test_conv_output_size_matches_a_real_conv2d_layer(size, kernel, stride, padding, dilation):
    """Eq. (1.1) for any size/kernel/stride/padding/dilation -> the size nn.Conv2d produces, or an error exactly when Conv2d fails."""
    layer = nn.Conv2d(1, 1, kernel, stride, padding, dilation, bias=False)
    try:
        expected = _layer_output(layer, size)
    except RuntimeError:
        with pytest.raises(ValueError, match="does not fit"):
            cnn.conv_output_size(size, kernel, stride, padding, dilation)
        return
    assert cnn.conv_output_size(size, kernel, stride, padding, dilation) == expected


@examples
@given(size=sizes, kernel=kernels, stride=strides, padding=paddings, dilation=dilations, output_padding=st.integers(0, 3))
def test_conv_transpose_output_size_matches_a_real_conv_transpose2d_layer(size, kernel, stride, padding, dilation, output_padding):
    """Eq. (1.3) -> the size nn.ConvTranspose2d produces; invalid output_padding or a non-positive size is a ValueError."""
    try:
        layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding, dilation=dilation, bias=False)
        expected = _layer_output(layer, size)
    except (RuntimeError, ValueError):
        with pytest.raises(ValueError):
            cnn.conv_transpose_output_size(size, kernel, stride, padding, output_padding, dilation)
        return
    assert cnn.conv_transpose_output_size(size, kernel, stride, padding, output_padding, dilation) == expected


@examples
@given(size=sizes, kernel=st.integers(1, 5), stride=st.one_of(st.none(), strides), padding=st.integers(0, 2))
def test_pool_output_size_matches_a_real_max_pool_layer(size, kernel, stride, padding):
    """Eq. (1.2) -> the size nn.MaxPool2d produces (stride defaults to the kernel); what MaxPool2d rejects is a ValueError."""
    try:
        expected = _layer_output(nn.MaxPool2d(kernel, stride, padding), size)
    except RuntimeError:
        with pytest.raises(ValueError):
            cnn.pool_output_size(size, kernel, stride, padding)
        return
    assert cnn.pool_output_size(size, kernel, stride, padding) == expected


@examples
@given(size=st.integers(4, 64), kernel=kernels, stride=strides, padding=paddings)
def test_a_transposed_convolution_undoes_the_size_change_of_a_convolution(size, kernel, stride, padding):
    """conv then transposed conv with output_padding = (n + 2p - k) mod s -> back to the input size n."""
    assume(size + 2 * padding >= kernel)
    down = cnn.conv_output_size(size, kernel, stride, padding)
    output_padding = (size + 2 * padding - kernel) % stride
    assume(down >= 1 and 2 * padding < (down - 1) * stride + kernel + output_padding)
    assert cnn.conv_transpose_output_size(down, kernel, stride, padding, output_padding) == size


@examples
@given(st.integers(1, 40), st.integers(1, 7))
def test_integer_like_sizes_from_numpy_and_torch_give_the_same_answer(size, kernel):
    """NumPy and 0-d torch integers -> the same size as Python ints (students often pass tensor.shape entries)."""
    import numpy as np

    assume(size >= kernel)
    assert cnn.conv_output_size(np.int64(size), torch.tensor(kernel)) == cnn.conv_output_size(size, kernel)


# --------------------------------------------------------------------------- the classification loss
class _FixedLogits(nn.Module):
    """A stand-in model that returns given logits (one row per image)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, images):
        return self.logits


logit_batches = st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(st.floats(-50, 50, allow_nan=False), min_size=10 * n, max_size=10 * n),
    st.lists(st.integers(0, 9), min_size=n, max_size=n)))


def _loss(logits, labels):
    images = torch.zeros(len(labels), 1, 28, 28)
    return cnn.classification_loss(_FixedLogits(logits), (images, labels), augment=False)


@examples
@given(logit_batches)
def test_classification_loss_is_finite_non_negative_and_the_mean_of_per_example_losses(batch):
    """Any logits and labels -> a finite, non-negative scalar equal to the mean of -log softmax(label) (Eq. 1.5)."""
    values, labels = batch
    labels = torch.tensor(labels)
    logits = torch.tensor(values, dtype=torch.float64).view(len(labels), 10)
    loss = _loss(logits, labels)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss >= 0
    per_example = -(logits.log_softmax(1).gather(1, labels[:, None])).squeeze(1)
    assert torch.allclose(loss, per_example.mean())
    doubled = _loss(torch.cat([logits, logits]), torch.cat([labels, labels]))
    assert torch.allclose(doubled, loss), "a mean does not change when the batch is repeated"


@examples
@given(st.integers(1, 8), st.floats(-1e4, 1e4, allow_nan=False))
def test_classification_loss_of_uniform_logits_is_log_10(n, level):
    """Equal logits for the 10 classes (any level) -> exactly log(10), the loss of guessing."""
    loss = _loss(torch.full((n, 10), level, dtype=torch.float64), torch.zeros(n, dtype=torch.long))
    assert math.isclose(loss.item(), math.log(10), rel_tol=1e-9)


@examples
@given(st.floats(1, 1e4, allow_nan=False))
def test_classification_loss_rewards_confidence_in_the_right_class_and_punishes_the_wrong_one(margin):
    """A margin on the true class -> loss below log 10; the same margin on a wrong class -> loss above log 10 (right sign)."""
    labels = torch.tensor([3])
    right = torch.zeros(1, 10, dtype=torch.float64)
    right[0, 3] = margin
    wrong = torch.zeros(1, 10, dtype=torch.float64)
    wrong[0, 5] = margin
    assert _loss(right, labels) < math.log(10) < _loss(wrong, labels)


# --------------------------------------------------------------------------- image ranges and conversions
images = st.tuples(st.integers(1, 4), st.sampled_from([1, 3]), st.integers(2, 12), st.integers(2, 12)).map(
    lambda shape: torch.rand(*shape, generator=torch.Generator().manual_seed(sum(shape))))


@examples
@given(images, st.sampled_from([(0, 1), (-1, 1), (0, 255)]))
def test_check_images_accepts_every_batch_inside_its_range(batch, value_range):
    """Images scaled into (0,1), (-1,1) or (0,255) -> accepted for that range, unchanged."""
    low, high = value_range
    scaled = low + batch * (high - low)
    assert validate.check_images(scaled, value_range=value_range) is scaled


@examples
@given(images, st.floats(0.01, 100), st.booleans())
def test_check_images_rejects_any_pixel_outside_the_range_and_reports_min_and_max(batch, excess, below):
    """One pixel beyond [0, 1] by more than the tolerance -> ValueError stating the expected range and the actual min/max."""
    batch = batch.clone()
    batch.view(-1)[0] = -excess if below else 1 + excess
    with pytest.raises(ValueError, match=r"values in \[0, 1\] \(got min -?[\d.]+, max [\d.]+\)"):
        validate.check_images(batch)


@examples
@given(images)
def test_image_grid_maps_minus_one_one_to_zero_one(batch):
    """tanh-range images through image_grid(value_range=(-1, 1)) -> the grid holds (x + 1) / 2, all in [0, 1]."""
    tanh_range = batch * 2 - 1
    grid = viz.image_grid(tanh_range, nrow=len(batch), padding=0, value_range=(-1, 1))
    n, c, h, w = batch.shape
    tiles = grid.view(grid.shape[0], h, n, w).permute(2, 0, 1, 3)[:, :c]
    assert torch.allclose(tiles, batch, atol=1e-6)
    assert grid.min() >= 0 and grid.max() <= 1


@examples
@given(images)
def test_to_numpy_image_is_a_pure_axis_move(batch):
    """A (C, H, W) image in [0, 1] -> (H, W) for grey or (H, W, 3) for colour with identical values."""
    image = batch[0]
    array = viz.to_numpy_image(image)
    expected = image[0] if image.shape[0] == 1 else image.permute(1, 2, 0)
    assert array.shape == tuple(expected.shape) and torch.equal(torch.from_numpy(array), expected)


@examples
@given(st.integers(2, 10), st.integers(2, 10), st.booleans(), st.sampled_from(["uint8", "bool", "float"]))
def test_photo_conversion_gives_chw_in_unit_range_for_any_pixel_type(h, w, colour_input, kind):
    """uint8 (0-255), bool or float photos, grey or RGB(A) -> (C, H, W) float in [0, 1] with C = 3 or 1 as asked."""
    import numpy as np

    rng = np.random.default_rng(h * w)
    shape = (h, w, 4) if colour_input else (h, w)
    raw = {"uint8": rng.integers(0, 256, shape).astype(np.uint8), "bool": rng.random(shape) > 0.5,
           "float": rng.random(shape)}[kind]
    for colour in (True, False):
        tensor = _photos.to_tensor(raw, colour=colour)
        assert tensor.shape == ((3 if colour else 1), h, w) and tensor.dtype == torch.float32
        assert tensor.min() >= 0 and tensor.max() <= 1
    if kind == "uint8" and not colour_input:
        assert torch.allclose(_photos.to_tensor(raw, colour=False)[0], torch.from_numpy(raw).float() / 255)
