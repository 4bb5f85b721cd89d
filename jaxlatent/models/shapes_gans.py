"""The tiny GANs on 32 px shapes that ship with the package: architectures and builders.

``MODELS`` fixes each shipped model's architecture; ``*_config`` turn it into the configs of the
ports (`jaxlatent.models.pgan`, `.biggan`, `.stylegan2`). The ``build_shapes_*`` functions follow
the registry contract: no argument loads the shipped file, ``path=`` another file written by
``configs/train_gan.py``, ``key=`` a random initialisation of the same architecture.
Training: `jaxlatent.training.gan`; details and measured quality: docs/embedded_gans.md.
"""

from __future__ import annotations

import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlatent import params as params_io
from jaxlatent.models import biggan, embedded, pgan
from jaxlatent.models.biggan.discriminator import BigGANDiscriminator
from jaxlatent.models.registry import Model
from jaxlatent.models.stylegan2 import builders as sg2
from jaxlatent.models.stylegan2 import presets as sg2_presets

N_CLASSES = 4
# Architecture of each shipped (and `key=`-initialised) model; configs/train_gan.py uses these.
MODELS = {
    "pgan": dict(noise_dim=32, depth_scale0=32, depth_other_scales=[32, 16, 16]),
    "biggan": dict(g_ch=8, d_ch=8, dim_z=32, shared_dim=32),
    "stylegan2": dict(style_dim=64, n_mlp=2, channels=[64, 64, 32, 32]),
}



def pgan_config(model: dict, n_classes: int = N_CLASSES) -> dict:
    """`jaxlatent.models.pgan` config of the conditional (AC-GAN) tiny PGAN."""
    return dict(dim_latent=model["noise_dim"] + n_classes, category_dim=n_classes,
                depth_scale0=model["depth_scale0"],
                depth_other_scales=list(model["depth_other_scales"]), dim_output=3, alpha=0.0,
                leak=0.2, equalized=True, mini_batch_std=True, tanh=False,
                size_decision_layer=1 + n_classes)


def biggan_config(model: dict, resolution: int = 32,
                  n_classes: int = N_CLASSES) -> tuple[dict, dict]:
    """(generator config for `jaxlatent.models.biggan`, discriminator config) of the tiny BigGAN."""
    g = dict(arch="biggan", resolution=resolution, G_ch=model["g_ch"], dim_z=model["dim_z"],
             shared_dim=model["shared_dim"], attention="", hier=True, n_classes=n_classes,
             bn_eps=1e-5)
    return g, dict(arch="biggan_discriminator", resolution=resolution, D_ch=model["d_ch"],
                   n_classes=n_classes)


def stylegan2_config(model: dict, resolution: int = 32) -> tuple[dict, dict]:
    """(generator, discriminator) configs of `jaxlatent.models.stylegan2` for the tiny model."""
    sizes = [2**i for i in range(2, resolution.bit_length())]
    channels = dict(zip(sizes, model["channels"]))
    g = sg2_presets.generator_config(resolution, style_dim=model["style_dim"],
                                     n_mlp=model["n_mlp"], channels=channels)
    return g, sg2_presets.discriminator_config(resolution, channels=channels, mbstd_group=4)


def _shipped_path(name: str, path: str | None, key: jax.Array | None) -> str | None:
    if path is not None or key is not None:
        return path
    path = embedded.weights_path(name)
    if not os.path.isfile(path):
        arch = name.split("_")[1]
        raise FileNotFoundError(
            f"weights for {name!r} not found at {path!r}; train them with `python run.py "
            f"--config=configs/train_gan.py:arch={arch} --workdir=runs/train_gan_{arch} "
            f"--config.export=True`")
    return path


def build_biggan_discriminator(path: str | None = None, *, key: jax.Array | None = None,
                               **model: Any) -> Model:
    """`BigGANDiscriminator` from a file written by this module (SN folded) or at random.

    ``apply_fn(params, x [N, R, R, 3] in [-1, 1], y [N] int) -> [N]``.
    """
    if path is not None:
        variables, cfg = params_io.load_params(path)
    elif key is not None:
        cfg = biggan_config({**MODELS["biggan"], **model})[1]
    else:
        raise ValueError("pass path= (a discriminator.npz from configs/train_gan.py) or key=")
    module = BigGANDiscriminator(cfg["D_ch"], cfg["n_classes"])
    r = cfg["resolution"]
    args = (jnp.zeros((2, r, r, 3)), jnp.zeros((2,), jnp.int32))
    if path is None:
        variables = jax.jit(module.init)(key, *args)
    else:
        expected = jax.eval_shape(module.init, jax.random.key(0), *args)
        params_io.check_params(expected, variables, f"BigGAN discriminator {path!r}")
    variables = jax.tree.map(jnp.asarray, variables)
    info = dict(name="biggan_discriminator", config=cfg, resolution=r, n_classes=cfg["n_classes"])
    return Model(lambda params, x, y: module.apply(params, x, y), variables, info)


def build_shapes_pgan_generator(path=None, *, key=None) -> Model:
    """Shipped conditional PGAN G: ``apply_fn(params, concat(z [N, 32], one_hot(c, 4)))``."""
    path = _shipped_path("shapes_pgan_generator", path, key)
    return pgan.build_generator(path, key=key, **({} if path else pgan_config(MODELS["pgan"])))


def build_shapes_pgan_discriminator(path=None, *, key=None) -> Model:
    """Shipped PGAN D: ``apply_fn(params, x [N, 32, 32, 3]) -> [N, 1 + 4]`` (column 0 realism)."""
    path = _shipped_path("shapes_pgan_discriminator", path, key)
    return pgan.build_discriminator(path, key=key, **({} if path else pgan_config(MODELS["pgan"])))


def build_shapes_biggan_generator(path=None, *, key=None) -> Model:
    """Shipped conditional BigGAN G: ``apply_fn(params, z [N, 32], info["embed"](c))``."""
    path = _shipped_path("shapes_biggan_generator", path, key)
    return biggan.build(path, key=key, **({} if path else biggan_config(MODELS["biggan"])[0]))


def build_shapes_biggan_discriminator(path=None, *, key=None) -> Model:
    """Shipped BigGAN projection D (see `build_biggan_discriminator`)."""
    path = _shipped_path("shapes_biggan_discriminator", path, key)
    return build_biggan_discriminator(path, key=key)


def build_shapes_stylegan2_generator(path=None, *, key=None) -> Model:
    """Shipped unconditional StyleGAN2 G (see `jaxlatent.models.stylegan2.build_generator`)."""
    path = _shipped_path("shapes_stylegan2_generator", path, key)
    if path is not None:
        return sg2.build_generator(path)
    g, _ = stylegan2_config(MODELS["stylegan2"])
    return sg2.build_generator(key=key, size=g["size"], style_dim=g["style_dim"],
                               n_mlp=g["n_mlp"], channels=g["channels"])


def build_shapes_stylegan2_discriminator(path=None, *, key=None) -> Model:
    """Shipped StyleGAN2 D (see `jaxlatent.models.stylegan2.build_discriminator`)."""
    path = _shipped_path("shapes_stylegan2_discriminator", path, key)
    if path is not None:
        return sg2.build_discriminator(path)
    _, d = stylegan2_config(MODELS["stylegan2"])
    return sg2.build_discriminator(key=key, size=d["size"], channels=d["channels"], mbstd_group=4)


# BigGAN-AM test bed (docs/biggan_am.md): a tiny BigGAN trained by
# ``configs/train_gan.py:arch=biggan_am`` (red triangles rare, blue squares absent) and the AM
# classifier, a separate 4-class CNN (the evaluation classifier stays `shapes_classifier`).
AM_TRAIN = {"shapes_biggan_am_generator": "arch=biggan_am",
            "shapes_biggan_am_classifier": None}


def _am_shipped(name: str, path: str | None, key) -> str | None:
    if path is not None or key is not None:
        return path
    path = embedded.weights_path(name)
    if not os.path.isfile(path):
        how = ("python -m jaxlatent.training.gan_classifier --export" if AM_TRAIN[name] is None
               else f"python run.py --config=configs/train_gan.py:{AM_TRAIN[name]} "
               "--workdir=runs/train_gan_biggan_am --config.export=True")
        raise FileNotFoundError(f"weights for {name!r} not found at {path!r}; train them with "
                                f"`{how}`")
    return path


def build_shapes_biggan_am_generator(path=None, *, key=None) -> Model:
    """BigGAN-AM's tiny BigGAN G (same architecture as `build_shapes_biggan_generator`)."""
    path = _am_shipped("shapes_biggan_am_generator", path, key)
    return biggan.build(path, key=key, **({} if path else biggan_config(MODELS["biggan"])[0]))


class AMClassifier(nn.Module):
    """4-class CNN on 32 px images in [-1, 1]: conv 16/32/64 (3x3, ReLU, 2x2 max-pool), fc 128.

    Returns ``{"logits": [N, 4], "features": [N, 1024] (conv3 after its pool), "pixels": x}``.
    """

    @nn.compact
    def __call__(self, x: jax.Array) -> dict:
        h = x
        for i, channels in enumerate((16, 32, 64)):
            h = nn.relu(nn.Conv(channels, (3, 3), padding=1, name=f"conv{i + 1}")(h))
            b, hh, ww, c = h.shape
            h = h.reshape(b, hh // 2, 2, ww // 2, 2, c).max(axis=(2, 4))
        features = h.reshape(h.shape[0], -1)
        logits = nn.Dense(N_CLASSES, name="fc2")(nn.relu(nn.Dense(128, name="fc1")(features)))
        return {"logits": logits, "features": features, "pixels": x}


def am_classifier_apply(params, x):
    return AMClassifier().apply({"params": params}, x)


def build_shapes_biggan_am_classifier(path=None, *, key=None) -> Model:
    """The AM classifier: ``apply_fn(params, x [N, 32, 32, 3] in [-1, 1]) -> dict``."""
    path = _am_shipped("shapes_biggan_am_classifier", path, key)
    return embedded.build_embedded(
        "shapes_biggan_am_classifier", AMClassifier(), jnp.zeros((1, 32, 32, 3)),
        am_classifier_apply, path, key, {"resolution": 32, "input_range": (-1.0, 1.0)})
