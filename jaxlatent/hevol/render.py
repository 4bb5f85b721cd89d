"""Rendering for HEVOL: any registered generator as ``latents [N, d], classes [N] -> uint8 images``.

One `Renderer` wraps a loaded `jaxlatent.models.registry.Model` and knows how its family takes a
latent and a class:

- VAE decoder (``shapes_vae`` / ``shapes_generator``): ``G(z)``, z ``[N, 6]``, output in [0, 1];
- PGAN (``shapes_pgan_generator``, ``pgan_generator``): ``G(concat(z, one_hot(c)))`` when the
  model has ``category_dim`` classes (AC-GAN), z = the noise part, output in [-1, 1];
- BigGAN (``shapes_biggan_generator``, ``biggan``): ``G(z, embed(c))``, output in [-1, 1];
- StyleGAN2 (``stylegan2_generator``): ``G(z)`` in z space, output in [-1, 1].

A round is rendered by one jitted, batched call (`Renderer.render`); the network parameters are
a traced argument, so a second generator of the same architecture does not recompile.
"""

from __future__ import annotations

import io
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxlatent.models.registry import Model, load_model

SHAPES_CLASSES = ("red triangle", "blue triangle", "red square", "blue square")


def _family(model: Model) -> str:
    info = model.info
    name = str(info.get("name", ""))
    if "decode" in info:
        return "vae"
    if name.startswith("pgan_"):
        return "pgan"
    if name == "biggan":
        return "biggan"
    if "w_dim" in info and "z_dim" in info:
        return "stylegan2"
    raise ValueError(f"HEVOL cannot render the model {name or info!r}: expected a VAE decoder, "
                     "a PGAN, BigGAN or StyleGAN2 generator")


def _spec(model: Model) -> tuple[int, int, tuple, Callable]:
    """``(latent_dim, num_classes, value_range, generate(params, z, classes))`` of a family."""
    family, info = _family(model), model.info
    if family == "vae":
        decode = info["decode"]
        return info["latent_dim"], 0, (0.0, 1.0), lambda p, z, c: decode(p, z)
    if family == "pgan":
        n = int(info["category_dim"])

        def pgan(p, z, c):
            x = jnp.concatenate([z, jax.nn.one_hot(c, n, dtype=z.dtype)], 1) if n else z
            return model.apply_fn(p, x)

        return int(info["noise_dim"]), n, (-1.0, 1.0), pgan
    if family == "biggan":
        from jaxlatent.models.biggan import embed_classes

        return (int(info["z_dim"]), int(info["n_classes"]), (-1.0, 1.0),
                lambda p, z, c: model.apply_fn(p, z, embed_classes(p, c)))
    return int(info["z_dim"]), 0, (-1.0, 1.0), lambda p, z, c: model.apply_fn(p, z)


class Renderer:
    """Images of latents for one generator.

    Attributes:
      latent_dim: d, the size of the evolved latent.
      num_classes: classes of a class-conditional generator (0: unconditional).
      class_names: one label per class.
      resolution: side of the generated images in pixels.
    """

    def __init__(self, model: Model, class_names: tuple[str, ...] = ()):
        self.model = model
        self.latent_dim, self.num_classes, self.value_range, generate = _spec(model)
        lo, hi = self.value_range

        def render(params, z, classes):
            x = (generate(params, z, classes) - lo) / (hi - lo)
            return jnp.round(jnp.clip(x, 0.0, 1.0) * 255.0).astype(jnp.uint8)

        self._render = jax.jit(render)
        if class_names and len(class_names) != self.num_classes:
            raise ValueError(f"{len(class_names)} class names given for a generator with "
                             f"{self.num_classes} classes")
        default = tuple(f"class {i}" for i in range(self.num_classes))
        self.class_names = tuple(class_names) or default
        shape = jax.eval_shape(render, model.params, jnp.zeros((1, self.latent_dim)),
                               jnp.zeros((1,), jnp.int32))
        self.resolution = int(shape.shape[1])

    def render(self, latents, classes) -> np.ndarray:
        """``latents [N, d]``, ``classes [N]`` (unused if unconditional) -> uint8 ``[N, H, W, 3]``.

        One jitted, batched call of the generator.
        """
        latents = jnp.asarray(latents, jnp.float32).reshape(-1, self.latent_dim)
        classes = jnp.broadcast_to(jnp.asarray(classes, jnp.int32), latents.shape[:1])
        return np.asarray(self._render(self.model.params, latents, classes))


def load_renderer(cfg) -> Renderer:
    """A `Renderer` for ``cfg`` (a config's ``generator`` section: name, path, class_names)."""
    model = load_model(cfg["name"], cfg.get("path") or None)
    names = tuple(n.strip() for n in str(cfg.get("class_names", "") or "").split(",") if n.strip())
    renderer = Renderer(model, ())
    if names and len(names) == renderer.num_classes:
        renderer.class_names = names
    return renderer


def png_bytes(image: np.ndarray, max_side: int | None = None) -> bytes:
    """PNG of one uint8 ``[H, W, 3]`` image, shrunk (area filter) to at most ``max_side``."""
    img = Image.fromarray(np.asarray(image, np.uint8))
    if max_side and max(img.size) > max_side:
        img = img.resize((max_side, max_side), Image.Resampling.BOX)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # fast: a round is 28 of them
    return buf.getvalue()
