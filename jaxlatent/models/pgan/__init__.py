"""Progressive GAN (pytorch_GAN_zoo) generator and discriminator at a fixed scale.

Registry names ``pgan_generator`` / ``pgan_discriminator``::

    g = build_generator("/data/pgan_celebahq256.npz")   # weights_convert/pgan.py --net avgG
    d = build_discriminator("/data/pgan_celebahq256_D.npz")
    x = g.apply_fn(g.params, z)                          # z [N, dim_latent] -> [N, 256, 256, 3]
    realism = d.apply_fn(d.params, x)[:, 0]              # AC-GAN class logits in columns 1:

With class conditioning (AC-GAN), z is the noise concatenated with a one-hot of
``info["category_dim"]`` classes, as the zoo's ``buildNoiseData`` does.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.models.pgan.discriminator import DNet
from jaxlatent.models.pgan.generator import GNet
from jaxlatent.models.registry import Model
from jaxlatent.params import check_params, load_params

__all__ = ["DNet", "GNet", "PRESETS", "build_discriminator", "build_generator", "make_generator",
           "make_discriminator"]

PRESETS = {
    # hub "celebAHQ-256": 7 scales, WGAN-GP (identity output), minibatch stddev, unconditional.
    "pgan-celebahq-256": dict(dim_latent=512, category_dim=0, depth_scale0=512,
                              depth_other_scales=[512, 512, 512, 256, 128, 64], dim_output=3,
                              alpha=0.0, leak=0.2, equalized=True, mini_batch_std=True,
                              tanh=False, size_decision_layer=1),
    # A tiny class-conditional config (3 classes, 16 px) that trains on a CPU.
    "pgan-tiny-cond": dict(dim_latent=32 + 3, category_dim=3, depth_scale0=32,
                           depth_other_scales=[32, 16], dim_output=3, alpha=0.0, leak=0.2,
                           equalized=True, mini_batch_std=True, tanh=False,
                           size_decision_layer=1 + 3),
}


def make_generator(cfg: dict) -> GNet:
    """`GNet` for a config (see `convert.config_from_zoo`)."""
    return GNet(cfg["dim_latent"], cfg["depth_scale0"], tuple(cfg["depth_other_scales"]),
                cfg["dim_output"], cfg["alpha"], cfg["leak"], cfg["equalized"], cfg["tanh"])


def make_discriminator(cfg: dict) -> DNet:
    """`DNet` for a config (see `convert.config_from_zoo`)."""
    return DNet(cfg["depth_scale0"], tuple(cfg["depth_other_scales"]),
                cfg["size_decision_layer"], cfg["mini_batch_std"], cfg["dim_output"],
                cfg["alpha"], cfg["leak"], cfg["equalized"])


def _build(kind: str, path, key, preset, options) -> Model:
    if path is not None:
        variables, meta = load_params(path)
        cfg = meta["config"]
        if meta.get("net_kind", kind) != kind:
            raise ValueError(f"{path!r} holds a PGAN {meta['net_kind']}, not a {kind}")
    elif key is not None:
        cfg = {**PRESETS[preset], **options}
    else:
        raise ValueError("PGAN has no shipped weights: convert a pytorch_GAN_zoo checkpoint with "
                         "`python weights_convert/pgan.py --input CKPT.pt --output pgan.npz` "
                         "and pass its path, or pass key= for random init")
    module = (make_generator if kind == "generator" else make_discriminator)(cfg)
    side = 4 * 2 ** len(cfg["depth_other_scales"])
    x = (jnp.zeros((1, cfg["dim_latent"])) if kind == "generator"
         else jnp.zeros((2, side, side, cfg["dim_output"])))
    if path is None:
        variables = jax.jit(module.init)(key, x)
    else:
        shapes = jax.eval_shape(module.init, jax.random.key(0), x)
        check_params(jax.tree.map(lambda s: np.broadcast_to(np.zeros((), s.dtype), s.shape),
                                  shapes), variables, f"PGAN {kind} checkpoint {path!r}")
    variables = jax.tree.map(jnp.asarray, variables)

    def apply_fn(params, inputs):
        return module.apply(params, inputs)

    info = dict(name=f"pgan_{kind}", config=cfg, resolution=side, dim_latent=cfg["dim_latent"],
                category_dim=cfg["category_dim"],
                noise_dim=cfg["dim_latent"] - cfg["category_dim"])
    return Model(apply_fn, variables, info)


def build_generator(path: str | None = None, *, key: jax.Array | None = None,
                    preset: str = "pgan-celebahq-256", **options: Any) -> Model:
    """PGAN generator: ``apply_fn(params, z [N, dim_latent]) -> [N, R, R, C]``.

    Args:
      path: ``.npz`` from ``weights_convert/pgan.py`` (metadata holds the config).
      key: random initialisation without a path; ``preset`` (a `PRESETS` name) and ``options``
        (its fields) pick the architecture.
    """
    return _build("generator", path, key, preset, options)


def build_discriminator(path: str | None = None, *, key: jax.Array | None = None,
                        preset: str = "pgan-celebahq-256", **options: Any) -> Model:
    """PGAN discriminator: ``apply_fn(params, x [N, R, R, C]) -> [N, 1 + n_classes]``.

    Column 0 is the realism score ``D(x)[:, 0]`` (used by the inspirational-generation loss).
    The minibatch-stddev channel mixes samples in contiguous groups of 4, so scores of a sample
    depend on its batch neighbours, as in the zoo.
    """
    return _build("discriminator", path, key, preset, options)
