"""Progressive GAN discriminator (pytorch_GAN_zoo ``DNet``) at a fixed scale, NHWC.

References:
  Karras et al. "Progressive Growing of GANs", ICLR 2018, Table 2 (discriminator) and Sec. 3.
  Column 0 of the output is the realism score; with AC-GAN the next columns are class logits.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from jaxlatent.models.pgan.layers import (EqualizedConv2d, EqualizedLinear, avg_pool2d,
                                          minibatch_stddev)


class DNet(nn.Module):
    """Image ``[N, R, R, dim_input]`` -> scores ``[N, size_decision_layer]``.

    Attributes:
      depth_scale0: channels at 4x4.
      depth_other_scales: channels of each later scale, in growth order.
      size_decision_layer: 1 + number of AC-GAN class columns.
      mini_batch_std: append the minibatch-stddev channel before the 4x4 conv.
      dim_input: image channels.
      alpha: blend with the downsampled input's previous-scale features (0 at the final scale).
      leak: leaky-ReLU slope.
      equalized: equalised learning rate.
    """

    depth_scale0: int = 512
    depth_other_scales: tuple[int, ...] = ()
    size_decision_layer: int = 1
    mini_batch_std: bool = True
    dim_input: int = 3
    alpha: float = 0.0
    leak: float = 0.2
    equalized: bool = True

    def _act(self, x: jax.Array) -> jax.Array:
        return nn.leaky_relu(x, self.leak)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """x: float32 ``[N, R, R, dim_input]``. Returns float32 ``[N, size_decision_layer]``."""
        eq, depths = self.equalized, (self.depth_scale0,) + tuple(self.depth_other_scales)
        n_scales = len(depths) - 1
        # The zoo computes this branch whenever alpha > 0 but merges it only with >1 new scales.
        merge = self.alpha > 0 and n_scales > 1
        if merge:
            y = EqualizedConv2d(depths[-2], 1, eq, name=f"fromRGBLayers_{n_scales - 1}")
            y = self._act(y(avg_pool2d(x)))
        x = self._act(EqualizedConv2d(depths[-1], 1, eq, name=f"fromRGBLayers_{n_scales}")(x))
        for s in reversed(range(n_scales)):
            x = self._act(EqualizedConv2d(depths[s + 1], 3, eq, name=f"scaleLayers_{s}_0")(x))
            x = self._act(EqualizedConv2d(depths[s], 3, eq, name=f"scaleLayers_{s}_1")(x))
            x = avg_pool2d(x)
            if merge and s == n_scales - 1:
                x = self.alpha * y + (1 - self.alpha) * x
        if self.mini_batch_std:
            x = minibatch_stddev(x)
        x = self._act(EqualizedConv2d(self.depth_scale0, 3, eq, name="groupScaleZero_0")(x))
        x = x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)  # torch flattens NCHW
        x = self._act(EqualizedLinear(self.depth_scale0, eq, name="groupScaleZero_1")(x))
        return EqualizedLinear(self.size_decision_layer, eq, name="decisionLayer")(x)
