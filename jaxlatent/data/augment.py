"""Image resizing and augmentation used by downstream classifier training (pure, jittable)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy import ndimage


def area_downsample(images: jax.Array, size: int) -> jax.Array:
    """[N, H, W, C] -> [N, size, size, C] by averaging factor×factor blocks (H = W = factor·size)."""
    n, h, w, c = images.shape
    if h % size or w % size or h != w:
        raise ValueError(f"cannot area-downsample {h}×{w} images to {size} px (need a square divisor)")
    f = h // size
    return images.reshape(n, size, f, size, f, c).mean(axis=(2, 4))


def rotate(images: jax.Array, degrees: jax.Array, fill: float = 1.0) -> jax.Array:
    """Rotates every image of a batch by the same angle about the image centre (bilinear).

    torchvision's ``RandomRotation`` applied to a batched tensor draws one angle per call, which is
    what the QDGS classifier training does per batch. Pixels from outside the image get ``fill``
    (torchvision's default is 0, black; 1 = the white background of the shapes domain).

    Args:
      images: [N, H, W, C].
      degrees: scalar angle, counter-clockwise in the displayed image.
      fill: value for pixels that come from outside.
    """
    _, h, w, _ = images.shape
    theta = jnp.deg2rad(degrees)
    rows, cols = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32),
                              indexing="ij")
    cy, cx = (h - 1) / 2, (w - 1) / 2
    dy, dx = rows - cy, cols - cx
    # Output pixel p samples the input at R(-θ)·p; rows grow downwards, hence the signs.
    src_x = jnp.cos(theta) * dx - jnp.sin(theta) * dy + cx
    src_y = jnp.sin(theta) * dx + jnp.cos(theta) * dy + cy

    def one_channel(channel):
        return ndimage.map_coordinates(channel, [src_y, src_x], order=1, mode="constant", cval=fill)

    per_image = jax.vmap(one_channel, in_axes=2, out_axes=2)
    return jax.vmap(per_image)(images)
