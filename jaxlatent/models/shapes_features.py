"""Feature network f(image) -> R^64 for density, rarity and k-NN work on the shapes domain.

Training task (chosen so the network is never handed shape or colour labels): a denoising
autoencoder on **balanced** (b = 0.5) shapes. The encoder's 64-d bottleneck is the feature; the
decoder exists only for training. A reconstruction bottleneck must keep everything that makes
images differ (shape, colour, pose), which is what rarity in feature space needs, while staying
independent of the evaluation classifier (a separately trained network with its own labels).
This plays the role of VGG16 fc2 in DivRare (Lee et al., AAAI 2025).

Encoder: 2×2 average pool (128 → 64 px), 4×4 stride-2 convs 3→32→64→128 with ReLU (64 → 8 px),
flatten, ``fc`` 8192→64. The decoder mirrors it and reconstructs the pooled 64×64 image.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlatent.models.embedded import build_embedded
from jaxlatent.models.layers import ConvTranspose4x4s2, avg_pool2

FEATURE_DIM = 64


class FeatureEncoder(nn.Module):
    feature_dim: int = FEATURE_DIM

    @nn.compact
    def __call__(self, x):  # [B, 128, 128, 3] in [0, 1]
        x = 2.0 * avg_pool2(x) - 1.0  # 64×64 is enough for these shapes and 4× cheaper
        for i, ch in enumerate((32, 64, 128)):
            x = nn.relu(nn.Conv(ch, (4, 4), strides=2, padding=1, name=f"conv{i}")(x))
        return nn.Dense(self.feature_dim, name="fc")(x.reshape(x.shape[0], -1))


class FeatureDecoder(nn.Module):
    @nn.compact
    def __call__(self, f):
        x = nn.relu(nn.Dense(8 * 8 * 128, name="fc")(f)).reshape(f.shape[0], 8, 8, 128)
        for i, ch in enumerate((64, 32, 3)):
            x = ConvTranspose4x4s2(ch, name=f"deconv{i}")(x)
            x = nn.relu(x) if i < 2 else nn.sigmoid(x)
        return x  # [B, 64, 64, 3]: reconstructs the 2×2-average-pooled input


class FeatureAutoencoder(nn.Module):
    def setup(self):
        self.encoder = FeatureEncoder()
        self.decoder = FeatureDecoder()

    def __call__(self, x):
        return self.decoder(self.encoder(x))


def autoencoder_loss(params, images, key, noise_std: float = 0.1):
    """Denoising reconstruction loss: per-image summed BCE(decoder(encoder(x + noise)), pool(x)).

    Summed (not mean) BCE, as the VAE's ELBO: with a mean squared error the mostly-white images
    let the autoencoder settle on a blank reconstruction (measured: MSE stuck at ≈0.05).
    """
    noisy = jnp.clip(images + noise_std * jax.random.normal(key, images.shape), 0.0, 1.0)
    recon = FeatureAutoencoder().apply({"params": params}, noisy)
    target = avg_pool2(images)
    eps = 1e-6
    bce = -(target * jnp.log(recon + eps) + (1 - target) * jnp.log(1 - recon + eps))
    mse = jnp.mean((recon - target) ** 2)
    return jnp.mean(bce.sum(axis=(1, 2, 3))), {"mse": mse}


def features(params, images):
    """f(x): [B, 128, 128, 3] in [0, 1] -> [B, 64] float32."""
    return FeatureEncoder().apply({"params": params["encoder"]}, images)


def build(path=None, *, key=None):
    """The feature network; ``apply_fn(params, images) -> [B, 64]``; params hold the AE."""
    info = {"feature_dim": FEATURE_DIM, "input_range": (0.0, 1.0)}
    return build_embedded(
        "shapes_features", FeatureAutoencoder(), jnp.zeros((1, 128, 128, 3)), features, path, key,
        info,
    )
