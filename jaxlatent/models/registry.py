"""One registry for every network jaxlatent can load: embedded shapes models and converted ports.

A config names a model (``config.generator.name = "shapes_generator"``) and, for converted real
checkpoints, a local path (``config.generator.path = "/data/vgg16.npz"``). `load_model` resolves
the name lazily, so importing jaxlatent never imports every architecture.

Builder contract (every entry of `MODELS` points at such a function)::

    build(path: str | None = None, *, key: jax.Array | None = None, **options) -> Model

- ``path`` given: load converted weights (`jaxlatent.params.load_params`) and check them with
  `jaxlatent.params.check_params` (clear error on missing/unexpected keys or shapes).
- ``key`` given and no path: random initialisation (tests, small configs).
- neither: embedded models load their shipped weights; converted models raise a ValueError that
  names the converter script to run.

`Model.apply_fn(params, x, **kw)` is pure and takes batched NHWC float32 inputs (or batched
latents); the rest of the library never sees a Flax Module.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Callable, NamedTuple


class Model(NamedTuple):
    """A loaded network: a pure function, its parameters and static facts about it."""

    apply_fn: Callable[..., Any]
    params: Any
    info: dict


# name -> "module:function". Entries whose module is missing raise a clear error on use.
MODELS: dict[str, str] = {
    # Embedded shapes domain (weights ship in jaxlatent/weights/, trained by configs/train_*.py).
    "shapes_vae": "jaxlatent.models.shapes_vae:build_vae",
    "shapes_generator": "jaxlatent.models.shapes_vae:build_generator",
    "shapes_features": "jaxlatent.models.shapes_features:build",
    "shapes_classifier": "jaxlatent.models.shapes_classifier:build",
    "shapes_flow": "jaxlatent.models.glow:build_shapes_flow",
    # Tiny class-conditional GANs on 32 px shapes (configs/train_gan.py:arch=pgan|biggan).
    "shapes_pgan_generator": "jaxlatent.models.shapes_gans:build_shapes_pgan_generator",
    "shapes_pgan_discriminator": "jaxlatent.models.shapes_gans:build_shapes_pgan_discriminator",
    "shapes_biggan_generator": "jaxlatent.models.shapes_gans:build_shapes_biggan_generator",
    "shapes_biggan_discriminator": "jaxlatent.models.shapes_gans:build_shapes_biggan_discriminator",
    "shapes_biggan_am_generator": "jaxlatent.models.shapes_gans:build_shapes_biggan_am_generator",
    "shapes_biggan_am_classifier": "jaxlatent.models.shapes_gans:build_shapes_biggan_am_classifier",
    # Feature networks and metrics backbones (weights_convert/*.py make the files).
    "vgg16": "jaxlatent.models.vgg:build_vgg16",
    "vgg19": "jaxlatent.models.vgg:build_vgg19",
    "alexnet": "jaxlatent.models.alexnet:build",
    "lpips_alex": "jaxlatent.models.lpips:build_alex",
    "lpips_vgg": "jaxlatent.models.lpips:build_vgg",
    "inception_fid": "jaxlatent.models.inception:build",
    "clip_vit_b32": "jaxlatent.models.clip:build",
    # Generators and discriminators.
    "stylegan2_generator": "jaxlatent.models.stylegan2:build_generator",
    "stylegan2_discriminator": "jaxlatent.models.stylegan2:build_discriminator",
    "biggan": "jaxlatent.models.biggan:build",
    "pgan_generator": "jaxlatent.models.pgan:build_generator",
    "pgan_discriminator": "jaxlatent.models.pgan:build_discriminator",
}


def resolve(name: str) -> Callable[..., Model]:
    """Returns the builder registered under ``name``.

    Raises:
      KeyError: unknown name, listing the valid ones.
    """
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    module_name, fn_name = MODELS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        raise KeyError(f"model {name!r} is registered but {module_name} is not available") from err
    return getattr(module, fn_name)


def load_model(name: str, path: str | None = None, **options: Any) -> Model:
    """Builds the model ``name`` (see the module docstring for ``path`` / ``key`` semantics).

    Raises:
      IsADirectoryError: ``path`` is a directory (the builder reports a missing file).
    """
    builder = resolve(name)
    if path and os.path.isdir(path):
        raise IsADirectoryError(
            f"the weights path {path!r} for model {name!r} is a directory; expected an .npz "
            "file (converted by weights_convert/, or params.npz of a training run)")
    return builder(path, **options)


def available() -> list[str]:
    """Names whose modules import in this installation."""
    names = []
    for name in sorted(MODELS):
        try:
            resolve(name)
        except KeyError:
            continue
        names.append(name)
    return names
