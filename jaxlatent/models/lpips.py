"""LPIPS v0.1 (alex, vgg) in Flax linen: torchvision backbone taps + the lpips linear heads.

References:
  Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric",
  CVPR 2018; package ``lpips`` 0.1.x, ``LPIPS(net=..., version="0.1")`` in eval mode.

d(x0, x1) = sum_l mean_hw( sum_c w_lc (f0_lhwc / (||f0_lhw|| + 1e-10) - same for x1)^2 )

where f_l are the ReLU outputs relu1..relu5 (alex) or relu1_2, relu2_2, relu3_3, relu4_3,
relu5_3 (vgg) of the backbone applied after the ScalingLayer (x - shift) / scale. Inputs are
NHWC in **[-1, 1]** (``normalize=True`` maps [0, 1] inputs). No dropout, no resize.

Params: ``net/features_<i>/{kernel,bias}`` (torchvision ``features.<i>``) and
``lin<l>/model_1/kernel`` [1, 1, C, 1] (lpips ``lin<l>.model.1.weight``).
"""

from __future__ import annotations

import functools
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.models.alexnet import AlexNet
from jaxlatent.models.registry import Model
from jaxlatent.models.torchvision_convert import VGG_CFGS
from jaxlatent.models.vgg import VGG, load_or_init

SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
SCALE = np.array([0.458, 0.448, 0.450], np.float32)
TAPS = {"alex": ("relu1", "relu2", "relu3", "relu4", "relu5"),
        "vgg": ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")}
EPS = 1e-10


def normalize_channels(f: jax.Array) -> jax.Array:
    """lpips ``normalize_tensor``: f / (sqrt(sum_c f^2) + 1e-10) over the channel axis (NHWC)."""
    return f / (jnp.sqrt(jnp.sum(f * f, axis=-1, keepdims=True)) + EPS)


class NetLinLayer(nn.Module):
    """lpips ``NetLinLayer``: Dropout (off in eval) then a 1x1 conv to one channel, no bias."""

    @nn.compact
    def __call__(self, d: jax.Array) -> jax.Array:
        return nn.Conv(1, (1, 1), use_bias=False, name="model_1")(d)


class LPIPS(nn.Module):
    """Per-pair LPIPS distance; ``width`` < 1 shrinks the backbone for small test configs."""

    net: str = "alex"
    width: float = 1.0

    @nn.compact
    def __call__(self, x0: jax.Array, x1: jax.Array | None = None):
        """Distance of NHWC [-1, 1] inputs x0, x1 [N, H, W, 3].

        Returns:
          (distance [N], list of the five per-layer terms [N]); with ``x1=None`` instead the list
          of the five backbone taps of ``x0`` (NHWC).
        """
        if self.net == "alex":
            backbone = AlexNet(self.width, name="net")
        else:
            backbone = VGG(VGG_CFGS["vgg16"], self.width, name="net")
        x = x0 if x1 is None else jnp.concatenate([x0, x1], axis=0)  # one pass for both
        got = backbone((x - SHIFT) / SCALE, outputs=TAPS[self.net])
        feats = [got[k] for k in TAPS[self.net]]
        if x1 is None:
            return feats
        n, layers = x0.shape[0], []
        for i, f in enumerate(feats):
            f = normalize_channels(f)
            d = (f[:n] - f[n:]) ** 2
            layers.append(jnp.mean(NetLinLayer(name=f"lin{i}")(d), axis=(1, 2, 3)))
        return sum(layers), layers


def _build(net: str, path=None, *, key=None, width=1.0, image_size=64) -> Model:
    """Registry builders ``lpips_alex`` / ``lpips_vgg`` (contract: `jaxlatent.models.registry`).

    Returns:
      `Model` with ``apply_fn(params, x0, x1, *, normalize=False, per_layer=False)`` -> distance
      float32 [N] (and the list of five per-layer [N] terms when ``per_layer``).
    """
    module = LPIPS(net, width)
    example = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
    backbone = "alexnet-owt-7be5be79.pth" if net == "alex" else "vgg16-397923af.pth"
    cmd = (f"python weights_convert/lpips.py --net {net} --backbone {backbone} "
           f"--output lpips_{net}.npz")
    params, meta = load_or_init(module, f"lpips_{net}", path, key, example, {"x1": example},
                                cmd)

    def apply_fn(params, x0, x1, *, normalize: bool = False, per_layer: bool = False):
        """x0, x1: float32 [N, H, W, 3] in [-1, 1] ([0, 1] with ``normalize=True``)."""
        if normalize:
            x0, x1 = 2 * x0 - 1, 2 * x1 - 1
        dist, layers = module.apply({"params": params}, x0, x1)
        return (dist, layers) if per_layer else dist

    info = {"name": f"lpips_{net}", "version": "0.1", "input": "NHWC float32 in [-1, 1]",
            "meta": meta}
    return Model(apply_fn, params, info)


def taps_fn(net: str, width: float = 1.0):
    """``f(params, x) -> list of the five backbone taps`` (NHWC; for per-layer parity checks)."""
    module = LPIPS(net, width)
    return lambda params, x: module.apply({"params": params}, x)


build_alex = functools.partial(_build, "alex")
build_vgg = functools.partial(_build, "vgg")
