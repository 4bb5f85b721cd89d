"""StyleGAN2 residual discriminator (config-e/f) in Flax, rosinality layout.

Variables (torch key -> Flax path): ``convs.0`` (fromRGB ConvLayer) -> ``convs_0``;
``convs.{k}.{conv1,conv2,skip}`` -> ``convs_{k}/{conv1,conv2,skip}``; inside a ConvLayer the
torch ``nn.Sequential`` indices become ``conv`` (EqualConv2d) and ``activate`` (FusedLeakyReLU);
``final_conv``, ``final_linear.{0,1}`` -> ``final_linear_{0,1}``.

References:
  Karras et al., CVPR 2020, Fig. 7 (residual D); Karras et al., "Progressive Growing of GANs",
  ICLR 2018, Sec. 3 (minibatch standard deviation). rosinality/stylegan2-pytorch model.py.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlatent.models.stylegan2 import layers
from jaxlatent.models.stylegan2.presets import log2


class ConvLayer(nn.Module):
    """[Blur ->] EqualConv2d [-> bias + lrelu * sqrt(2) -> clamp]; stride 2 when downsampling."""

    in_channel: int
    out_channel: int
    kernel_size: int
    downsample: bool = False
    use_bias: bool = True
    activate: bool = True
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel_size
        if self.downsample:
            p = (len(layers.BLUR_KERNEL) - 2) + (k - 1)
            x = layers.blur(x, ((p + 1) // 2, p // 2))
        x = layers.EqualConv2d(self.in_channel, self.out_channel, k,
                               stride=2 if self.downsample else 1,
                               padding=0 if self.downsample else k // 2,
                               use_bias=self.use_bias and not self.activate, name="conv")(x)
        if self.activate:
            x = layers.FusedLeakyReLU(self.out_channel, name="activate")(x)
            x = layers.clamp(x, self.conv_clamp)
        return x


class ResBlock(nn.Module):
    """(conv2(conv1(x)) + skip(x)) / sqrt(2), halving the resolution."""

    in_channel: int
    out_channel: int
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        out = ConvLayer(self.in_channel, self.in_channel, 3, conv_clamp=self.conv_clamp,
                        name="conv1")(x)
        out = ConvLayer(self.in_channel, self.out_channel, 3, downsample=True,
                        conv_clamp=self.conv_clamp, name="conv2")(out)
        skip = ConvLayer(self.in_channel, self.out_channel, 1, downsample=True, use_bias=False,
                         activate=False, name="skip")(x)
        return (out + skip) / math.sqrt(2.0)


def minibatch_stddev(x: jax.Array, group: int | None = 4) -> jax.Array:
    """Appends the group-wise std feature (one channel) as in rosinality / NVlabs.

    Args:
      x: [N, H, W, C]; sample b belongs to group slot b // (N / G), as torch's reshape(G, -1, ...).
      group: group size G (min(G, N) is used); None = the whole batch.

    Returns:
      [N, H, W, C + 1].
    """
    n, h, w, c = x.shape
    g = n if group is None else min(group, n)
    if n % g:
        raise ValueError(f"batch {n} is not divisible by the minibatch-stddev group size {g}")
    y = x.reshape(g, n // g, h, w, c)
    y = jnp.sqrt(jnp.var(y, axis=0) + 1e-8)  # [n/G, H, W, C]
    y = jnp.mean(y, axis=(1, 2, 3))  # [n/G]
    y = jnp.broadcast_to(y[None, :, None, None, None], (g, n // g, h, w, 1)).reshape(n, h, w, 1)
    return jnp.concatenate([x, y], axis=-1)


class Discriminator(nn.Module):
    """Residual StyleGAN2 discriminator: image [N, size, size, 3] in [-1, 1] -> score [N, 1]."""

    size: int
    channels: tuple[int, ...]  # widths for resolutions 4, 8, ..., size
    mbstd_group: int | None = 4
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, img: jax.Array) -> jax.Array:
        ch = dict(zip([2**i for i in range(2, log2(self.size) + 1)], self.channels))
        clamp = self.conv_clamp
        x = ConvLayer(3, ch[self.size], 1, conv_clamp=clamp, name="convs_0")(img)
        for k, i in enumerate(range(log2(self.size), 2, -1), start=1):
            x = ResBlock(ch[2**i], ch[2 ** (i - 1)], conv_clamp=clamp, name=f"convs_{k}")(x)
        x = minibatch_stddev(x, self.mbstd_group)
        x = ConvLayer(ch[4] + 1, ch[4], 3, conv_clamp=clamp, name="final_conv")(x)
        x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)  # torch flattens NCHW
        x = layers.EqualLinear(ch[4] * 16, ch[4], activation=True, name="final_linear_0")(x)
        return layers.EqualLinear(ch[4], 1, name="final_linear_1")(x)
