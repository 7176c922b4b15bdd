"""The checks of assignment 09 (image enhancement) accept the right answers and name each listed mistake."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.checks import enhance as checks
from course_lib.enhance import bicubic_upscale

from helpers import assert_passes_the_reference_and_names_each_mistake


def psnr_db(prediction, target):
    return 10 * torch.log10(1 / ((prediction - target) ** 2).mean())


class SuperResolver(nn.Module):
    """The assignment's solution, with switches for the mistakes a student makes."""

    def __init__(self, scale, zero_start=True, add_bicubic=True, channels=None):
        super().__init__()
        self.scale, self.add_bicubic = scale, add_bicubic
        last = nn.Conv2d(8, channels or scale * scale, 3, padding=1)
        if zero_start:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), last)

    def forward(self, low_res):
        correction = F.pixel_shuffle(self.body(low_res), self.scale)
        return bicubic_upscale(low_res, self.scale) + correction if self.add_bicubic else correction


def variant(**switches):
    return type("Variant", (SuperResolver,), {"__init__": lambda self, scale: SuperResolver.__init__(self, scale,
                                                                                                     **switches)})


@pytest.mark.parametrize("check, reference, mistakes", [
    (checks.check_psnr, psnr_db, checks.PSNR_MISTAKES),
    (checks.check_pixel_shuffle, lambda x, r: F.pixel_shuffle(x, r), checks.PIXEL_SHUFFLE_MISTAKES),
    (checks.check_super_resolver, SuperResolver, []),  # its mistakes are switches of a class: below
], ids=["psnr", "pixel_shuffle", "super_resolver"])
def test_each_check_passes_the_reference_and_names_every_listed_mistake(check, reference, mistakes):
    assert_passes_the_reference_and_names_each_mistake(check, reference, mistakes)


def test_psnr_agrees_with_the_course_metric():
    prediction, target = torch.rand(3, 1, 8, 8), torch.rand(3, 1, 8, 8)
    from course_lib.metrics import psnr
    assert checks._psnr(prediction, target) == pytest.approx(psnr(prediction, target), rel=1e-5)


@pytest.mark.parametrize("student, diagnosis", [
    (variant(zero_start=False), "not_zero_initialised"),
    (variant(add_bicubic=False), "no_bicubic"),
    (variant(channels=3), "wrong_channels"),
    (SuperResolver(2), "not_a_class"),
])
def test_super_resolver_mistakes_are_named(student, diagnosis):
    result = checks.check_super_resolver(student)
    assert not result.passed and result.diagnosis == diagnosis, result


def test_a_super_resolver_with_a_scrambled_correction_is_refused():
    class Scrambled(SuperResolver):
        def forward(self, low_res):
            correction = self.body(low_res).flip(1)
            return bicubic_upscale(low_res, self.scale) + F.pixel_shuffle(correction, self.scale)

    result = checks.check_super_resolver(Scrambled)
    assert not result.passed and result.diagnosis == "correction", result
