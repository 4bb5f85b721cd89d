"""Target images of inspirational generation: the three kinds of the paper's §4, and files.

- ``reconstruction``: samples of the generator itself, G([z, one-hot(c)]) with z ~ N(0, I);
- ``semi``: rendered shapes of the training domain (`jaxlatent.data.shapes`, b = 0.5), which G
  can only approximately make;
- ``miss``: shapes the data never had (`render_off_domain`: green and grey colours, circles,
  rings, stripes, checkers, a black background, two shapes at once).

Rendered (128 px) and file targets are resized as the official code loads an inspiration: PIL
bilinear on the uint8 image to G's size, then mapped to [-1, 1] (``standardTransform``). Each
target carries the class a user would fix in the "fixed" class mode: its own class for
reconstruction and semi-specified targets, the nearest shape × colour class for miss-specified
ones (`nearest_class`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxlatent.data import shapes

KINDS = ("reconstruction", "semi", "miss")
GREEN, GREY, BLACK = (0.2, 0.65, 0.25), (0.5, 0.5, 0.5), (0.0, 0.0, 0.0)
OFF_DOMAIN = ("green triangle", "grey square", "red circle", "blue ring", "red/blue stripes",
              "green checker", "blue square on black", "grey triangle", "green circle",
              "two shapes")


class Targets(NamedTuple):
    images: np.ndarray  # [T, H, W, 3] float32 in [-1, 1], at G's size
    kinds: list  # [T] one of KINDS (or "file")
    classes: np.ndarray  # [T] int, the class of the "fixed" mode
    names: list  # [T] short captions


def pil_bilinear(images01: np.ndarray, size: int) -> np.ndarray:
    """``[N, h, w, 3]`` in [0, 1] -> uint8 -> PIL bilinear to ``size`` -> float [-1, 1]."""
    out = []
    for img in np.asarray(images01):
        u8 = Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
        out.append(np.asarray(u8.resize((size, size), Image.BILINEAR), np.float32) / 255.0)
    return np.stack(out) * 2.0 - 1.0


def load_image_files(paths, size: int) -> np.ndarray:
    """Target files (any PIL format) as ``[N, size, size, 3]`` in [-1, 1] (PIL bilinear)."""
    images = []
    for path in paths:
        with open(path, "rb") as f:
            img = Image.open(f).convert("RGB")
        images.append(np.asarray(img.resize((size, size), Image.BILINEAR), np.float32) / 255.0)
    return np.stack(images) * 2.0 - 1.0


def nearest_class(shape: int, colour) -> int:
    """The shapes class 2·shape + colour whose colour (red, blue) is nearest in RGB."""
    d = [np.sum((np.asarray(colour) - np.asarray(c)) ** 2) for c in (shapes.RED, shapes.BLUE)]
    return 2 * shape + int(np.argmin(d))


def _mask(shape, labels, i):
    img = shapes.render_one(shape, 0, labels.rotation[i], labels.scale[i], labels.position[i])
    return jnp.any(img < 1.0, axis=-1)


def _disc(labels, i, inner=0.0):
    c = jnp.arange(shapes.SIZE, dtype=jnp.float32) + 0.5
    x, y = jnp.meshgrid(c, c)
    r = jnp.hypot(x - labels.position[i, 0], y - labels.position[i, 1])
    radius = 0.8 * shapes.CIRCUMRADIUS * labels.scale[i]
    return (r <= radius) & (r >= inner * radius)


def _paint(mask, colour, background=(1.0, 1.0, 1.0)):
    return jnp.where(mask[..., None], jnp.asarray(colour), jnp.asarray(background))


def render_one_off_domain(kind: int, labels, i) -> tuple[jax.Array, int]:
    """One off-domain image ``[128, 128, 3]`` in [0, 1] of `OFF_DOMAIN` kind, and its class."""
    c = jnp.arange(shapes.SIZE, dtype=jnp.float32)
    x, y = jnp.meshgrid(c, c)
    name = OFF_DOMAIN[kind]
    if name in ("green triangle", "grey square", "grey triangle"):
        shape = shapes.SQUARE if "square" in name else shapes.TRIANGLE
        colour = GREEN if "green" in name else GREY
        return _paint(_mask(shape, labels, i), colour), nearest_class(shape, colour)
    if name in ("red circle", "green circle", "blue ring"):
        colour = {"red": shapes.RED, "green": GREEN, "blue": shapes.BLUE}[name.split()[0]]
        inner = 0.55 if "ring" in name else 0.0
        return _paint(_disc(labels, i, inner), colour), nearest_class(shapes.SQUARE, colour)
    if name == "red/blue stripes":
        stripes = jnp.mod(jnp.floor((x + y) / 16.0), 2) == 0
        img = jnp.where(stripes[..., None], jnp.asarray(shapes.RED), jnp.asarray(shapes.BLUE))
        return img, nearest_class(shapes.SQUARE, shapes.RED)
    if name == "green checker":
        checks = jnp.mod(jnp.floor(x / 16.0) + jnp.floor(y / 16.0), 2) == 0
        return _paint(checks, GREEN), nearest_class(shapes.SQUARE, GREEN)
    if name == "blue square on black":
        mask = _mask(shapes.SQUARE, labels, i)
        return _paint(mask, shapes.BLUE, BLACK), nearest_class(shapes.SQUARE, shapes.BLUE)
    # two shapes: a small red triangle left of a small blue square
    two = labels._replace(rotation=jnp.full(2, labels.rotation[i]), scale=jnp.full(2, 0.6),
                          position=jnp.asarray([[36.0, 64.0], [92.0, 64.0]]))
    tri, sq = _mask(shapes.TRIANGLE, two, 0), _mask(shapes.SQUARE, two, 1)
    img = jnp.where(sq[..., None], jnp.asarray(shapes.BLUE), _paint(tri, shapes.RED))
    return img, nearest_class(shapes.TRIANGLE, shapes.RED)


def render_off_domain(key: jax.Array, n: int) -> tuple[np.ndarray, np.ndarray, list]:
    """``n`` off-domain images (kinds cycled, random poses).

    Returns:
      ``(images [n, 128, 128, 3] in [0, 1], classes [n], names)``.
    """
    labels = shapes.sample_labels(key, n, 0.5)
    out = [render_one_off_domain(i % len(OFF_DOMAIN), labels, i) for i in range(n)]
    names = [OFF_DOMAIN[i % len(OFF_DOMAIN)] for i in range(n)]
    return np.stack([np.asarray(o[0]) for o in out]), np.asarray([o[1] for o in out]), names


def make_targets(key: jax.Array, kinds, per_kind: int, generator, noise_dim: int,
                 num_classes: int) -> Targets:
    """``per_kind`` targets of each kind in ``kinds`` (in that order), at G's resolution."""
    size = int(generator.info.get("resolution", 32))
    images, classes, names, kind_list = [], [], [], []
    k_rec, k_rec_c, k_semi, k_miss = jax.random.split(key, 4)
    for kind in kinds:
        if kind == "reconstruction":
            c = np.asarray(jax.random.randint(k_rec_c, (per_kind,), 0, max(num_classes, 1)))
            z = jax.random.normal(k_rec, (per_kind, noise_dim))
            if num_classes:
                z = jnp.concatenate([z, jax.nn.one_hot(c, num_classes)], -1)
            imgs, cls = np.asarray(generator.apply_fn(generator.params, z)), c
            nm = [f"G sample, class {int(v)}" for v in c]
        elif kind == "semi":
            rendered, labels = shapes.sample(k_semi, per_kind, 0.5)
            imgs, cls = pil_bilinear(rendered, size), np.asarray(shapes.group(labels))
            nm = [["red tri", "blue tri", "red sq", "blue sq"][int(v)] for v in cls]
        elif kind == "miss":
            rendered, cls, nm = render_off_domain(k_miss, per_kind)
            imgs = pil_bilinear(rendered, size)
        else:
            raise ValueError(f"unknown target kind {kind!r}; known: {', '.join(KINDS)}")
        images.append(np.asarray(imgs, np.float32))
        classes.append(np.asarray(cls, np.int32))
        names += nm
        kind_list += [kind] * per_kind
    return Targets(np.concatenate(images), kind_list, np.concatenate(classes), names)
