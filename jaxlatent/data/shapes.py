"""The colour-biased shapes domain of QDGS (Chang et al., AAAI 2024, appendix A), rendered in JAX.

A sample is a 128×128 RGB image of one red or blue triangle or square on white, rotated by
0–359° and scaled by 50–200 %, at a random position that keeps it inside the canvas.
Colours are the official generator's: red (216, 27, 96) and blue (30, 136, 229).

Bias ``b`` is the share of *majority* pairs: red triangles and blue squares. A set of ``n`` images
holds exactly ``n // 2`` triangles (``round(b · n_tri)`` of them red) and ``n - n // 2`` squares
(``round(b · n_sq)`` of them blue), in a random order, as the official generator does by index.

Rendering is analytic (an inside-test at each pixel centre in the shape's own frame), so it is
deterministic for a key, runs under `jit`/`vmap`, and can be called inside a jitted training step:
no host data pipeline is needed. Geometry differs from the official nested-loop raster (it used a
64-px triangle and a 36-px square with torchvision RandomRotation/RandomResizedCrop); ours uses an
equilateral triangle and a square of similar area whose labels (rotation, scale, position) are exact.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

SIZE = 128
RED = (216 / 255, 27 / 255, 96 / 255)
BLUE = (30 / 255, 136 / 255, 229 / 255)
TRIANGLE, SQUARE = 0, 1
COLOUR_RED, COLOUR_BLUE = 0, 1
# Circumradius at 100 % scale; at 200 % a shape spans at most 2·30 = 60 px from its centre.
CIRCUMRADIUS = 30.0
SCALE_RANGE = (0.5, 2.0)


class ShapeLabels(NamedTuple):
    """Per-image labels; every field has shape [n]."""

    shape: jax.Array  # int32, 0 triangle, 1 square
    colour: jax.Array  # int32, 0 red, 1 blue
    rotation: jax.Array  # float32 degrees in [0, 360)
    scale: jax.Array  # float32 in [0.5, 2]
    position: jax.Array  # float32 [n, 2], centre (x, y) in pixels


def majority(labels: ShapeLabels) -> jax.Array:
    """True for red triangles and blue squares (the pairs that bias b over-represents)."""
    return labels.shape == labels.colour


def group(labels: ShapeLabels) -> jax.Array:
    """4-way group index: 2·shape + colour (0 red tri, 1 blue tri, 2 red sq, 3 blue sq)."""
    return 2 * labels.shape + labels.colour


def sample_labels(key: jax.Array, n: int, bias: float) -> ShapeLabels:
    """Draws labels for ``n`` images with majority share ``bias`` (exact counts, random order).

    Args:
      key: PRNG key.
      n: number of images (static).
      bias: b in [0, 1], share of red triangles among triangles and blue squares among squares.
    """
    k_perm, k_rot, k_scale, k_pos = jax.random.split(key, 4)
    n_tri = n // 2
    n_sq = n - n_tri
    index = jnp.arange(n)
    shape = (index >= n_tri).astype(jnp.int32)
    within = jnp.where(shape == TRIANGLE, index, index - n_tri)
    n_major = jnp.where(shape == TRIANGLE, jnp.round(bias * n_tri), jnp.round(bias * n_sq))
    is_major = within < n_major
    colour = jnp.where(is_major, shape, 1 - shape).astype(jnp.int32)
    order = jax.random.permutation(k_perm, n)
    shape, colour = shape[order], colour[order]
    rotation = jax.random.uniform(k_rot, (n,), minval=0.0, maxval=360.0)
    scale = jax.random.uniform(k_scale, (n,), minval=SCALE_RANGE[0], maxval=SCALE_RANGE[1])
    reach = SIZE / 2 - scale * CIRCUMRADIUS - 1.0
    offset = jax.random.uniform(k_pos, (n, 2), minval=-1.0, maxval=1.0) * reach[:, None]
    return ShapeLabels(shape, colour, rotation, scale, SIZE / 2 + offset)


def render_one(shape, colour, rotation, scale, position) -> jax.Array:
    """Renders one image from its labels (scalars; position [2]). Returns [128, 128, 3] in [0, 1]."""
    centres = jnp.arange(SIZE, dtype=jnp.float32) + 0.5
    x, y = jnp.meshgrid(centres, centres)  # x varies along width (axis 1)
    theta = jnp.deg2rad(rotation)
    dx, dy = x - position[0], y - position[1]
    # Pixel in the shape's frame: rotate by -theta, divide by scale.
    u = (jnp.cos(theta) * dx + jnp.sin(theta) * dy) / scale
    v = (-jnp.sin(theta) * dx + jnp.cos(theta) * dy) / scale
    mask = jnp.where(shape == TRIANGLE, _inside_triangle(u, v), _inside_square(u, v))
    rgb = jnp.where(colour == COLOUR_RED, jnp.asarray(RED), jnp.asarray(BLUE))
    return jnp.where(mask[..., None], rgb, 1.0).astype(jnp.float32)


def _inside_triangle(u, v):
    # Equilateral triangle with circumradius R: inside iff the projection on each of the three
    # outward edge normals is at most the inradius R/2.
    normals = jnp.deg2rad(jnp.asarray([90.0, 210.0, 330.0]))
    proj = u[..., None] * jnp.cos(normals) + v[..., None] * jnp.sin(normals)
    return jnp.all(proj <= CIRCUMRADIUS / 2, axis=-1)


def _inside_square(u, v):
    half_side = CIRCUMRADIUS / jnp.sqrt(2.0)
    return jnp.maximum(jnp.abs(u), jnp.abs(v)) <= half_side


def render(labels: ShapeLabels) -> jax.Array:
    """Renders a batch. Returns float32 [n, 128, 128, 3] in [0, 1]."""
    return jax.vmap(render_one)(*labels)


def sample(key: jax.Array, n: int, bias: float) -> tuple[jax.Array, ShapeLabels]:
    """Draws ``n`` labelled images with bias ``bias``. Deterministic for ``key``.

    Returns:
      ``(images [n, 128, 128, 3] float32 in [0, 1], labels)``.
    """
    labels = sample_labels(key, n, bias)
    return render(labels), labels


sample_jit = jax.jit(sample, static_argnums=(1,))
