"""BigGAN-deep generator of huggingface/pytorch-pretrained-BigGAN (TF-Hub weights), NHWC.

References:
  Brock, Donahue, Simonyan. "Large Scale GAN Training for High Fidelity Natural Image
  Synthesis", ICLR 2019, Appendix B.2 (BigGAN-deep). Layout of ``pytorch_pretrained_biggan``
  ``model.py`` (``BigGAN``, ``Generator``, ``GenBlock``, ``BigGANBatchNorm``, ``SelfAttn``).

Batch norm uses 51 stored (mean, var) sets indexed by the truncation in [0, 1]; the reference
interpolates with the fractional part weighting the *lower* index, reproduced here exactly.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlatent.models.biggan.layers import Table, attention_core, conv, max_pool2x, upsample2x


def truncation_stats(means: jax.Array, vars_: jax.Array, truncation: float):
    """Picks the batch-norm statistics for ``truncation`` as ``BigGANBatchNorm.forward`` does.

    Args:
      means, vars_: ``[n_stats, C]`` stored statistics.
      truncation: Python float in (0, 1] (static; the reference uses ``math.modf``).
    """
    if isinstance(truncation, jax.core.Tracer):
        raise TypeError("truncation must be a Python float (it selects stored BN statistics)")
    coef, start = math.modf(float(truncation) / (1.0 / (means.shape[0] - 1)))
    start = int(start)
    if coef == 0.0:
        return means[start], vars_[start]
    return (means[start] * coef + means[start + 1] * (1 - coef),
            vars_[start] * coef + vars_[start + 1] * (1 - coef))


class BigGANBatchNorm(nn.Module):
    """Eval batch norm with truncation-indexed statistics; conditional (1 + scale(c), offset(c))."""

    features: int
    conditional: bool = True
    n_stats: int = 51
    eps: float = 1e-4

    @nn.compact
    def __call__(self, x: jax.Array, truncation: float, cond: jax.Array | None = None):
        """x: ``[N, H, W, C]``; cond: ``[N, D]`` when conditional. Returns ``[N, H, W, C]``."""
        shape = (self.n_stats, self.features)
        means = self.variable("batch_stats", "running_means", jnp.zeros, shape).value
        vars_ = self.variable("batch_stats", "running_vars", jnp.ones, shape).value
        mean, var = truncation_stats(means, vars_, truncation)
        if self.conditional:
            weight = 1.0 + nn.Dense(self.features, use_bias=False, name="scale")(cond)
            bias = nn.Dense(self.features, use_bias=False, name="offset")(cond)
            weight, bias = weight[:, None, None, :], bias[:, None, None, :]
        else:
            weight = self.param("weight", nn.initializers.ones, (self.features,))
            bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return (x - mean) / jnp.sqrt(var + self.eps) * weight + bias


class GenBlock(nn.Module):
    """Bottleneck residual block: 4 x (bn-relu-conv) with 1x1/3x3/3x3/1x1 kernels."""

    in_size: int
    out_size: int
    up_sample: bool = False
    reduction_factor: int = 4
    n_stats: int = 51
    eps: float = 1e-4

    @nn.compact
    def __call__(self, x: jax.Array, cond: jax.Array, truncation: float) -> jax.Array:
        """x: ``[N, H, W, in_size]``; cond ``[N, D]``. Returns ``[N, H', W', out_size]``."""
        mid = self.in_size // self.reduction_factor
        sizes = [(self.in_size, mid, 1), (mid, mid, 3), (mid, mid, 3), (mid, self.out_size, 1)]
        h = x
        for i, (c_in, c_out, k) in enumerate(sizes):
            bn = BigGANBatchNorm(c_in, True, self.n_stats, self.eps, name=f"bn_{i}")
            h = nn.relu(bn(h, truncation, cond))
            if i == 1 and self.up_sample:
                h = upsample2x(h)
            h = conv(c_out, k, f"conv_{i}")(h)
        if self.in_size != self.out_size:
            x = x[..., : x.shape[-1] // 2]
        if self.up_sample:
            x = upsample2x(x)
        return h + x


class SelfAttn(nn.Module):
    """SAGAN self-attention of the TF-Hub BigGAN (``SelfAttn``): x + gamma * o_conv(attn)."""

    in_channels: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """x: ``[N, H, W, C]``. Returns ``[N, H, W, C]``."""
        ch = self.in_channels
        theta = conv(ch // 8, 1, "snconv1x1_theta", use_bias=False)(x)
        phi = max_pool2x(conv(ch // 8, 1, "snconv1x1_phi", use_bias=False)(x))
        g = max_pool2x(conv(ch // 2, 1, "snconv1x1_g", use_bias=False)(x))
        o = conv(ch, 1, "snconv1x1_o_conv", use_bias=False)(attention_core(theta, phi, g))
        gamma = self.param("gamma", nn.initializers.zeros, (1,))
        return x + gamma * o


class DeepGenerator(nn.Module):
    """``Generator``: linear from [z, embed] to 4x4x16ch, GenBlocks, bn-relu-conv, first 3 ch, tanh."""

    channel_width: int = 128
    layers: tuple = ()
    attention_layer_position: int = 8
    n_stats: int = 51
    eps: float = 1e-4

    @nn.compact
    def __call__(self, cond: jax.Array, truncation: float) -> jax.Array:
        """cond: ``[N, z_dim + embed_dim]``. Returns ``[N, R, R, 3]`` in [-1, 1]."""
        ch = self.channel_width
        h = nn.Dense(4 * 4 * 16 * ch, name="gen_z")(cond).reshape(-1, 4, 4, 16 * ch)
        index = 0
        for i, (up, c_in, c_out) in enumerate(self.layers):
            if i == self.attention_layer_position:
                h = SelfAttn(ch * c_in, name=f"layers_{index}")(h)
                index += 1
            block = GenBlock(ch * c_in, ch * c_out, bool(up), 4, self.n_stats, self.eps,
                             name=f"layers_{index}")
            h = block(h, cond, truncation)
            index += 1
        bn = BigGANBatchNorm(ch, False, self.n_stats, self.eps, name="bn")
        h = conv(ch, 3, "conv_to_rgb")(nn.relu(bn(h, truncation)))
        return jnp.tanh(h[..., :3])


class BigGANDeep(nn.Module):
    """``BigGAN``: the class embedding (1000 -> 128, no bias) is kept as a table; input is embedded.

    Attributes mirror ``BigGANConfig`` (``layers`` as a tuple of ``(up, in_mult, out_mult)``).
    """

    z_dim: int = 128
    class_embed_dim: int = 128
    channel_width: int = 128
    num_classes: int = 1000
    layers: tuple = ()
    attention_layer_position: int = 8
    n_stats: int = 51
    eps: float = 1e-4

    @nn.compact
    def __call__(self, z: jax.Array, y: jax.Array, truncation: float = 1.0) -> jax.Array:
        """Generates images.

        Args:
          z: float32 ``[N, z_dim]`` (the reference samples it truncated to ``truncation``).
          y: float32 ``[N, class_embed_dim]`` embedded class vectors (``embeddings(one_hot)``).
          truncation: Python float in (0, 1]; selects the batch-norm statistics.

        Returns:
          float32 ``[N, R, R, 3]`` in [-1, 1].
        """
        if not 0 < truncation <= 1:
            raise ValueError(f"truncation must be in (0, 1], got {truncation}")
        Table(self.num_classes, self.class_embed_dim, "kernel", name="embeddings")()
        gen = DeepGenerator(self.channel_width, tuple(map(tuple, self.layers)),
                            self.attention_layer_position, self.n_stats, self.eps,
                            name="generator")
        return gen(jnp.concatenate([z, y], axis=1), truncation)
