"""QDGS objective/measure transform: jaxlatent objectives -> CMA-MAEGA ``eval_fn``/``jac_fn``.

QDGS maximises f = offset - scale * loss (``transform_obj``: 100 - 50 * loss, "minimizing
[0, 10] -> maximizing [0, 100]") and uses the objective's measures as they are. The Jacobian of
(f, measures) with respect to the latent is computed in one ``jax.jacrev`` pass (1+M cotangents
in one VJP) per solution, vmapped over the batch. QDGS itself ran 1+M separate backward passes,
each on a fresh random CLIP cutout; here all rows of one solution share the key of that
solution (one cutout), which is the intended gradient of one stochastic evaluation.

References:
    Chang et al., "Quality-Diversity Generative Sampling for Learning with Synthetic Data",
    AAAI 2024 (arXiv 2312.14369); code ``generate_data.py`` / ``qdgs/discriminator.py``.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def make_eval_fns(objective: Callable, ctx: Any, *, offset: float = 100.0, scale: float = 50.0,
                  measures_key: str = "measures") -> tuple[Callable, Callable]:
    """Builds ``(eval_fn, jac_fn)`` for :mod:`jaxlatent.search.qd` from a minimised objective.

    Args:
        objective: ``objective(latent [D], ctx, *, key=None) -> (value [], aux)`` with
            ``aux[measures_key]`` of shape ``[M]``; ``value`` is minimised.
        ctx: pytree passed to the objective unchanged.
        offset, scale: f = offset - scale * value (QDGS: 100 - 50 * loss).
        measures_key: key of the measures in ``aux``.

    Returns:
        ``eval_fn(solutions [B, D], key) -> (f [B], measures [B, M])`` and
        ``jac_fn(solutions [B, D], key) -> (f [B], measures [B, M], jacobian [B, 1+M, D])``,
        where ``jacobian[:, 0]`` is df/dlatent and ``jacobian[:, 1 + k]`` is dm_k/dlatent.
        Each solution gets its own key from ``jax.random.split(key, B)``.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> def obj(z, ctx, *, key=None):
        ...     return jnp.sum(z**2), {"measures": z[:2]}
        >>> eval_fn, jac_fn = make_eval_fns(obj, None)
        >>> f, m, j = jac_fn(jnp.ones((3, 4)), jax.random.key(0))
        >>> f.shape, m.shape, j.shape
        ((3,), (3, 2), (3, 3, 4))
    """

    def f_and_m(latent, key):
        value, aux = objective(latent, ctx, key=key)
        f = offset - scale * value
        return jnp.concatenate([jnp.reshape(f, (1,)), jnp.reshape(aux[measures_key], (-1,))])

    def with_jac(latent, key):
        out_and_aux = lambda x: (lambda o: (o, o))(f_and_m(x, key))
        return jax.jacrev(out_and_aux, has_aux=True)(latent)

    def eval_fn(solutions, key):
        out = jax.vmap(f_and_m)(solutions, jax.random.split(key, solutions.shape[0]))
        return out[:, 0], out[:, 1:]

    def jac_fn(solutions, key):
        jac, out = jax.vmap(with_jac)(solutions, jax.random.split(key, solutions.shape[0]))
        return out[:, 0], out[:, 1:], jac

    return eval_fn, jac_fn
