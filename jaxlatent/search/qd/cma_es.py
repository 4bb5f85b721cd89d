"""Small CMA-ES over gradient coefficients, mirroring pyribs' ``CMAEvolutionStrategy``.

Used by the gradient arborescence emitter over the 1+M coefficients. Equations follow
pyribs 0.12.0 ``ribs/emitters/opt/_cma_es.py`` (itself after Hansen's tutorial), including:

- sampling ``mean + B diag(sqrt(lambda)) (sigma z)`` with a lazily refreshed eigensystem
  (refreshed in ``ask`` once more than ``lazy_gap_evals`` evaluations have passed);
- a variable number of parents (``selection_rule="filter"``); zero parents leaves the state
  unchanged except for the evaluation counter;
- pyribs' covariance update, whose rank-one term is ``c1 * c1 * pc pc^T`` (pyribs multiplies by
  c1 twice; kept for parity);
- stop rules "basic": condition number > 1e14, sigma * sqrt(max eigenvalue) < 1e-11, or
  flat ranking values (|first - last| < 1e-12).

References:
    Hansen, "The CMA Evolution Strategy: A Tutorial" (arXiv 1604.00772), Eqs. (9)-(47).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class CMAConfig:
    """Static CMA-ES settings: ``sigma0``, dimension ``n`` and population ``batch_size``."""

    sigma0: float
    n: int
    batch_size: int

    @staticmethod
    def default_batch_size(n: int) -> int:
        return 4 + int(3 * math.log(n))

    @property
    def lazy_gap_evals(self) -> float:
        """pyribs: 0.5 n lambda / (c1 + cmu) / n^2 with the default lambda // 2 parents."""
        mu = self.batch_size // 2
        w = [math.log(mu + 0.5) - math.log(i) for i in range(1, mu + 1)]
        w = [x / sum(w) for x in w]
        mueff = 1.0 / sum(x * x for x in w)
        c1 = 2 / ((self.n + 1.3) ** 2 + mueff)
        cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((self.n + 2) ** 2 + mueff))
        return 0.5 * self.n * self.batch_size / (c1 + cmu) / self.n**2


class CMAState(NamedTuple):
    """CMA-ES state. ``eigvecs/eigvals/invsqrt/cond`` are the lazily refreshed decomposition."""

    mean: jax.Array  # [n]
    sigma: jax.Array  # []
    pc: jax.Array  # [n]
    ps: jax.Array  # [n]
    cov: jax.Array  # [n, n]
    eigvecs: jax.Array  # [n, n]
    eigvals: jax.Array  # [n]
    invsqrt: jax.Array  # [n, n]
    cond: jax.Array  # []
    updated_eval: jax.Array  # [] int32
    current_eval: jax.Array  # [] int32


def init(mean: jax.Array, cfg: CMAConfig) -> CMAState:
    """Reset to ``mean`` with step size ``sigma0`` and identity covariance (pyribs ``reset``)."""
    dtype = mean.dtype
    eye = jnp.eye(cfg.n, dtype=dtype)
    zeros = jnp.zeros((cfg.n,), dtype)
    return CMAState(mean, jnp.asarray(cfg.sigma0, dtype), zeros, zeros, eye, eye,
                    jnp.ones((cfg.n,), dtype), eye, jnp.asarray(1.0, dtype),
                    jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32))


def _refresh_eigensystem(state: CMAState, cfg: CMAConfig) -> CMAState:
    """pyribs ``DecompMatrix.update_eigensystem`` when the lazy gap has passed."""
    cov = jnp.maximum(state.cov, state.cov.T)
    vals, vecs = jnp.linalg.eigh(cov)
    vals = jnp.abs(vals)
    invsqrt = (vecs * (1 / jnp.sqrt(vals))) @ vecs.T
    invsqrt = jnp.maximum(invsqrt, invsqrt.T)
    refreshed = state._replace(cov=cov, eigvecs=vecs, eigvals=vals, invsqrt=invsqrt,
                               cond=jnp.max(vals) / jnp.min(vals),
                               updated_eval=state.current_eval)
    due = state.current_eval > state.updated_eval + cfg.lazy_gap_evals
    return jax.tree.map(lambda a, b: jnp.where(due, a, b), refreshed, state)


def sample_noise(key: jax.Array, cfg: CMAConfig, dtype=jnp.float32) -> jax.Array:
    """Standard normal ``[batch_size, n]`` noise consumed by :func:`ask_with_noise`."""
    return jax.random.normal(key, (cfg.batch_size, cfg.n), dtype)


def ask_with_noise(z: jax.Array, state: CMAState, cfg: CMAConfig):
    """Samples ``mean + B diag(sqrt(lambda)) (sigma z)`` (Hansen Eq. 38–40).

    Args:
        z: ``[batch_size, n]`` standard normal noise.
        state: CMA-ES state.
        cfg: static config.

    Returns:
        ``(samples [batch_size, n], state)`` (the eigensystem may have been refreshed).
    """
    state = _refresh_eigensystem(state, cfg)
    transform = state.eigvecs * jnp.sqrt(state.eigvals)
    samples = (transform @ (state.sigma * z).T).T + state.mean[None]
    return samples, state


def ask(key: jax.Array, state: CMAState, cfg: CMAConfig):
    """:func:`ask_with_noise` with noise drawn from ``key``."""
    return ask_with_noise(sample_noise(key, cfg, state.mean.dtype), state, cfg)


def _strategy_params(num_parents, cfg: CMAConfig, dtype):
    """Log weights over ``num_parents`` (traced) and the derived learning rates."""
    n = cfg.n
    ranks = jnp.arange(1, cfg.batch_size + 1, dtype=dtype)
    mu = num_parents.astype(dtype)
    raw = jnp.where(ranks <= mu, jnp.log(mu + 0.5) - jnp.log(ranks), 0.0)
    w = raw / jnp.sum(raw)
    mueff = jnp.sum(w) ** 2 / jnp.sum(w**2)
    cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
    cs = (mueff + 2) / (n + mueff + 5)
    c1 = 2 / ((n + 1.3) ** 2 + mueff)
    cmu = jnp.minimum(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff))
    return w, mueff, cc, cs, c1, cmu


def tell(state: CMAState, samples: jax.Array, ranking_indices: jax.Array, num_parents,
         cfg: CMAConfig) -> CMAState:
    """Updates mean, paths, covariance and sigma from the top ``num_parents`` samples.

    Args:
        state: CMA-ES state.
        samples: ``[batch_size, n]`` samples returned by ``ask``.
        ranking_indices: int ``[batch_size]``, best first.
        num_parents: int scalar (may be traced), 0..batch_size.
        cfg: static config.

    Returns:
        the new state; with ``num_parents == 0`` only ``current_eval`` changes.
    """
    dtype = state.mean.dtype
    n = cfg.n
    num_parents = jnp.asarray(num_parents, jnp.int32)
    counted = state._replace(current_eval=state.current_eval + cfg.batch_size)
    w, mueff, cc, cs, c1, cmu = _strategy_params(jnp.maximum(num_parents, 1), cfg, dtype)
    damps = 1 + 2 * jnp.maximum(0.0, jnp.sqrt((mueff - 1) / (n + 1)) - 1) + cs
    parents = samples[ranking_indices]
    old_mean = state.mean
    mean = jnp.sum(parents * w[:, None], axis=0)  # Eq. (41); zero weights beyond mu
    y = mean - old_mean
    z = state.invsqrt @ y
    ps = (1 - cs) * state.ps + (jnp.sqrt(cs * (2 - cs) * mueff) / state.sigma) * z  # Eq. (43)
    t = counted.current_eval.astype(dtype)
    left = jnp.sum(ps**2) / n / (1 - (1 - cs) ** (2 * t / cfg.batch_size))
    hsig = (left < 2 + 4.0 / (n + 1)).astype(dtype)
    pc = (1 - cc) * state.pc + hsig * jnp.sqrt(cc * (2 - cc) * mueff) * y  # Eq. (45)
    ys = parents - old_mean[None]
    rank_mu = jnp.einsum("ki,kj->ij", ys * w[:, None], ys)
    c1a = c1 * (1 - (1 - hsig**2) * cc * (2 - cc))
    cov = (state.cov * (1 - c1a - cmu * jnp.sum(w)) + c1 * jnp.outer(pc, pc) * c1
           + rank_mu * cmu / state.sigma**2)  # Eq. (47) as in pyribs (c1 applied twice)
    sigma = state.sigma * jnp.exp(jnp.minimum(1.0, cs / damps * (jnp.sum(ps**2) / n - 1) / 2))
    updated = counted._replace(mean=mean, sigma=sigma, pc=pc, ps=ps, cov=cov)
    return jax.tree.map(lambda a, b: jnp.where(num_parents > 0, a, b), updated, counted)


def check_stop(state: CMAState, sorted_ranking_values: jax.Array) -> jax.Array:
    """pyribs "basic" stop rules; ``sorted_ranking_values`` is best first. Returns bool."""
    area = state.sigma * jnp.sqrt(jnp.max(state.eigvals))
    flat = jnp.abs(sorted_ranking_values[0] - sorted_ranking_values[-1]) < 1e-12
    if sorted_ranking_values.shape[0] < 2:
        flat = jnp.asarray(False)
    return (state.cond > 1e14) | (area < 1e-11) | flat
