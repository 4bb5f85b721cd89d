"""BigGAN generator layers in the BigGAN-PyTorch layout (NHWC, float32, eval mode).

References:
  Brock, Donahue, Simonyan. "Large Scale GAN Training for High Fidelity Natural Image
  Synthesis", ICLR 2019. Code: ajbrock/BigGAN-PyTorch ``layers.py`` (GBlock, ccbn, bn,
  Attention). Spectral normalisation is folded into the kernels by the converter, so every
  conv/linear here is a plain one.

Module and attribute names equal the PyTorch state-dict segments (``bn1.gain.weight`` becomes
``bn1/gain/kernel``), so `convert_biggan_pytorch.convert` is a rename plus transposes.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def upsample2x(x: jax.Array) -> jax.Array:
    """Nearest-neighbour 2x upsampling of ``[N, H, W, C]`` (torch ``F.interpolate`` default)."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def max_pool2x(x: jax.Array) -> jax.Array:
    """2x2 max pooling with stride 2 of ``[N, H, W, C]``."""
    return nn.max_pool(x, (2, 2), strides=(2, 2))


def conv(features: int, kernel: int, name: str, use_bias: bool = True) -> nn.Conv:
    """A stride-1 'same' conv as in the reference (padding kernel // 2)."""
    pad = kernel // 2
    return nn.Conv(features, (kernel, kernel), padding=((pad, pad), (pad, pad)),
                   use_bias=use_bias, name=name)


class Table(nn.Module):
    """Holds a class-embedding table without using it in the forward pass.

    BigGAN takes the embedded class vector as input (so it can be optimised); the table is kept in
    the params so `embed_classes` can look classes up.
    """

    num: int
    features: int
    param_name: str = "embedding"

    @nn.compact
    def __call__(self) -> jax.Array:
        init = nn.initializers.normal(1.0)
        return self.param(self.param_name, init, (self.num, self.features))


def _stats(module: nn.Module, features: int) -> tuple[jax.Array, jax.Array]:
    mean = module.variable("batch_stats", "stored_mean", jnp.zeros, (features,))
    var = module.variable("batch_stats", "stored_var", jnp.ones, (features,))
    return mean.value, var.value


class CCBN(nn.Module):
    """Class-conditional batch norm, eval mode (``layers.ccbn``, norm_style 'bn').

    out = (x - mu) / sqrt(var + eps) * (1 + W_g y) + W_b y, with stored running statistics.

    Attributes:
      features: channels C of ``x``.
      eps: batch-norm epsilon (``BN_eps``).
    """

    features: int
    eps: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """x: ``[N, H, W, C]``; y: ``[N, D]`` conditioning vector. Returns ``[N, H, W, C]``."""
        gain = 1.0 + nn.Dense(self.features, use_bias=False, name="gain")(y)
        bias = nn.Dense(self.features, use_bias=False, name="bias")(y)
        mean, var = _stats(self, self.features)
        out = (x - mean) / jnp.sqrt(var + self.eps)
        return out * gain[:, None, None, :] + bias[:, None, None, :]


class BN(nn.Module):
    """Unconditional eval-mode batch norm with ``gain``/``bias`` (``layers.bn``)."""

    features: int
    eps: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """x: ``[N, H, W, C]``. Returns ``[N, H, W, C]``."""
        gain = self.param("gain", nn.initializers.ones, (self.features,))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        mean, var = _stats(self, self.features)
        return (x - mean) / jnp.sqrt(var + self.eps) * gain + bias


class GBlock(nn.Module):
    """Residual up-block: bn-relu-up-conv3-bn-relu-conv3, plus a 1x1 shortcut (``layers.GBlock``)."""

    in_channels: int
    out_channels: int
    upsample: bool = True
    eps: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """x: ``[N, H, W, Cin]``; y: ``[N, D]``. Returns ``[N, 2H, 2W, Cout]`` when upsampling."""
        h = nn.relu(CCBN(self.in_channels, self.eps, name="bn1")(x, y))
        if self.upsample:
            h, x = upsample2x(h), upsample2x(x)
        h = conv(self.out_channels, 3, "conv1")(h)
        h = nn.relu(CCBN(self.out_channels, self.eps, name="bn2")(h, y))
        h = conv(self.out_channels, 3, "conv2")(h)
        if self.in_channels != self.out_channels or self.upsample:
            x = conv(self.out_channels, 1, "conv_sc")(x)
        return h + x


def attention_core(theta: jax.Array, phi: jax.Array, g: jax.Array) -> jax.Array:
    """SAGAN attention with 2x2-max-pooled keys/values (Zhang et al. 2019, Eq. 1-2).

    Args:
      theta: ``[N, H, W, C/8]`` queries.
      phi: ``[N, H/2, W/2, C/8]`` pooled keys.
      g: ``[N, H/2, W/2, C/2]`` pooled values.

    Returns:
      ``[N, H, W, C/2]``: softmax(theta phi^T) g, spatial positions flattened row-major as in torch.
    """
    n, h, w, _ = theta.shape
    q = theta.reshape(n, h * w, -1)
    k = phi.reshape(n, (h // 2) * (w // 2), -1)
    v = g.reshape(n, (h // 2) * (w // 2), -1)
    beta = jax.nn.softmax(jnp.einsum("nqc,nkc->nqk", q, k), axis=-1)
    return jnp.einsum("nqk,nkc->nqc", beta, v).reshape(n, h, w, -1)


class Attention(nn.Module):
    """Self-attention block of BigGAN-PyTorch (``layers.Attention``): x + gamma * o(attn)."""

    ch: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """x: ``[N, H, W, ch]``. Returns ``[N, H, W, ch]``."""
        theta = conv(self.ch // 8, 1, "theta", use_bias=False)(x)
        phi = max_pool2x(conv(self.ch // 8, 1, "phi", use_bias=False)(x))
        g = max_pool2x(conv(self.ch // 2, 1, "g", use_bias=False)(x))
        o = conv(self.ch, 1, "o", use_bias=False)(attention_core(theta, phi, g))
        gamma = self.param("gamma", nn.initializers.zeros, ())
        return gamma * o + x
