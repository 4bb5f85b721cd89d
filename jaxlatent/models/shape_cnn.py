"""The QDGS shapes classifier (Chang et al., AAAI 2024, code ``shapes/train.py``): triangle vs square.

conv 3→16→32→64 (3×3, padding 1, each followed by ReLU and 2×2 max-pool), ``fc1`` → 128, ReLU,
``fc2`` → 1 logit (sigmoid + BCE in training; > 0 means square). At the official 128-px input
``fc1`` is 16384→128; the module infers its input width, so the same code runs the 32-px variant
the CPU debiasing experiment uses (64·4·4 = 1024 → 128). This is the *downstream* classifier of
the debiasing experiment, not the embedded evaluation classifier (`shapes_classifier`).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def max_pool2(x: jax.Array) -> jax.Array:
    """2×2 max-pool, stride 2, on [B, H, W, C] (reshape form: a cheaper gradient on XLA:CPU)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


class ShapeCNN(nn.Module):
    """``[B, S, S, 3]`` images in [0, 1] (S divisible by 8) -> ``[B]`` logits of "square"."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i, channels in enumerate((16, 32, 64)):
            x = max_pool2(nn.relu(nn.Conv(channels, (3, 3), padding=1, name=f"conv{i + 1}")(x)))
        x = nn.relu(nn.Dense(128, name="fc1")(x.reshape(x.shape[0], -1)))
        return nn.Dense(1, name="fc2")(x)[:, 0]


def init_params(key: jax.Array, image_size: int) -> dict:
    """Random parameters for ``image_size``-px inputs (flax default initialisers)."""
    return ShapeCNN().init(key, jnp.zeros((1, image_size, image_size, 3)))["params"]


def logits(params: dict, images: jax.Array) -> jax.Array:
    return ShapeCNN().apply({"params": params}, images)
