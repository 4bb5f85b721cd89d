"""CLIP-based similarities: cosine, CLIPScore and QDGS's spherical (great-circle) distance.

References:
  Hessel et al., "CLIPScore: A Reference-free Evaluation Metric for Image Captioning", EMNLP 2021
  (CLIPScore = w * max(cos, 0); torchmetrics uses w = 100, the default here).
  Chang et al., "Quality-Diversity Generative Sampling for Learning with Synthetic Data", AAAI 2024
  (QDGS ``cos_sim_loss``: d(a, b) = 2 asin(||â − b̂|| / 2)).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxlatent.models.registry import Model


def _safe_norm(x, axis=-1, keepdims=False):
    """Euclidean norm with a zero (not NaN) gradient at 0."""
    sq = jnp.sum(x * x, axis=axis, keepdims=keepdims)
    pos = sq > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, sq, 1.0)), 0.0)


def normalize(x: jax.Array) -> jax.Array:
    """``x / ||x||`` along the last axis."""
    return x / _safe_norm(x, keepdims=True)


def cosine_similarity(a: jax.Array, b: jax.Array) -> jax.Array:
    """Cosine similarity of ``[..., D]`` embeddings (broadcasting), ``[...]``."""
    return jnp.sum(normalize(a) * normalize(b), axis=-1)


def spherical_distance(a: jax.Array, b: jax.Array) -> jax.Array:
    """Great-circle angle between directions: 2 asin(||â − b̂|| / 2), in [0, π].

    Args:
      a, b: ``[..., D]`` embeddings (any length; broadcasting).

    Returns:
      ``[...]`` angles. Equals ``arccos(cos(a, b))`` but is accurate near 0.
    """
    chord = _safe_norm(normalize(a) - normalize(b))
    return 2.0 * jnp.arcsin(jnp.clip(chord / 2.0, 0.0, 1.0))


def clip_score_from_embeddings(image_emb: jax.Array, text_emb: jax.Array,
                               scale: float = 100.0) -> jax.Array:
    """CLIPScore ``scale * max(cos(image, text), 0)`` per pair, ``[...]``."""
    return scale * jnp.maximum(cosine_similarity(image_emb, text_emb), 0.0)


def clip_score(model: Model, images: jax.Array, texts, scale: float = 100.0) -> jax.Array:
    """CLIPScore of each image with its caption.

    Args:
      model: ``registry.load_model("clip_vit_b32", path)``.
      images: float32 ``[B, H, W, 3]`` in [0, 1].
      texts: ``B`` strings, or int ``[B, L]`` token ids.
      scale: 100 (torchmetrics); 2.5 for Hessel et al.'s reported numbers.

    Returns:
      float32 ``[B]``.
    """
    if isinstance(texts, str) or (isinstance(texts, (list, tuple)) and isinstance(texts[0], str)):
        from jaxlatent.models.clip.tokenizer import tokenize

        texts = tokenize(texts, context_length=model.info["config"].context_length, truncate=True)
    image_emb = model.apply_fn(model.params, images, method="image")
    text_emb = model.apply_fn(model.params, texts, method="text")
    return clip_score_from_embeddings(image_emb, text_emb, scale)
