"""Rarity score (Han et al., "Rarity Score: A New Metric to Evaluate the Uncommonness of
Synthesized Images", ICLR 2023), blockwise.

    Rarity(φ_g) = min { NN_k(φ_r) : φ_r ∈ Φ_r, d(φ_g, φ_r) < NN_k(φ_r) }       (Eq. 2)

NN_k(φ_r) is the distance from a real feature to its k-th real neighbour, excluding itself. A fake
inside no real ball is *outside the real manifold* and its score is undefined. The official
``MANIFOLD.rarity`` returns 0.0 for such samples; here they are NaN with ``inside=False`` unless
``outside="zero"`` is asked for, so that averaging cannot silently count them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.metrics import knn


class RealManifold(NamedTuple):
    """Real features with their k-NN radii (build once with `real_manifold`)."""

    features: jax.Array  # [N, D]
    radii: jax.Array  # [N]
    k: int


class RarityResult(NamedTuple):
    """Per-sample rarity: ``score`` [M] (NaN outside unless asked otherwise) and ``inside`` [M]."""

    score: jax.Array
    inside: jax.Array


def real_manifold(real_features, k: int = 3, *, dtype=None, row_block: int = knn.ROW_BLOCK,
                  col_block: int = knn.COL_BLOCK) -> RealManifold:
    """Computes the k-NN radii of the real features in blocks (O(block²) memory, not O(N²)).

    Args:
      real_features: ``[N, D]``.
      k: neighbourhood size (3 in Han et al. and DivRareGen).
      dtype: float32 (default) or float64 (the official code's dtype, CPU).

    Returns:
      A `RealManifold` holding the features and radii in the working dtype.
    """
    radii = knn.knn_radii(real_features, k, dtype=dtype, row_block=row_block,
                          col_block=col_block)
    feats = np.asarray(real_features, radii.dtype) if isinstance(radii, np.ndarray) else (
        jnp.asarray(real_features, radii.dtype))
    return RealManifold(feats, radii, k)


def rarity_score(manifold: RealManifold, samples, *, outside: str = "nan", dtype=None,
                 row_block: int = knn.ROW_BLOCK, col_block: int = knn.COL_BLOCK) -> RarityResult:
    """Rarity of each sample: the smallest radius among the real balls that strictly contain it.

    Args:
      manifold: from `real_manifold`.
      samples: ``[M, D]`` generated features (same feature space as the reals).
      outside: ``"nan"`` (default; the score is undefined outside the manifold) or ``"zero"``
        (the official ``MANIFOLD.rarity`` placeholder). Use ``inside`` to select valid scores.
      dtype: working dtype; defaults to the manifold's.

    Returns:
      `RarityResult` with ``score`` [M] and ``inside`` [M] bool (inside at least one real ball,
      strict ``d < r``).

    Examples:
      >>> import numpy as np
      >>> real = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
      >>> m = real_manifold(real, k=3)
      >>> res = rarity_score(m, real[:4] + 0.01)
      >>> bool(res.inside.all())
      True
    """
    if outside not in ("nan", "zero"):
        raise ValueError(f"outside must be 'nan' or 'zero', got {outside!r}")
    dtype = dtype or np.asarray(manifold.radii[:0]).dtype
    count, min_r = knn.ball_membership(samples, manifold.features, manifold.radii, strict=True,
                                       dtype=dtype, row_block=row_block, col_block=col_block)
    inside = count > 0
    fill = jnp.nan if outside == "nan" else 0.0
    xp = np if isinstance(min_r, np.ndarray) else jnp
    return RarityResult(xp.where(inside, min_r, fill), inside)


def masked_mean(result: RarityResult):
    """Mean rarity over in-manifold samples only (NaN when none is inside)."""
    score, inside = np.asarray(result.score), np.asarray(result.inside)
    return float(score[inside].mean()) if inside.any() else float("nan")
