"""Class-conditional GANs: the label y goes into both G and D.

Notebook 06 (``06_conditional_gan.ipynb``) derives the conditional objective

    V(D, G | y) = E_{x,y ~ p_data}[log D(x, y)] + E_{z ~ p_z, y ~ p(y)}[log(1 - D(G(z, y), y))]   (6.1)

whose optimal discriminator is D*(x, y) = p_data(x | y) / (p_data(x | y) + p_G(x | y))     (6.2)

Ways to feed the condition, all implemented here:

* generator: ``"onehot"`` concatenates the one-hot label to z (Eq. 6.3), ``"embedding"``
  concatenates a *learned* embedding e(y) to z (Eq. 6.4), ``"none"`` drops the label
  (an unconditional DCGAN with the same layers: the baseline);
* discriminator: ``"concat"`` appends the one-hot label as 10 constant image planes
  (Eq. 6.5), ``"projection"`` adds <e(y), phi(x)> to an unconditional score (Eq. 6.6,
  Miyato & Koyama 2018), ``"none"`` ignores the label.

Images are digits in [-1, 1] (tanh output). The losses are those of ``course_lib.gan``
(``discriminator_loss`` / ``generator_loss``, non-saturating, on logits) applied to the
*pairs* (x, y): nothing in the loss changes, only what D sees.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from ._validate import check_choice, check_labels, check_non_negative_int, check_positive_int, check_tensor
from .gan import generate, to_unit_range

__all__ = ["GENERATOR_CONDITIONING", "DISCRIMINATOR_CONDITIONING", "generator_input",
           "discriminator_input", "ConditionalGenerator", "ConditionalDiscriminator",
           "to_unit_range", "class_grid", "generate_digit", "per_class_accuracy"]

GENERATOR_CONDITIONING = ("onehot", "embedding", "none")
DISCRIMINATOR_CONDITIONING = ("concat", "projection", "none")
NUM_CLASSES = 10


def generator_input(z: torch.Tensor, labels: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Eq. (6.3): the generator's input [z, onehot(y)], shape (N, latent_dim + num_classes)."""
    check_tensor(z, "z", ndim=2, floating=True)
    check_labels(labels, num_classes, len(z))
    return _append_one_hot(z, labels, num_classes)


def discriminator_input(images: torch.Tensor, labels: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Eq. (6.5): images (N, C, H, W) with the one-hot label appended as num_classes constant planes."""
    check_tensor(images, "images", ndim=4, floating=True)
    check_labels(labels, num_classes, len(images))
    return _append_label_planes(images, labels, num_classes)


def _append_one_hot(z, labels, num_classes):
    return torch.cat([z, F.one_hot(labels, num_classes).to(z)], dim=1)


def _append_label_planes(images, labels, num_classes):
    n, _, h, w = images.shape
    planes = F.one_hot(labels, num_classes).to(images)[:, :, None, None].expand(n, num_classes, h, w)
    return torch.cat([images, planes], dim=1)


class ConditionalGenerator(nn.Module):
    """(z, y) -> 28x28 digit in [-1, 1].

    input [z, c(y)] (c = one-hot, Eq. 6.3, or a learned embedding, Eq. 6.4, or nothing)
    -> linear -> 2w x 7 x 7 -> convT(4, 2, 1) -> w x 14 x 14 -> convT(4, 2, 1) -> 1 x 28 x 28 -> tanh
    """

    def __init__(self, latent_dim: int = 32, width: int = 32, conditioning: str = "onehot",
                 num_classes: int = NUM_CLASSES, embedding_dim: int = 10):
        super().__init__()
        check_choice(conditioning, GENERATOR_CONDITIONING, "generator conditioning")
        check_positive_int(latent_dim, "latent_dim")
        check_positive_int(width, "width")
        self.latent_dim, self.num_classes, self.conditioning = latent_dim, num_classes, conditioning
        self.config = {"latent_dim": latent_dim, "width": width, "conditioning": conditioning,
                       "num_classes": num_classes, "embedding_dim": embedding_dim}
        label_dim = {"onehot": num_classes, "embedding": embedding_dim, "none": 0}[conditioning]
        self.embedding = nn.Embedding(num_classes, embedding_dim) if conditioning == "embedding" else None
        self.project = nn.Sequential(nn.Linear(latent_dim + label_dim, 2 * width * 7 * 7),
                                     nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU())
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh())
        self.width = width

    def condition(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The vector fed to the first layer: [z, onehot(y)], [z, e(y)] or z."""
        if self.conditioning == "onehot":
            return _append_one_hot(z, labels, self.num_classes)                  # Eq. (6.3)
        if self.conditioning == "embedding":
            return torch.cat([z, self.embedding(labels)], dim=1)
        return z

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        hidden = self.project(self.condition(z, labels))
        return self.upsample(hidden.view(len(z), 2 * self.width, 7, 7))


class ConditionalDiscriminator(nn.Module):
    """(x, y) -> one logit. conv(4, 2, 1) 28 -> 14 -> 7, then the conditional score.

    "concat":     l = w^T phi([x, onehot planes])                (Eq. 6.5)
    "projection": l = w^T phi(x) + e(y)^T phi(x)                 (Eq. 6.6)
    "none":       l = w^T phi(x)                                 (unconditional)
    """

    def __init__(self, width: int = 32, conditioning: str = "concat", num_classes: int = NUM_CLASSES):
        super().__init__()
        check_choice(conditioning, DISCRIMINATOR_CONDITIONING, "discriminator conditioning")
        check_positive_int(width, "width")
        self.conditioning, self.num_classes = conditioning, num_classes
        self.config = {"width": width, "conditioning": conditioning, "num_classes": num_classes}
        in_channels = 1 + (num_classes if conditioning == "concat" else 0)
        feature_dim = 2 * width * 7 * 7
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Flatten())
        self.score = nn.Linear(feature_dim, 1)
        self.embedding = nn.Embedding(num_classes, feature_dim) if conditioning == "projection" else None
        if self.embedding is not None:
            nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.conditioning == "concat":
            images = _append_label_planes(images, labels, self.num_classes)     # Eq. (6.5)
        phi = self.features(images)
        logits = self.score(phi).squeeze(1)
        if self.conditioning == "projection":
            logits = logits + (self.embedding(labels) * phi).sum(1)
        return logits


@torch.no_grad()
def class_grid(generator: ConditionalGenerator, columns: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A (10 * columns) batch in [0, 1]: row k holds digit k, column j uses noise z_j (shared by every row)."""
    check_positive_int(columns, "columns")
    z = torch.randn(columns, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    classes = generator.num_classes
    labels = torch.arange(classes).repeat_interleave(columns)
    return generate(generator, z.repeat(classes, 1), labels), labels


@torch.no_grad()
def generate_digit(generator: ConditionalGenerator, digit: int, seed: int) -> torch.Tensor:
    """The widget's callback: (digit, noise seed) -> one (1, 28, 28) image in [0, 1].

    The same seed always gives the same z, so changing only the digit keeps the "style".
    """
    if isinstance(digit, bool) or not isinstance(digit, int) or not 0 <= digit < generator.num_classes:
        raise ValueError(f"digit must be an integer in [0, {generator.num_classes - 1}], got {digit!r}")
    check_non_negative_int(seed, "seed")
    z = torch.randn(1, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    return generate(generator, z, torch.tensor([digit]))[0]


def per_class_accuracy(predicted: torch.Tensor, requested: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """For each class k: the fraction of images requested as k that the classifier calls k."""
    check_labels(requested, num_classes)
    check_labels(predicted, num_classes, len(requested))
    counts = torch.bincount(requested, minlength=num_classes).float()
    hits = torch.bincount(requested[predicted == requested], minlength=num_classes).float()
    if (counts == 0).any():
        missing = (counts == 0).nonzero().flatten().tolist()
        raise ValueError(f"no images were requested for classes {missing}: cannot compute their accuracy")
    return hits / counts

