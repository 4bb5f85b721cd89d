"""Small layers shared by the embedded models."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def depth_to_space(x: jax.Array) -> jax.Array:
    """[B, H, W, 4C] -> [B, 2H, 2W, C]; channel block (a, b) goes to output pixel (2i+a, 2j+b)."""
    b, h, w, c4 = x.shape
    c = c4 // 4
    return x.reshape(b, h, w, 2, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, 2 * h, 2 * w, c)


def avg_pool2(x: jax.Array) -> jax.Array:
    """2×2 average pooling, [B, H, W, C] -> [B, H/2, W/2, C]."""
    return nn.avg_pool(x, (2, 2), strides=(2, 2))


class ConvTranspose4x4s2(nn.Module):
    """torch ``ConvTranspose2d(kernel_size=4, stride=2, padding=1)``, computed as a sub-pixel conv.

    ``out[2m + a] = Σ_k x[i] · w[k]`` over ``2i − 1 + k = 2m + a``, so each output phase
    ``a ∈ {0, 1}`` (per axis) is a 3-tap conv on the input: phase 0 uses taps (w[3], w[1], 0) at
    offsets (−1, 0, +1), phase 1 uses (0, w[2], w[0]). The four phases are one 3×3 conv with
    4·C_out channels followed by `depth_to_space`. XLA:CPU differentiates this faster than a
    dilated transposed conv, and the parameter is the torch kernel itself
    (``kernel`` [4, 4, C_in, C_out] = torch weight [C_in, C_out, 4, 4] transposed (2, 3, 0, 1)).
    """

    features: int

    @nn.compact
    def __call__(self, x):
        c_in = x.shape[-1]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (4, 4, c_in, self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        taps = jnp.zeros((2, 3, 4))  # [phase, offset, k]: which kernel tap feeds which offset
        taps = taps.at[0, 0, 3].set(1).at[0, 1, 1].set(1).at[1, 1, 2].set(1).at[1, 2, 0].set(1)
        # phase_kernel[dy, dx, cin, a, b, cout] = Σ_{ky, kx} taps[a, dy, ky] taps[b, dx, kx] w[ky, kx]
        phase = jnp.einsum("ayk,bxl,klio->yxiabo", taps, taps, kernel)
        phase = phase.reshape(3, 3, c_in, 4 * self.features)
        y = jax.lax.conv_general_dilated(
            x, phase, (1, 1), [(1, 1), (1, 1)], dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        return depth_to_space(y) + bias
