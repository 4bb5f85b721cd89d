"""StyleGAN2 building blocks in Flax linen, NHWC float32, named after rosinality's modules.

Weights are stored raw (N(0, 1) at init) and the equalised-learning-rate gains are applied at run
time, exactly as in the PyTorch references, so conversion is a rename plus layout transposes.

References:
  Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020:
  modulation / demodulation, Eq. (1)-(3); FIR resampling with the [1, 3, 3, 1] filter.
  rosinality/stylegan2-pytorch model.py and op/upfirdn2d.py (upfirdn2d_native).
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

BLUR_KERNEL = (1, 3, 3, 1)
SQRT2 = math.sqrt(2.0)
_DN = ("NHWC", "HWIO", "NHWC")


def make_kernel(k: Sequence[float] = BLUR_KERNEL) -> np.ndarray:
    """Normalised 2-D FIR filter: outer product of ``k`` with itself, summing to 1. [K, K]."""
    k = np.asarray(k, dtype=np.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x: jax.Array, kernel: np.ndarray, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> jax.Array:
    """Upsample by zero insertion, pad (or crop), convolve with a FIR filter, downsample.

    Matches ``upfirdn2d_native`` (a true convolution, i.e. the filter is flipped).

    Args:
      x: float32 [N, H, W, C].
      kernel: [kh, kw] filter (numpy, static).
      up, down: integer factors, the same along H and W.
      pad: (pad0, pad1) applied on both axes after upsampling; negative values crop.

    Returns:
      [N, (H*up + pad0 + pad1 - kh) // down + 1, ..., C].
    """
    c = x.shape[-1]
    p0, p1 = pad
    cfg = (p0, p1 + up - 1, up - 1)
    x = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), cfg, cfg, (0, 0, 0)])
    w = np.ascontiguousarray(np.asarray(kernel, np.float32)[::-1, ::-1])
    w = jnp.asarray(np.tile(w[:, :, None, None], (1, 1, 1, c)))
    return lax.conv_general_dilated(
        x, w, (down, down), "VALID", dimension_numbers=_DN, feature_group_count=c
    )


def upsample(x: jax.Array, factor: int = 2) -> jax.Array:
    """rosinality ``Upsample``: 2x FIR upsampling of a skip image, gain factor**2."""
    p = len(BLUR_KERNEL) - factor
    return upfirdn2d(x, make_kernel() * factor**2, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2))


def blur(x: jax.Array, pad: tuple[int, int], upsample_factor: int = 1) -> jax.Array:
    """rosinality ``Blur``: FIR filter with the given padding (gain factor**2 after upsampling)."""
    return upfirdn2d(x, make_kernel() * upsample_factor**2, pad=pad)


def fused_leaky_relu(x: jax.Array, bias: jax.Array | None = None, negative_slope: float = 0.2,
                     scale: float = SQRT2) -> jax.Array:
    """leaky_relu(x + bias, 0.2) * sqrt(2): rosinality ``fused_leaky_relu`` / NVlabs lrelu bias_act."""
    if bias is not None:
        x = x + bias
    return jnp.where(x >= 0, x, x * negative_slope) * scale


def clamp(x: jax.Array, value: float | None) -> jax.Array:
    """NVlabs ``conv_clamp``: clips activations to [-value, value]; identity when None."""
    return x if value is None else jnp.clip(x, -value, value)


class EqualLinear(nn.Module):
    """Equalised-lr dense layer: y = x (W c) + b lr_mul, c = lr_mul / sqrt(in_dim).

    Params: ``kernel`` [in_dim, out_dim] (torch ``weight`` transposed), ``bias`` [out_dim].
    """

    in_dim: int
    out_dim: int
    use_bias: bool = True
    bias_init: float = 0.0
    lr_mul: float = 1.0
    activation: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        init = lambda key, shape: jax.random.normal(key, shape) / self.lr_mul
        w = self.param("kernel", init, (self.in_dim, self.out_dim))
        out = x @ (w * (self.lr_mul / math.sqrt(self.in_dim)))
        b = None
        if self.use_bias:
            b = self.param("bias", nn.initializers.constant(self.bias_init), (self.out_dim,))
            b = b * self.lr_mul
        if self.activation:
            return fused_leaky_relu(out, b)
        return out if b is None else out + b


class EqualConv2d(nn.Module):
    """Equalised-lr convolution; ``kernel`` [k, k, in, out] (torch OIHW -> HWIO), ``bias`` [out]."""

    in_channel: int
    out_channel: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel_size
        w = self.param("kernel", nn.initializers.normal(1.0), (k, k, self.in_channel, self.out_channel))
        w = w * (1.0 / math.sqrt(self.in_channel * k * k))
        p = self.padding
        out = lax.conv_general_dilated(x, w, (self.stride,) * 2, [(p, p), (p, p)],
                                       dimension_numbers=_DN)
        if self.use_bias:
            out = out + self.param("bias", nn.initializers.zeros, (self.out_channel,))
        return out


class FusedLeakyReLU(nn.Module):
    """Bias + leaky ReLU(0.2) + gain sqrt(2); param ``bias`` [channel]."""

    channel: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return fused_leaky_relu(x, self.param("bias", nn.initializers.zeros, (self.channel,)))


class ModulatedConv2d(nn.Module):
    """Modulated convolution with optional demodulation and 2x FIR upsampling.

    Computed as scale-activations / shared conv / scale-outputs (NVlabs ``fused_modconv=False``),
    which equals the grouped per-sample-weight form of the references:
    s = A(w) (Eq. 1), w' = c W s, demod d_o = rsqrt(sum_{i,k} w'^2 + 1e-8) (Eq. 3).

    Params: ``kernel`` [k, k, in, out] (torch [1, out, in, k, k]), ``modulation`` (EqualLinear).
    """

    in_channel: int
    out_channel: int
    kernel_size: int
    style_dim: int
    demodulate: bool = True
    upsample: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, style: jax.Array) -> jax.Array:
        """x: [N, H, W, in]; style: [N, style_dim] -> [N, H', W', out] (H' = 2H if upsample)."""
        k = self.kernel_size
        shape = (k, k, self.in_channel, self.out_channel)
        w = self.param("kernel", nn.initializers.normal(1.0), shape)
        w = w * (1.0 / math.sqrt(self.in_channel * k * k))
        s = EqualLinear(self.style_dim, self.in_channel, bias_init=1.0, name="modulation")(style)
        x = x * s[:, None, None, :]
        if self.upsample:
            # torch conv_transpose2d(stride 2) == dilated input, full padding, flipped kernel.
            x = lax.conv_general_dilated(x, w[::-1, ::-1], (1, 1), [(k - 1, k - 1)] * 2,
                                         lhs_dilation=(2, 2), dimension_numbers=_DN)
            p = (len(BLUR_KERNEL) - 2) - (k - 1)
            x = blur(x, ((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2)
        else:
            x = lax.conv_general_dilated(x, w, (1, 1), [(k // 2, k // 2)] * 2,
                                         dimension_numbers=_DN)
        if self.demodulate:
            # sum_{kh,kw,i} (W s_i)^2 = s^2 @ sum_{kh,kw} W^2, one [N, in] x [in, out] product.
            d = lax.rsqrt(jnp.square(s) @ jnp.sum(jnp.square(w), axis=(0, 1)) + 1e-8)
            x = x * d[:, None, None, :]
        return x


class NoiseInjection(nn.Module):
    """x + weight * noise; param ``weight`` [1] (NVlabs ``noise_strength``)."""

    @nn.compact
    def __call__(self, x: jax.Array, noise: jax.Array | None) -> jax.Array:
        weight = self.param("weight", nn.initializers.zeros, (1,))
        return x if noise is None else x + weight * noise


class ConstantInput(nn.Module):
    """Learned 4x4 input; param ``input`` [1, size, size, channel] (torch [1, C, 4, 4])."""

    channel: int
    size: int = 4

    @nn.compact
    def __call__(self, batch: int) -> jax.Array:
        const = self.param("input", nn.initializers.normal(1.0), (1, self.size, self.size, self.channel))
        return jnp.broadcast_to(const, (batch,) + const.shape[1:])
