"""FID, KID and Inception Score on FID-Inception features (host-side float64 NumPy).

Feature extraction runs in JAX (`extract_features`, float32, batched, last partial batch kept as in
pytorch-fid); the statistics are reduced on the host in float64 because float32 covariances shift
FID by up to ~1 at N = 1000 (see shared/reference/metrics.md §6.5).

References:
  Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
  Equilibrium", NeurIPS 2017 (FID).
  Bińkowski et al., "Demystifying MMD GANs", ICLR 2018 (KID).
  Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016 (IS).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import numpy as np


class Statistics(NamedTuple):
    """Mean ``[D]`` and covariance ``[D, D]`` of a feature set, float64."""

    mu: np.ndarray
    sigma: np.ndarray


def feature_statistics(features: np.ndarray, ddof: int = 1) -> Statistics:
    """Mean and covariance in float64.

    Args:
      features: ``[N, D]`` (any float dtype).
      ddof: 1 (pytorch-fid, TTUR, clean-fid); 0 is StyleGAN2-ADA's biased covariance.
    """
    x = np.asarray(features, np.float64)
    return Statistics(x.mean(axis=0), np.cov(x, rowvar=False, ddof=ddof))


def _sqrt_psd(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a PSD matrix by eigendecomposition (negatives clipped to 0)."""
    w, v = np.linalg.eigh((sigma + sigma.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((Σ1 Σ2)^{1/2}) = Tr((Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2}), by two symmetric eigh calls.

    Σ1 Σ2 is similar to the PSD matrix Σ1^{1/2} Σ2 Σ1^{1/2}, so both have the same (non-negative)
    eigenvalues; summing their square roots avoids the non-symmetric `scipy.linalg.sqrtm`.
    """
    s1 = _sqrt_psd(sigma1)
    m = s1 @ sigma2 @ s1
    w = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sum(np.sqrt(np.clip(w, 0, None))))


def frechet_distance(stats1: Statistics, stats2: Statistics, eps: float = 1e-6) -> float:
    """FID = ||μ1 − μ2||² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2}) (Heusel et al. 2017, Eq. 6).

    Args:
      stats1, stats2: `Statistics` (float64).
      eps: if the trace term is not finite, ``eps * I`` is added to both covariances (pytorch-fid).
    """
    mu1, sigma1 = (np.asarray(a, np.float64) for a in stats1)
    mu2, sigma2 = (np.asarray(a, np.float64) for a in stats2)
    tr = trace_sqrt_product(sigma1, sigma2)
    if not np.isfinite(tr):
        offset = eps * np.eye(sigma1.shape[0])
        tr = trace_sqrt_product(sigma1 + offset, sigma2 + offset)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr)


def fid_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two ``[N, D]`` feature sets (ddof=1 covariances, float64)."""
    return frechet_distance(feature_statistics(features1), feature_statistics(features2))


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (xᵀy / d + 1)³ (Bińkowski et al. 2018, Eq. 19 with the KID defaults)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with the cubic polynomial kernel between two ``[m, D]`` sets."""
    m = x.shape[0]
    kxx, kyy, kxy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2.0 * kxy.sum() / (m * m))


def kid_from_features(features1: np.ndarray, features2: np.ndarray, num_subsets: int = 100,
                      subset_size: int = 1000, seed: int = 2020) -> tuple[float, float]:
    """Kernel Inception Distance: mean and std of unbiased MMD² over random subsets.

    Subsets follow clean-fid / StyleGAN2-ADA: ``m = min(N1, N2, subset_size)``, each subset drawn
    without replacement by ``RandomState(seed).choice``, first from set 1 then from set 2. Those
    references use the unseeded global NumPy RNG; torch-fidelity seeds with 2020 (our default).

    Args:
      features1, features2: ``[N1, D]``, ``[N2, D]``; computed in float64.
      num_subsets: 100 (clean-fid, StyleGAN2-ADA, torch-fidelity).
      subset_size: 1000.
      seed: seed of the `numpy.random.RandomState` drawing the subsets.

    Returns:
      ``(mean, std)`` over subsets. KID can be slightly negative.
    """
    x = np.asarray(features1, np.float64)
    y = np.asarray(features2, np.float64)
    m = min(x.shape[0], y.shape[0], subset_size)
    rng = np.random.RandomState(seed)
    values = []
    for _ in range(num_subsets):
        xs = x[rng.choice(x.shape[0], m, replace=False)]
        ys = y[rng.choice(y.shape[0], m, replace=False)]
        values.append(mmd2_unbiased(xs, ys))
    return float(np.mean(values)), float(np.std(values))


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score exp(E_x KL(p(y|x) || p(y))) over ``splits`` consecutive splits.

    Args:
      logits: ``[N, C]`` (1008-way ``logits_unbiased`` of the FID network, as in OpenAI's code).
      splits: 10, taken in order (``N // splits``-style boundaries ``i * N // splits``).

    Returns:
      ``(mean, std)`` over the splits. Softmax and KL are computed in float64.
    """
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n, scores = z.shape[0], []
    for i in range(splits):
        part = logp[i * n // splits:(i + 1) * n // splits]
        log_mean = np.log(np.exp(part).mean(axis=0))
        kl = np.sum(np.exp(part) * (part - log_mean), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def extract_features(apply_fn: Callable, params, images, batch_size: int = 50,
                     keys: tuple[str, ...] = ("pool3", "logits_unbiased")) -> dict[str, np.ndarray]:
    """Runs the Inception model over ``images`` in batches (the last partial batch is kept).

    Args:
      apply_fn, params: from ``registry.load_model("inception_fid", path)``.
      images: float32 ``[N, H, W, 3]`` in [0, 1] (array or anything sliceable).
      batch_size: 50 as in pytorch-fid.
      keys: which outputs to collect.

    Returns:
      ``{key: [N, ...] float32 numpy}``.
    """
    fn = jax.jit(lambda p, x: {k: v for k, v in apply_fn(p, x).items() if k in keys})
    chunks = {k: [] for k in keys}
    for start in range(0, len(images), batch_size):
        out = fn(params, np.asarray(images[start:start + batch_size], np.float32))
        for k in keys:
            chunks[k].append(np.asarray(out[k]))
    return {k: np.concatenate(v) for k, v in chunks.items()}
