"""Classifier accuracy helpers (AC-GAN "Inception accuracy", BigGAN-AM / QDGS evaluations).

References:
  Odena, Olah & Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs", ICML 2017
  (top-1 agreement of a pretrained classifier with the conditioning class).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp


def top_k_correct(logits: jax.Array, labels: jax.Array, k: int = 1) -> jax.Array:
    """Whether ``labels`` is among the k largest ``logits``: bool [N].

    Ties are broken towards the lower class index (as ``jax.lax.top_k``).

    Args:
      logits: float [N, K] (logits or probabilities; only the order matters).
      labels: int [N].
    """
    _, top = jax.lax.top_k(logits, k)
    return jnp.any(top == labels[:, None], axis=-1)


def accuracy(logits: jax.Array, labels: jax.Array, ks: Sequence[int] = (1, 5)) -> dict:
    """Top-k accuracies ``{"top1": float, "top5": float, ...}`` over the batch.

    Examples:
      >>> import jax.numpy as jnp
      >>> accuracy(jnp.array([[0.1, 0.9], [0.8, 0.2]]), jnp.array([1, 1]), ks=(1,))
      {'top1': 0.5}
    """
    return {f"top{k}": float(jnp.mean(top_k_correct(logits, labels, k))) for k in ks}


def balanced_accuracy(correct: jax.Array, groups: jax.Array, n_groups: int) -> jax.Array:
    """Mean over groups of the per-group accuracy (QDGS's balanced 4-group accuracy).

    Args:
      correct: bool [N]; groups: int [N] in [0, n_groups). Empty groups are skipped.
    """
    one_hot = jax.nn.one_hot(groups, n_groups, dtype=jnp.float32)
    count = one_hot.sum(0)
    per_group = (one_hot * correct[:, None].astype(jnp.float32)).sum(0) / jnp.maximum(count, 1)
    return jnp.sum(jnp.where(count > 0, per_group, 0)) / jnp.sum(count > 0)
