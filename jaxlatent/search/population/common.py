"""Pieces shared by the gradient-free population strategies.

Every strategy here searches nevergrad's *standardised space*: a candidate is
``latent0 + u`` with ``u`` of the latent's shape and prior N(0, I), so ``latent0 = 0`` gives
the N(0, I) prior of a standard-normal latent (nevergrad: an unbounded ``ng.p.Array`` with its
``init`` value and ``sigma = 1``). Internally vectors are flat ``[d]``; ``ask`` reshapes the
candidates to ``[P, *latent]``.

Budget accounting: one ``ask`` of P candidates is P evaluations, so a budget of B evaluations
is ``B / P`` runner iterations. A batch of P is nevergrad with ``num_workers = P`` driven as
``ask`` × P, then ``tell`` × P in the same order (``minimize(..., batch_mode=True)``): every
candidate of a batch sees the optimizer state left by the previous batch, and the tells are
applied in candidate order (sequentially where nevergrad's update depends on the order).

Recommendation: each strategy has ``recommend(state) -> [*latent]``. For deterministic losses
evaluated once per point, nevergrad's optimistic, pessimistic and minimum bests are all the
argmin of the evaluated losses (its confidence bounds add the same constant to every point
evaluated once); strategies keep that argmin in ``best_x`` with nevergrad's tie rule
(``<=``: a later equal loss wins). It equals the runner's ``best_latent`` except for ties.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def flat(x: jax.Array) -> jax.Array:
    """``[*latent] -> [d]``."""
    return jnp.reshape(x, (-1,))


def rows(x: jax.Array, template: jax.Array) -> jax.Array:
    """``[P, d] -> [P, *template.shape]``."""
    return jnp.reshape(x, (x.shape[0],) + template.shape)


def finite_or_inf(values: jax.Array) -> jax.Array:
    """Losses as float32 with NaN and +-inf mapped to +inf (never selected)."""
    values = jnp.asarray(values, jnp.float32)
    return jnp.where(jnp.isfinite(values), values, jnp.inf)


def last_argmin(values: jax.Array) -> jax.Array:
    """Index of the *last* minimum: sequential ``<=`` updates keep the newest of equal losses."""
    n = values.shape[0]
    return n - 1 - jnp.argmin(values[::-1])


def update_best(best_x, best_value, candidates_flat, values, *, strict: bool = False):
    """Sequential best over one batch told in order.

    Args:
      best_x: ``[d]`` current best; best_value: ``[]``.
      candidates_flat: ``[P, d]``; values: ``[P]`` (non-finite already +inf).
      strict: ``True`` for a ``<`` rule (first equal loss wins, PSO's global best), else ``<=``.

    Returns:
      ``(best_x [d], best_value [])``.
    """
    i = jnp.argmin(values) if strict else last_argmin(values)
    better = values[i] < best_value if strict else values[i] <= best_value
    better = better & jnp.isfinite(values[i])
    return jnp.where(better, candidates_flat[i], best_x), jnp.where(better, values[i], best_value)


def lineage_slots(count, num: int, pop: int):
    """Slots asked by one batch of a population queue (DE, PSO).

    nevergrad fills the population first (asks ``0 .. pop-1`` are new individuals), then
    takes lineages from its told queue; with batches told in ask order that queue is a rotation,
    so ask number ``j >= pop`` is a child of slot ``(j - pop) mod pop``.

    Args:
      count: ``[]`` int, asks made so far; num: P (static, P <= pop); pop: population size.

    Returns:
      ``(slot [P] int32, is_new [P] bool)``.
    """
    j = count + jnp.arange(num, dtype=jnp.int32)
    is_new = j < pop
    return jnp.where(is_new, j, (j - pop) % pop).astype(jnp.int32), is_new


def redraw_until_any(key, rate, d: int):
    """``[d]`` bool mask, each True with probability ``rate``; redrawn while all False.

    nevergrad ``Mutator.discrete_mutation`` / ``portfolio_discrete_mutation``: keep coordinate
    i where ``rand > rate``, redraw the whole mask if nothing was chosen.
    """

    def draw(k):
        return jax.random.uniform(k, (d,)) <= rate

    def body(carry):
        k, _ = carry
        k, sub = jax.random.split(k)
        return k, draw(sub)

    key, sub = jax.random.split(key)
    _, mask = jax.lax.while_loop(lambda c: ~jnp.any(c[1]), body, (key, draw(sub)))
    return mask
