"""The checks of assignment 05 (importance weighting) accept the right answers and name each listed mistake."""
import pytest
import torch

from course_lib.checks import iwae as checks
from course_lib.vae import importance_weighted_log_likelihood

from helpers import assert_passes_the_reference_and_names_each_mistake

CASES = [(checks.check_log_normal, checks._log_normal, checks.LOG_NORMAL_MISTAKES),
         (checks.check_log_mean_exp, checks._log_mean_exp, checks.LOG_MEAN_EXP_MISTAKES),
         (checks.check_iw_bound, checks._iw_bound, checks.IW_BOUND_MISTAKES)]


@pytest.mark.parametrize("check, reference, mistakes", CASES, ids=[check.__name__ for check, _, _ in CASES])
def test_each_check_passes_the_reference_and_names_every_listed_mistake(check, reference, mistakes):
    assert_passes_the_reference_and_names_each_mistake(check, reference, mistakes)


def test_the_reference_bound_is_the_course_function_on_the_same_draws():
    model, images = checks._tiny_vae(), (torch.rand(4, 1, 28, 28) < 0.3).float()
    eps = torch.randn((7, 4, 3), generator=torch.Generator().manual_seed(3))
    expected = importance_weighted_log_likelihood(model, images, 7, torch.Generator().manual_seed(3))
    assert torch.allclose(checks._iw_bound(model, images, eps), expected, atol=1e-3)


def test_log_mean_exp_is_exact_where_exp_overflows():
    values = torch.tensor([[-600.0, 600.0], [-600.0, 600.0]])
    assert torch.allclose(checks._log_mean_exp(values, 0), torch.tensor([-600.0, 600.0]))
