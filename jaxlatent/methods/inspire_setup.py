"""Networks and feature maps of the inspirational-generation method (both domains).

- ``shapes``: the shipped class-conditional PGAN G and D on 32 px shapes
  (``shapes_pgan_generator`` / ``shapes_pgan_discriminator``, AC-GAN: D's column 0 is realism)
  and, for C_S, the conv stages of the shipped ``shapes_features`` encoder (`shapes_feature_maps`).
  Why that network: it is trained on this domain without labels (a denoising autoencoder), so its
  three ReLU stages (32×32×32, 16×16×64, 8×8×128 at 128 px input) carry colour, edges and shape
  as VGG19's relu2_1..relu4_1 do for photographs, and it is independent of the evaluation
  classifier. A random-init VGG19 would give statistics of untrained filters, and no ImageNet
  weights can be downloaded here.
- ``pgan_celebahq``: converted pytorch_GAN_zoo PGAN (avgG, optionally netG for the official
  mismatch, and netD) and torchvision VGG19 (`vgg_feature_maps`), paths from the command line.

Both resize G(z) and the target with torch bilinear (align_corners False, no antialias) to 128 px
before the feature network, as the official ``FeatureTransform(size=128)``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent import preprocess
from jaxlatent.models.layers import avg_pool2
from jaxlatent.models.registry import Model, load_model
from jaxlatent.objectives import inspire as crit

FEATURE_SIZE = 128  # official --size
CONVERT = {
    "generator": "python weights_convert/pgan.py --input celebaHQ_256.pth --output "
                 "pgan-celebahq-256.npz --discriminator-output pgan-celebahq-256-D.npz",
    "search_generator": "python weights_convert/pgan.py --input celebaHQ_256.pth --net netG "
                        "--output pgan-celebahq-256-netG.npz",
    "discriminator": "python weights_convert/pgan.py --input celebaHQ_256.pth --output "
                     "pgan-celebahq-256.npz --discriminator-output pgan-celebahq-256-D.npz",
    "features": "python weights_convert/vgg.py --arch vgg19 --input vgg19-dcbb9e9d.pth "
                "--output vgg19.npz",
}


class Nets(NamedTuple):
    generator: Model  # renders the results (the zoo's avgG)
    search_generator: Model  # optimised through (= generator unless the official mismatch)
    discriminator: Model | None
    features: Model | None
    feature_maps: Callable | None  # (f_params, images [N, H, W, 3] in [-1, 1]) -> [maps...]


def shapes_feature_maps(params, images: jax.Array) -> list[jax.Array]:
    """ReLU outputs of the 3 conv stages of the ``shapes_features`` encoder at 128 px.

    ``images [N, H, W, 3]`` in [-1, 1] -> ``[[N, 32, 32, 32], [N, 16, 16, 64], [N, 8, 8, 128]]``
    (the encoder's own ops: input in [0, 1], 2×2 average pool, ``2x − 1``, 4×4 stride-2 convs).
    """
    x = preprocess.resize(images, FEATURE_SIZE, "torch_bilinear")
    h = 2.0 * avg_pool2((x + 1.0) / 2.0) - 1.0
    maps = []
    for i in range(3):
        conv = params["encoder"][f"conv{i}"]
        h = jax.lax.conv_general_dilated(h, conv["kernel"], (2, 2), ((1, 1), (1, 1)),
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jax.nn.relu(h + conv["bias"])
        maps.append(h)
    return maps


def vgg_feature_maps(model: Model, layers) -> Callable:
    """VGG19 taps ``layers`` of the 128 px, ImageNet-normalised image (FeatureTransform)."""
    layers = tuple(layers)

    def feature_maps(params, images):
        x = preprocess.resize(images, FEATURE_SIZE, "torch_bilinear")
        out = model.apply_fn(params, preprocess.normalize_imagenet(x, "[-1,1]"), outputs=layers)
        return [out[name] for name in layers]

    return feature_maps


def check_paths(config) -> None:
    """Raises naming every converted checkpoint the real-checkpoint domain lacks, with commands."""
    need = [("generator", "PGAN celebAHQ-256 generator (avgG)"),
            ("features", "torchvision VGG19 (vgg19-dcbb9e9d.pth)")]
    if weights_of(config)["realism"]:
        need.append(("discriminator", "PGAN celebAHQ-256 discriminator (netD)"))
    if config.get("search_generator", {}).get("name"):
        need.append(("search_generator", "PGAN celebAHQ-256 netG (official mismatch)"))
    missing = [f"--config.{name}.path ({what}; make it with: {CONVERT[name]})"
               for name, what in need if not config[name].path]
    missing += [f"--config.{name}.path={config[name].path!r} does not exist ({what}; make it "
                f"with: {CONVERT[name]})" for name, what in need
                if config[name].path and not os.path.isfile(config[name].path)]
    if not config.targets.images:
        missing.append("--config.targets.images (comma-separated target image files)")
    if missing:
        raise FileNotFoundError("inspirational generation on pgan_celebahq needs local files "
                                "(jaxlatent downloads no weights): " + "; ".join(missing))


def weights_of(config) -> dict:
    """Table 1 preset ``config.criterion.preset`` with ``criterion.weights`` overrides."""
    preset = config.criterion.preset
    if preset not in crit.WEIGHT_PRESETS:
        raise ValueError(f"unknown criterion preset {preset!r}; known: "
                         f"{', '.join(crit.WEIGHT_PRESETS)}")
    return crit.check_weights({**crit.WEIGHT_PRESETS[preset], **dict(config.criterion.weights)})


def _model(spec, key=None) -> Model:
    return load_model(spec["name"], spec.get("path") or None, **({"key": key} if key else {}))


def load_networks(config, key: jax.Array | None = None) -> Nets:
    """The networks of ``config.domain``; ``key`` initialises all at random (tests only)."""
    w = weights_of(config)
    if config.domain == "pgan_celebahq" and key is None:
        check_paths(config)
    elif config.domain not in ("shapes", "pgan_celebahq"):
        raise ValueError(f"unknown inspire domain {config.domain!r}; known: shapes, pgan_celebahq")
    keys = jax.random.split(key, 4) if key is not None else [None] * 4
    g = _model(config.generator, keys[0])
    search_g = _model(config.search_generator, keys[1]) if config.search_generator.name else g
    d = _model(config.discriminator, keys[2]) if w["realism"] else None
    f, maps = None, None
    if w["style"]:
        if config.features.name == "vgg19":
            extra = dict(config.features.get("options", {}))
            f = load_model("vgg19", config.features.path or None,
                           **({"key": keys[3]} if key is not None else {}), **extra)
            maps = vgg_feature_maps(f, crit.VGG_LAYERS[config.criterion.layers])
        elif config.features.name == "shapes_features":
            f, maps = _model(config.features, keys[3]), shapes_feature_maps
        else:
            raise ValueError(f"unknown feature network {config.features.name!r}; known: "
                             "shapes_features, vgg19")
    return Nets(g, search_g, d, f, maps)


def network_ctx(nets: Nets) -> dict[str, Any]:
    """Shared ctx of the objective: parameters only (traced, never compile-time constants)."""
    ctx = {"g_params": nets.search_generator.params}
    if nets.discriminator is not None:
        ctx["d_params"] = nets.discriminator.params
    if nets.features is not None:
        ctx["f_params"] = nets.features.params
    return ctx


def latent_dims(nets: Nets) -> tuple[int, int]:
    """(noise dimension, class dimension) of the generator's input [z, one-hot]."""
    info = nets.generator.info
    cfg = info.get("config", info)
    classes = int(cfg.get("category_dim", 0))
    return int(cfg["dim_latent"]) - classes, classes


def make_objective(config, nets: Nets, class_mode: str):
    """Eq. 6 for ``config`` with the networks of ``nets`` (``class_mode``: continuous | fixed)."""
    d = nets.discriminator
    return crit.make_objective(
        nets.search_generator.apply_fn,
        None if d is None else d.apply_fn,
        nets.feature_maps, weights_of(config), style_form=config.criterion.style_form,
        class_mode=class_mode, realism_column=int(config.criterion.realism_column))


def render(nets: Nets, latents: jax.Array, class_codes: jax.Array | None, class_mode: str):
    """Images of the rendering generator (avgG) for best latents ``[M, D]``, in [-1, 1]."""
    z = latents if class_mode == "continuous" else jnp.concatenate([latents, class_codes], -1)
    g = nets.generator
    return jax.jit(g.apply_fn)(g.params, z)
