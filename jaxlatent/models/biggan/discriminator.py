"""BigGAN-PyTorch ``Discriminator`` at 32 px as a Flax module (the generator port has no D).

Parameter names follow BigGAN-PyTorch (``blocks_{i}_0/conv1|conv2|conv_sc``, ``linear``,
``embedding``); spectral norm is applied outside the module (`jaxlatent.training.spectral_norm`)
and folded into the weights on export. Reference: Brock et al., "Large Scale GAN Training",
ICLR 2019; BigGAN-PyTorch ``BigGAN.py`` ``D_arch[32]``, ``layers.DBlock``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlatent.models.biggan.layers import conv


class DBlock(nn.Module):
    """BigGAN-PyTorch ``layers.DBlock`` (wide): [relu] conv3 relu conv3 [avgpool] + shortcut."""

    out_channels: int
    preactivation: bool
    downsample: bool

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        pool = lambda t: nn.avg_pool(t, (2, 2), strides=(2, 2))  # noqa: E731
        h = jax.nn.relu(x) if self.preactivation else x
        h = conv(self.out_channels, 3, "conv2")(jax.nn.relu(conv(self.out_channels, 3, "conv1")(h)))
        h = pool(h) if self.downsample else h
        learnable = x.shape[-1] != self.out_channels or self.downsample
        if self.preactivation:
            x = conv(self.out_channels, 1, "conv_sc")(x) if learnable else x
            x = pool(x) if self.downsample else x
        else:
            x = pool(x) if self.downsample else x
            x = conv(self.out_channels, 1, "conv_sc")(x) if learnable else x
        return h + x


class BigGANDiscriminator(nn.Module):
    """BigGAN-PyTorch ``Discriminator`` at 32 px (``D_arch[32]``, no attention), projection head.

    ``(x [N, 32, 32, 3], y [N] int) -> [N]``: linear(Σ_hw relu h) + ⟨embed[y], Σ_hw relu h⟩.
    """

    ch: int = 64
    n_classes: int = 10

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        for i, down in enumerate((True, True, False, False)):
            x = DBlock(4 * self.ch, i > 0, down, name=f"blocks_{i}_0")(x)
        h = jnp.sum(jax.nn.relu(x), axis=(1, 2))
        table = self.param("embedding", nn.initializers.normal(1.0), (self.n_classes, 4 * self.ch))
        return nn.Dense(1, name="linear")(h)[:, 0] + jnp.sum(table[y] * h, axis=1)
