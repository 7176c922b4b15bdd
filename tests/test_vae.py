"""Specification of course_lib.vae and its exercise checks (notebooks 04 and 05)."""
import math

import pytest
import torch

from course_lib import vae
from course_lib.checks import vae as vae_checks
from helpers import assert_passes_the_reference_and_names_each_mistake, train_a_few_steps


def tiny_digits(n=16, seed=0):
    """A few blobby 'digits' in [0, 1], so tests need no dataset."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.zeros(n, 1, 28, 28)
    for i in range(n):
        top, left = torch.randint(4, 16, (2,), generator=generator).tolist()
        images[i, 0, top:top + 8, left:left + 8] = torch.rand(8, 8, generator=generator)
    return images


# --------------------------------------------------------------------------- the objective
def test_kl_is_zero_for_the_prior_and_matches_the_closed_form_for_one_dimension():
    zero = vae.gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4))
    assert torch.allclose(zero, torch.zeros(3))
    mu, sigma = 1.5, 0.5
    expected = math.log(1 / sigma) + (sigma ** 2 + mu ** 2) / 2 - 0.5   # KL(N(mu, s^2) || N(0, 1))
    got = vae.gaussian_kl(torch.tensor([[mu]]), torch.tensor([[2 * math.log(sigma)]]))
    assert got.shape == (1,) and abs(got.item() - expected) < 1e-5


def test_kl_agrees_with_torch_distributions():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(5, 3), torch.ones(5, 3))
    assert torch.allclose(vae.gaussian_kl(mu, logvar), torch.distributions.kl_divergence(q, p).sum(1), atol=1e-5)


def test_reparameterize_gives_the_right_moments_and_lets_gradients_reach_the_encoder():
    mu = torch.tensor([[1.0, -2.0]], requires_grad=True)
    logvar = torch.tensor([[0.0, math.log(4.0)]], requires_grad=True)
    z = vae.reparameterize(mu.expand(20000, 2), logvar.expand(20000, 2))
    assert torch.allclose(z.mean(0), torch.tensor([1.0, -2.0]), atol=0.05)
    assert torch.allclose(z.std(0), torch.tensor([1.0, 2.0]), atol=0.05)
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None and logvar.grad.abs().sum() > 0


def test_bernoulli_nll_sums_binary_cross_entropy_over_pixels():
    logits = torch.zeros(2, 1, 28, 28)           # p = 1/2 everywhere: log 2 nats per pixel
    images = torch.rand(2, 1, 28, 28)
    assert torch.allclose(vae.bernoulli_nll(logits, images), torch.full((2,), 784 * math.log(2)), atol=1e-3)
    with pytest.raises(ValueError, match="same shape"):
        vae.bernoulli_nll(logits, images[:, :, :14])


def test_negative_elbo_is_reconstruction_plus_kl_averaged_over_the_batch():
    logits, images = torch.randn(4, 1, 28, 28), torch.rand(4, 1, 28, 28)
    mu, logvar = torch.randn(4, 2), torch.randn(4, 2)
    expected = (vae.bernoulli_nll(logits, images) + vae.gaussian_kl(mu, logvar)).mean()
    assert torch.allclose(vae.negative_elbo(logits, images, mu, logvar), expected)


# --------------------------------------------------------------------------- models
@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_both_architectures_map_digits_to_logits_and_latents_of_the_right_shape(kind):
    model = vae.make_vae(kind, latent_dim=5)
    logits, mu, logvar = model(tiny_digits(3))
    assert logits.shape == (3, 1, 28, 28) and mu.shape == logvar.shape == (3, 5)
    assert model.decode(torch.zeros(2, 5)).shape == (2, 1, 28, 28)
    rebuilt = vae.make_vae(**model.config)
    rebuilt.load_state_dict(model.state_dict())


def test_mlp_vae_has_the_pytorch_examples_size():
    model = vae.MLPVAE()
    assert model.latent_dim == 20
    assert sum(p.numel() for p in model.parameters()) == (784 * 400 + 400) + 2 * (400 * 20 + 20) + \
        (20 * 400 + 400) + (400 * 784 + 784)


def test_unknown_architecture_and_bad_sizes_are_explained():
    with pytest.raises(ValueError, match="valid choices"):
        vae.make_vae("transformer")
    with pytest.raises(ValueError, match="latent_dim"):
        vae.MLPVAE(latent_dim=0)


def test_training_on_a_tiny_batch_lowers_the_negative_elbo():
    torch.manual_seed(0)
    model = vae.MLPVAE(latent_dim=4, hidden=64)
    images = tiny_digits(16)
    before = vae.evaluate_elbo(model, images)["nelbo"]
    train_a_few_steps(model, lambda _: vae.vae_loss(model, (images,))[0], 60, 3e-3)
    after = vae.evaluate_elbo(model, images)
    assert set(vae.vae_loss(model, (images,))[1]) == {"reconstruction", "kl"}
    assert after["nelbo"] < 0.7 * before, (before, after)
    assert abs(after["nelbo"] - after["reconstruction"] - after["kl"]) < 1e-6


def test_evaluate_elbo_is_repeatable():
    model = vae.MLPVAE(latent_dim=3, hidden=32)
    images = tiny_digits(8)
    assert vae.evaluate_elbo(model, images) == vae.evaluate_elbo(model, images)


# --------------------------------------------------------------------------- importance weighting
def test_importance_weighted_bound_with_one_sample_is_a_one_sample_elbo_and_tightens_with_more():
    torch.manual_seed(0)
    model = vae.MLPVAE(latent_dim=3, hidden=32)
    images = tiny_digits(8)
    with torch.no_grad():
        mu, logvar = model.encode(images)
        z = mu + (0.5 * logvar).exp() * torch.randn((1, *mu.shape), generator=torch.Generator().manual_seed(5))[0]
        q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
        prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
        one_sample_elbo = (-vae.bernoulli_nll(model.decode(z), images) + prior.log_prob(z).sum(1)
                           - q.log_prob(z).sum(1))
    iw1 = vae.importance_weighted_log_likelihood(model, images, k=1, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(iw1, one_sample_elbo, atol=1e-3)
    one = vae.evaluate_log_likelihood(model, images, k=1)
    many = vae.evaluate_log_likelihood(model, images, k=200)
    assert many < one  # the -log p(x) estimate goes down: the bound tightens


def test_importance_weighted_bound_is_exact_when_q_is_the_true_posterior():
    """Linear-Gaussian check of Eq. (5.1): with q = prior and a decoder that ignores z, p(x) = p(x|z)."""
    model = vae.MLPVAE(latent_dim=2, hidden=8)
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.zero_()
        for p in list(model.to_mu.parameters()) + list(model.to_logvar.parameters()):
            p.zero_()
    images = tiny_digits(4)
    exact = -vae.bernoulli_nll(torch.zeros_like(images), images)
    assert torch.allclose(vae.importance_weighted_log_likelihood(model, images, k=10), exact, atol=1e-4)


def test_keep_best_restores_the_weights_with_the_lowest_validation_loss():
    model = vae.MLPVAE(latent_dim=2, hidden=16)
    keeper = vae.KeepBest(tiny_digits(8))
    with pytest.raises(RuntimeError, match="eval_fn"):
        keeper.restore(model)
    first = keeper(model)["val_nelbo"]
    best_weights = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.decoder[-2].bias.fill_(50.0)   # all pixels "on": much worse
    assert keeper(model)["val_nelbo"] > first
    assert keeper.restore(model) == first
    assert all(torch.equal(v, best_weights[k]) for k, v in model.state_dict().items())


# --------------------------------------------------------------------------- the latent space
def test_interpolation_starts_and_ends_at_the_two_reconstructions():
    model = vae.MLPVAE(latent_dim=4, hidden=32).eval()
    a, b = tiny_digits(2)
    strip = vae.interpolate(model, a, b, torch.linspace(0, 1, 5))
    mu = vae.encode_means(model, torch.stack([a, b]))
    ends = torch.sigmoid(model.decode(mu)).detach()
    assert strip.shape == (5, 1, 28, 28)
    assert torch.allclose(strip[0], ends[0], atol=1e-6) and torch.allclose(strip[-1], ends[1], atol=1e-6)
    assert torch.allclose(vae.interpolation_frame(model, a, b, 1.0), ends[1], atol=1e-6)


def test_interpolation_rejects_positions_outside_zero_one():
    model = vae.MLPVAE(latent_dim=2, hidden=8)
    a, b = tiny_digits(2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vae.interpolation_frame(model, a, b, 1.5)


def test_prior_samples_and_latent_grid_are_images_in_the_unit_range():
    model = vae.MLPVAE(latent_dim=2, hidden=8)
    samples = vae.sample_prior(model, 6, generator=torch.Generator().manual_seed(0))
    grid = vae.latent_grid(model, n=4, span=2.0)
    for images, count in ((samples, 6), (grid, 16)):
        assert images.shape == (count, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    with pytest.raises(ValueError, match="2-D latent"):
        vae.latent_grid(vae.MLPVAE(latent_dim=3, hidden=8))


def test_latent_grid_runs_left_to_right_and_top_to_bottom_like_a_plot():
    model = vae.MLPVAE(latent_dim=2, hidden=8)
    seen = []
    model.decode = lambda z: (seen.append(z.clone()), torch.zeros(len(z), 1, 28, 28))[1]
    vae.latent_grid(model, n=3, span=1.0)
    z = seen[0]
    assert z[0].tolist() == [-1.0, 1.0] and z[2].tolist() == [1.0, 1.0] and z[-1].tolist() == [1.0, -1.0]


# --------------------------------------------------------------------------- exercise checks
def _reparameterize(mu, logvar, eps):
    return vae.reparameterize(mu, logvar, eps)


@pytest.mark.parametrize("check, reference, mistakes", [
    (vae_checks.check_reparameterize, _reparameterize, vae_checks.REPARAMETERIZE_MISTAKES),
    (vae_checks.check_negative_elbo, vae.negative_elbo, vae_checks.ELBO_MISTAKES),
    # (check_gaussian_kl: tests/test_check_feedback.py)
], ids=["reparameterize", "negative_elbo"])
def test_each_check_passes_the_reference_and_names_every_listed_mistake(check, reference, mistakes):
    assert_passes_the_reference_and_names_each_mistake(check, reference, mistakes)


def test_the_textbook_kl_formula_passes_too():
    assert vae_checks.check_gaussian_kl(lambda mu, lv: -0.5 * (1 + lv - mu ** 2 - lv.exp()).sum(dim=1)).passed


def test_sampling_with_torch_normal_is_diagnosed_as_missing_reparameterization():
    result = vae_checks.check_reparameterize(lambda mu, lv, eps: torch.normal(mu, (0.5 * lv).exp()))
    assert not result.passed and result.diagnosis == "no_reparameterization"


def test_all_mistake_names_are_distinct():
    names = [m.name for m in vae_checks.REPARAMETERIZE_MISTAKES + vae_checks.KL_MISTAKES + vae_checks.ELBO_MISTAKES]
    assert len(names) == len(set(names))
