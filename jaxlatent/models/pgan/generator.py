"""Progressive GAN generator (pytorch_GAN_zoo ``GNet``) at a fixed scale, NHWC.

References:
  Karras et al. "Progressive Growing of GANs", ICLR 2018, Table 2 (generator).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlatent.models.pgan.layers import EqualizedConv2d, EqualizedLinear, pixel_norm, upscale2d


class GNet(nn.Module):
    """Latent ``[N, dim_latent]`` -> image ``[N, 4 * 2**S, 4 * 2**S, dim_output]``.

    Attributes:
      dim_latent: noise dims + category dims (AC-GAN one-hot appended to the noise).
      depth_scale0: channels at 4x4.
      depth_other_scales: channels of each later scale (S = its length).
      dim_output: image channels.
      alpha: blend with the upscaled previous-scale RGB (0 at the final scale).
      leak: leaky-ReLU slope.
      equalized: equalised learning rate.
      tanh: output activation (the zoo's MSE/DCGAN losses); identity otherwise.
    """

    dim_latent: int = 512
    depth_scale0: int = 512
    depth_other_scales: tuple[int, ...] = ()
    dim_output: int = 3
    alpha: float = 0.0
    leak: float = 0.2
    equalized: bool = True
    tanh: bool = False

    def _act(self, x: jax.Array) -> jax.Array:
        return nn.leaky_relu(x, self.leak)

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        """z: float32 ``[N, dim_latent]``. Returns float32 ``[N, R, R, dim_output]``."""
        eq, n_scales = self.equalized, len(self.depth_other_scales)
        x = EqualizedLinear(16 * self.depth_scale0, eq, name="formatLayer")(pixel_norm(z))
        x = self._act(x).reshape(z.shape[0], -1, 4, 4).transpose(0, 2, 3, 1)  # torch NCHW view
        x = pixel_norm(self._act(EqualizedConv2d(self.depth_scale0, 3, eq,
                                                 name="groupScale0_0")(pixel_norm(x))))
        blend = self.alpha > 0 and n_scales > 0
        if blend and n_scales == 1:
            y = upscale2d(EqualizedConv2d(self.dim_output, 1, eq, name="toRGBLayers_0")(x))
        for s, depth in enumerate(self.depth_other_scales):
            x = upscale2d(x)
            for j in range(2):
                x = pixel_norm(self._act(EqualizedConv2d(depth, 3, eq,
                                                         name=f"scaleLayers_{s}_{j}")(x)))
            if blend and s == n_scales - 2:
                y = upscale2d(EqualizedConv2d(self.dim_output, 1, eq,
                                              name=f"toRGBLayers_{n_scales - 1}")(x))
        x = EqualizedConv2d(self.dim_output, 1, eq, name=f"toRGBLayers_{n_scales}")(x)
        if blend:
            x = self.alpha * y + (1.0 - self.alpha) * x
        return jnp.tanh(x) if self.tanh else x
