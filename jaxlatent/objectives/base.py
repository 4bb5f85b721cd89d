"""Objective conventions and combinators.

An objective is a pure function of **one** latent::

    objective(latent, ctx, *, key=None) -> (value, aux)

``value`` is a scalar to minimise; ``aux`` a dict of diagnostics (scalars or small arrays, e.g.
``"features"``, ``"accept"``, ``"measures"``). ``ctx`` is a dict of read-only inputs (network
parameters, targets, per-start anchors). Batching over starts happens only in
`jaxlatent.search.runner`.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax.numpy as jnp

Objective = Callable[..., tuple[Any, dict]]


def weighted_sum(*terms: tuple[str, float, Objective]) -> Objective:
    """Σ_k w_k · f_k(latent): one objective whose aux logs every term.

    Args:
      *terms: ``(name, weight, objective)``; terms with weight 0 are skipped at trace time.

    Returns:
      An objective with ``aux = {name: raw value of term, f"{name}/{key}": term aux...}``.

    Example:
      >>> f = weighted_sum(("a", 1.0, lambda z, c, key=None: (jnp.sum(z**2), {})))
      >>> float(f(jnp.ones(3), {})[0])
      3.0
    """
    active = [(n, w, f) for n, w, f in terms if w != 0]

    def objective(latent, ctx, *, key=None):
        total, aux = jnp.zeros(()), {}
        for name, weight, fn in active:
            value, term_aux = fn(latent, ctx, key=key)
            total = total + weight * value
            aux[name] = value
            aux.update({f"{name}/{k}": v for k, v in term_aux.items()})
        return total, aux

    return objective


def latent_norm_penalty(latent, ctx, *, key=None):
    """(mean(z²) − 1)², the inspirational-generation latent prior (Riviere et al., eq. 3)."""
    del ctx, key
    return (jnp.mean(latent**2) - 1.0) ** 2, {}


def pairwise_sq_dists(x: jnp.ndarray) -> jnp.ndarray:
    """[N, D] -> [N, N] squared Euclidean distances (exact differences, no Gram trick)."""
    diff = x[:, None, :] - x[None, :, :]
    return jnp.sum(diff**2, axis=-1)


def names(terms: Sequence[tuple[str, float, Objective]]) -> list[str]:
    return [n for n, w, _ in terms if w != 0]
