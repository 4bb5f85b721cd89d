"""Progressive GAN layers in the pytorch_GAN_zoo layout (NHWC, float32).

References:
  Karras, Aila, Laine, Lehtinen. "Progressive Growing of GANs for Improved Quality, Stability,
  and Variation", ICLR 2018: Sec. 4.1 (equalised learning rate), 4.2 (pixel norm),
  3 (minibatch standard deviation). Code: facebookresearch/pytorch_GAN_zoo
  ``models/networks/custom_layers.py`` and ``mini_batch_stddev_module.py``.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp


class EqualizedConv2d(nn.Module):
    """Conv whose *output* (bias included) is scaled by He's constant sqrt(2 / fan_in).

    The GAN zoo computes ``module(x) * c`` (``ConstrainedLayer``), i.e. (W x + b) c, unlike
    StyleGAN which scales W and b separately; the stored weights are the unscaled ones.
    """

    features: int
    kernel_size: int
    equalized: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """x: ``[N, H, W, Cin]``. Returns ``[N, H, W, features]`` ('same' padding)."""
        k, pad = self.kernel_size, self.kernel_size // 2
        y = nn.Conv(self.features, (k, k), padding=((pad, pad), (pad, pad)), name="module")(x)
        return y * math.sqrt(2.0 / (x.shape[-1] * k * k)) if self.equalized else y


class EqualizedLinear(nn.Module):
    """Linear layer with its output scaled by sqrt(2 / fan_in) (``EqualizedLinear``)."""

    features: int
    equalized: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """x: ``[N, Din]``. Returns ``[N, features]``."""
        y = nn.Dense(self.features, name="module")(x)
        return y * math.sqrt(2.0 / x.shape[-1]) if self.equalized else y


def pixel_norm(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    """x / sqrt(mean_c(x^2) + eps) over the last (channel/feature) axis (paper Eq. in Sec. 4.2)."""
    return x * jax.lax.rsqrt(jnp.mean(x**2, axis=-1, keepdims=True) + eps)


def upscale2d(x: jax.Array) -> jax.Array:
    """Nearest 2x upsampling of ``[N, H, W, C]`` (``Upscale2d``)."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def avg_pool2d(x: jax.Array) -> jax.Array:
    """2x2 average pooling with stride 2 of ``[N, H, W, C]``."""
    return nn.avg_pool(x, (2, 2), strides=(2, 2))


def minibatch_stddev(x: jax.Array, group_size: int = 4) -> jax.Array:
    """Appends the minibatch-stddev channel as the GAN zoo's ``miniBatchStdDev`` does.

    Samples are grouped in *contiguous* blocks of ``group_size`` (sample n is in group
    n // group_size); per group the unbiased std over the group (+1e-8 inside the sqrt) is
    averaged over H, W, C. If N is not divisible by the group size, one group of N is used;
    with a group of 1 the channel is zero.

    Args:
      x: ``[N, H, W, C]``.

    Returns:
      ``[N, H, W, C + 1]``.
    """
    n, h, w, _ = x.shape
    size = min(n, group_size)
    if n % size:
        size = n
    if size == 1:
        return jnp.concatenate([x, jnp.zeros((n, h, w, 1), x.dtype)], axis=-1)
    y = jnp.sqrt(jnp.var(x.reshape(n // size, size, h, w, -1), axis=1, ddof=1) + 1e-8)
    y = jnp.repeat(jnp.mean(y.reshape(n // size, -1), axis=1), size)
    return jnp.concatenate([x, jnp.broadcast_to(y[:, None, None, None], (n, h, w, 1))], axis=-1)
