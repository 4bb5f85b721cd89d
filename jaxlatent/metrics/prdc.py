"""Precision, recall, density and coverage on k-NN manifolds, blockwise.

Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative Models", ICML 2020 (the
``prdc`` package), and Kynkäänniemi et al., "Improved Precision and Recall Metric for Assessing
Generative Models", NeurIPS 2019. With N reals (radii R_i) and M fakes (radii F_j):

    precision = 1/M Σ_j 1[∃i: d(r_i, f_j) < R_i]
    recall    = 1/N Σ_i 1[∃j: d(r_i, f_j) < F_j]
    density   = 1/(kM) Σ_j Σ_i 1[d(r_i, f_j) < R_i]
    coverage  = 1/N Σ_i 1[min_j d(r_i, f_j) < R_i]

prdc uses strict ``<`` everywhere; Kynkäänniemi et al. use ``<=`` (``strict=False``). No N×N matrix
is built: radii come from a running top-k, membership from blockwise counts (`knn`).
"""

from __future__ import annotations

import numpy as np

from jaxlatent.metrics import knn


def _blocks(row_block, col_block):
    return dict(row_block=row_block, col_block=col_block)


def compute_prdc(real_features, fake_features, nearest_k: int = 5, *, dtype=None,
                 row_block: int = knn.ROW_BLOCK, col_block: int = knn.COL_BLOCK) -> dict:
    """Precision, recall, density and coverage (Naeem et al. 2020; same values as ``prdc``).

    Args:
      real_features: ``[N, D]``; fake_features: ``[M, D]``.
      nearest_k: k (prdc has no default; 5 is its README's and the common choice).
      dtype: float32 (default) or float64 (exact, CPU).

    Returns:
      ``{"precision", "recall", "density", "coverage"}`` as Python floats.

    Examples:
      >>> import numpy as np
      >>> rng = np.random.default_rng(0)
      >>> out = compute_prdc(rng.normal(size=(300, 4)), rng.normal(size=(300, 4)), 5)
      >>> sorted(out)
      ['coverage', 'density', 'precision', 'recall']
    """
    b = _blocks(row_block, col_block)
    real_r = knn.knn_radii(real_features, nearest_k, dtype=dtype, **b)
    fake_r = knn.knn_radii(fake_features, nearest_k, dtype=dtype, **b)
    fake_count, _ = knn.ball_membership(fake_features, real_features, real_r, dtype=dtype, **b)
    real_count, _ = knn.ball_membership(real_features, fake_features, fake_r, dtype=dtype, **b)
    nn_fake = knn.knn_distances(real_features, fake_features, 1, dtype=dtype, **b)[:, 0]
    fake_count, real_count = np.asarray(fake_count), np.asarray(real_count)
    return dict(
        precision=float((fake_count > 0).mean()),
        recall=float((real_count > 0).mean()),
        density=float(fake_count.mean() / nearest_k),
        coverage=float((np.asarray(nn_fake) < np.asarray(real_r)).mean()),
    )


def improved_precision_recall(real_features, fake_features, k: int = 3, *, strict: bool = False,
                              dtype=None, row_block: int = knn.ROW_BLOCK,
                              col_block: int = knn.COL_BLOCK) -> dict:
    """Improved precision and recall (Kynkäänniemi et al. 2019, Sec. 2).

    Args:
      real_features: ``[N, D]``; fake_features: ``[M, D]``.
      k: neighbourhood size (3 in the paper, StyleGAN2-ADA and torch-fidelity).
      strict: ``False`` (default) is the paper's ``d <= r``; ``True`` is ``d < r`` as in prdc and
        DivRareGen's ``improved_precision_recall.py``.

    Returns:
      ``{"precision", "recall"}``: generated-in-real and real-in-generated fractions.
    """
    b = _blocks(row_block, col_block)
    real_r = knn.knn_radii(real_features, k, dtype=dtype, **b)
    fake_r = knn.knn_radii(fake_features, k, dtype=dtype, **b)
    fc, _ = knn.ball_membership(fake_features, real_features, real_r, strict=strict, dtype=dtype,
                                **b)
    rc, _ = knn.ball_membership(real_features, fake_features, fake_r, strict=strict, dtype=dtype,
                                **b)
    return dict(precision=float((np.asarray(fc) > 0).mean()),
                recall=float((np.asarray(rc) > 0).mean()))
