"""Specification of the exercise checks: the reference passes, each known mistake gets its own message."""
import pytest
import torch
from torch import nn

from course_lib import cnn
from course_lib.checks import cnn as cnn_checks
from course_lib.checks.core import Mistake, check_function
from helpers import assert_names_the_mistake


def quiet(check, student):
    return check.__wrapped__(student) if hasattr(check, "__wrapped__") else check(student)


def test_reference_conv_sizes_pass():
    assert cnn_checks.check_conv_output_size(lambda n, k, s, p: cnn.conv_output_size(n, k, s, p)).passed
    assert cnn_checks.check_conv_transpose_output_size(
        lambda n, k, s, p: cnn.conv_transpose_output_size(n, k, s, p)).passed


@pytest.mark.parametrize("mistake", cnn_checks.CONV_MISTAKES, ids=lambda m: m.name)
def test_each_conv_size_mistake_is_caught_with_its_own_message(mistake):
    assert_names_the_mistake(cnn_checks.check_conv_output_size(mistake.implementation), mistake)


@pytest.mark.parametrize("mistake", cnn_checks.TRANSPOSE_MISTAKES, ids=lambda m: m.name)
def test_each_transposed_size_mistake_is_caught_with_its_own_message(mistake):
    assert_names_the_mistake(cnn_checks.check_conv_transpose_output_size(mistake.implementation), mistake)


def test_upsample_block_reference_passes_and_common_mistakes_are_named():
    good = lambda i, o: nn.Sequential(nn.ConvTranspose2d(i, o, 4, 2, 1), nn.BatchNorm2d(o), nn.ReLU())
    assert cnn_checks.check_upsample_block(good).passed
    assert cnn_checks.check_upsample_block(lambda i, o: nn.ConvTranspose2d(i, o, 3, 2, 1)).diagnosis == "kernel3_stride2"
    assert cnn_checks.check_upsample_block(lambda i, o: nn.ConvTranspose2d(i, o, 4, 2, 0)).diagnosis == "no_padding"


def test_upsample_that_is_not_learnable_is_reported():
    result = cnn_checks.check_upsample_block(lambda i, o: nn.Sequential(nn.Upsample(scale_factor=2), nn.Identity()))
    assert not result.passed


def _not_implemented(*args):
    raise NotImplementedError()


@pytest.mark.parametrize("student, diagnosis, words", [
    (None, "not_a_function", "Pass the function itself"),
    (42, "not_a_function", "expected a function"),
    (_not_implemented, "not_implemented", "not implemented yet"),
    (lambda *a: 1 / 0, "raised", "ZeroDivisionError"),
    (lambda *a: None, "structure", "forget the `return`"),
    (lambda *a: "twelve", "structure", "expected an integer"),
])
def test_garbage_gets_guidance_not_a_traceback(student, diagnosis, words):
    result = cnn_checks.check_conv_output_size(student)
    assert not result.passed and result.diagnosis == diagnosis and words in result.message


def _loss_reference(x):
    return (x ** 2).mean()


def _loss_inputs(generator):
    return (torch.randn(8, 5, generator=generator),)


def test_generic_diagnoses_find_a_flipped_sign_and_a_constant_factor():
    sign = check_function(lambda x: -(x ** 2).mean(), _loss_reference, _loss_inputs, print_result=False)
    factor = check_function(lambda x: (x ** 2).sum(), _loss_reference, _loss_inputs, print_result=False)
    assert sign.diagnosis == "sign" and "sign" in sign.message
    assert factor.diagnosis == "factor" and "mean vs sum" in factor.message and "40" in factor.message


def test_wrong_shape_is_explained():
    result = check_function(lambda x: x ** 2, _loss_reference, _loss_inputs, print_result=False)
    assert result.diagnosis == "structure" and "reduced to a single number" in result.message


def test_a_listed_mistake_wins_over_the_generic_diagnosis():
    mistakes = [Mistake("summed", lambda x: (x ** 2).sum(), "sum over the batch instead of the mean")]
    result = check_function(lambda x: (x ** 2).sum(), _loss_reference, _loss_inputs, mistakes, print_result=False)
    assert result.diagnosis == "summed" and result.message == "sum over the batch instead of the mean"


def test_the_result_prints_a_friendly_line(capsys):
    check_function(_loss_reference, _loss_reference, _loss_inputs, name="mean_square")
    assert capsys.readouterr().out.startswith("✅ mean_square: correct")
