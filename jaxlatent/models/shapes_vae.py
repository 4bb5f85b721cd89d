"""The shapes VAE of QDGS (Chang et al., AAAI 2024, appendix A); its decoder is G(z).

Encoder: three stride-2 4×4 convs 3→16→32→32 with ReLU (128 → 16 px), flatten 8192,
``fc_mu`` and ``fc_logvar`` 8192→6. Decoder: ``fc`` 6→8192, reshape 16×16×32, three stride-2
4×4 transposed convs 32→32→16→3 (ReLU between; torch ``ConvTranspose2d(4, 2, 1)``
semantics, see `layers.ConvTranspose4x4s2`), sigmoid. Trained on bias b = 0.98 data by
``configs/train_vae.py``; images are NHWC in [0, 1].
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlatent.models.embedded import build_embedded
from jaxlatent.models.layers import ConvTranspose4x4s2

LATENT_DIM = 6


class Encoder(nn.Module):
    latent_dim: int = LATENT_DIM

    @nn.compact
    def __call__(self, x):  # x: [B, 128, 128, 3] in [0, 1]
        for i, ch in enumerate((16, 32, 32)):
            x = nn.relu(nn.Conv(ch, (4, 4), strides=2, padding=1, name=f"conv{i}")(x))
        x = x.reshape(x.shape[0], -1)  # [B, 8192]
        return nn.Dense(self.latent_dim, name="fc_mu")(x), nn.Dense(self.latent_dim, name="fc_logvar")(x)


class Decoder(nn.Module):
    @nn.compact
    def __call__(self, z):  # z: [B, 6]
        x = nn.Dense(16 * 16 * 32, name="fc")(z).reshape(z.shape[0], 16, 16, 32)
        for i, ch in enumerate((32, 16, 3)):
            x = ConvTranspose4x4s2(ch, name=f"deconv{i}")(x)
            x = nn.relu(x) if i < 2 else nn.sigmoid(x)
        return x  # [B, 128, 128, 3]


class VAE(nn.Module):
    def setup(self):
        self.encoder = Encoder()
        self.decoder = Decoder()

    def __call__(self, x, key):
        mu, logvar = self.encoder(x)
        z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape)
        return self.decoder(z), mu, logvar

    def decode(self, z):
        return self.decoder(z)


def vae_loss(params, images, key, beta: float = 1.0):
    """Negative ELBO per image: sum-over-pixels BCE + beta·KL(q(z|x) || N(0, I)).

    Returns:
      ``(loss, aux)`` with mean ``recon`` (BCE), ``kl`` and ``mse`` over the batch.
    """
    recon, mu, logvar = VAE().apply({"params": params}, images, key)
    eps = 1e-6
    bce = -(images * jnp.log(recon + eps) + (1 - images) * jnp.log(1 - recon + eps))
    bce = bce.sum(axis=(1, 2, 3))
    kl = 0.5 * jnp.sum(jnp.exp(logvar) + mu**2 - 1.0 - logvar, axis=-1)
    mse = jnp.mean((recon - images) ** 2, axis=(1, 2, 3))
    loss = jnp.mean(bce + beta * kl)
    return loss, {"recon": bce.mean(), "kl": kl.mean(), "mse": mse.mean()}


def _vae_apply(params, images, key):
    return VAE().apply({"params": params}, images, key)


def _decode(params, z):
    """G(z): [B, 6] latents -> [B, 128, 128, 3] images in [0, 1]."""
    return Decoder().apply({"params": params["decoder"]}, z)


def _encode(params, images):
    return Encoder().apply({"params": params["encoder"]}, images)


def build_vae(path=None, *, key=None):
    """The full VAE; ``apply_fn(params, images, key) -> (recon, mu, logvar)``."""
    info = {"latent_dim": LATENT_DIM, "resolution": 128, "encode": _encode, "decode": _decode}
    example = (jnp.zeros((1, 128, 128, 3)), jax.random.key(0))
    return build_embedded("shapes_vae", _Init(), example, _vae_apply, path, key, info)


def build_generator(path=None, *, key=None):
    """G(z) = decoder; ``apply_fn(params, z [B, 6]) -> images [B, 128, 128, 3]`` in [0, 1].

    ``params`` is the whole VAE tree (the decoder reads ``params["decoder"]``), so the same
    shipped file serves both names.
    """
    vae = build_vae(path, key=key)
    info = dict(vae.info, output_range=(0.0, 1.0), latent_shape=(LATENT_DIM,))
    return vae._replace(apply_fn=_decode, info=info)


class _Init:
    """Adapter so `build_embedded` can init a module whose call takes (x, key)."""

    def init(self, key, example):
        return VAE().init(key, *example)
