"""Attribute classifier for the shapes domain (shape and colour heads), used only for evaluation.

Our stand-in for the papers' FaceXFormer / ImageNet classifiers. The trunk follows the QDGS shapes
classifier (``shapes/train.py``: 3×3 convs 3→16→32→64, each followed by ReLU and 2×2 max-pool)
on a 2×2-average-pooled input (64 px → 8 px), so that ``fc`` is 4096→128 rather than 16384→128,
training is 4× cheaper on CPU and the shipped file stays small; then two logit heads, ``shape`` (1 = square) and
``colour`` (1 = blue). Trained on balanced b = 0.5 data by ``configs/train_classifier.py``.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import optax

from jaxlatent.models.embedded import build_embedded
from jaxlatent.models.layers import avg_pool2


class AttributeClassifier(nn.Module):
    @nn.compact
    def __call__(self, x):  # [B, 128, 128, 3] in [0, 1]
        x = avg_pool2(x)
        for i, ch in enumerate((16, 32, 64)):
            x = nn.relu(nn.Conv(ch, (3, 3), padding=1, name=f"conv{i}")(x))
            x = nn.max_pool(x, (2, 2), strides=(2, 2))
        x = nn.relu(nn.Dense(128, name="fc")(x.reshape(x.shape[0], -1)))
        return {"shape": nn.Dense(1, name="shape")(x)[:, 0], "colour": nn.Dense(1, name="colour")(x)[:, 0]}


def logits(params, images):
    """Returns ``{"shape": [B], "colour": [B]}`` logits (positive = square / blue)."""
    return AttributeClassifier().apply({"params": params}, images)


def classifier_loss(params, images, labels):
    """Mean binary cross-entropy over both heads."""
    out = logits(params, images)
    shape = optax.sigmoid_binary_cross_entropy(out["shape"], labels.shape.astype(jnp.float32))
    colour = optax.sigmoid_binary_cross_entropy(out["colour"], labels.colour.astype(jnp.float32))
    acc_shape = jnp.mean((out["shape"] > 0) == (labels.shape == 1))
    acc_colour = jnp.mean((out["colour"] > 0) == (labels.colour == 1))
    loss = jnp.mean(shape) + jnp.mean(colour)
    return loss, {"acc_shape": acc_shape, "acc_colour": acc_colour}


def predict(params, images):
    """Hard predictions ``(shape [B], colour [B])`` as int32."""
    out = logits(params, images)
    return (out["shape"] > 0).astype(jnp.int32), (out["colour"] > 0).astype(jnp.int32)


def build(path=None, *, key=None):
    """The classifier; ``apply_fn(params, images) -> {"shape", "colour"}`` logits."""
    return build_embedded(
        "shapes_classifier", AttributeClassifier(), jnp.zeros((1, 128, 128, 3)), logits, path, key,
        {"heads": ("shape", "colour")},
    )
