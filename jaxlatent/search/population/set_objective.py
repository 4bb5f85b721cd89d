"""A whole set of N coupled starts as one candidate of a population strategy.

Objectives with a group term (DivRare's diversity −λ2·Σ d(f_i, f_j)²) couple the N starts of
one problem; a gradient search moves the N starts together (``latent0 [N, *latent]``). For a
population strategy each candidate ``u [N, *latent]`` is a complete set, mapped to latents
``z_i = starts_i + scale·u_i`` (nevergrad's ``Array(init=starts).set_mutation(sigma=scale)``:
standardised space centred on the starts with prior N(0, I)). The set's value is the group
loss Σ_i ℓ(z_i) + group term, which the strategy minimises.

The per-start keep rule of the gradient path is kept: start i's best is the lowest per-start
value ℓ(z_i) among the evaluated sets whose member i is accepted (``aux["accept"]``), tracked
in the problem's memory (``memory_update``), so results have the same ``[G, N]`` layout.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent.search import runner


class StartBests(NamedTuple):
    """Per-problem memory: the best accepted latent of each start."""

    value: jax.Array  # [N] +inf where none yet
    latent: jax.Array  # [N, *latent]
    step: jax.Array  # [N] int32, -1 where none
    t: jax.Array  # [] int32 iterations seen


@functools.lru_cache(maxsize=64)
def set_problem(objective: Callable, group_term: Callable | None, scale: float) -> runner.Problem:
    """The runner problem of one set candidate ``u [N, *latent]``.

    ``ctx`` must hold ``starts [N, *latent]`` and the per-start inputs of ``objective`` under
    ``per_start`` (leaves ``[N, ...]``, e.g. DivRare's anchor and d*); pass both as
    ``problem_ctx`` of `runner.run`.
    """

    def set_objective(u, ctx, *, key=None):
        z = ctx["starts"] + scale * u
        keys = jax.random.split(key, z.shape[0]) if key is not None else None
        base = {k: v for k, v in ctx.items() if k not in ("starts", "per_start", "memory")}

        def one(zi, own, k):
            return objective(zi, {**base, **own}, key=k)

        if keys is None:
            values, aux = jax.vmap(lambda zi, own: one(zi, own, None))(z, ctx["per_start"])
        else:
            values, aux = jax.vmap(one)(z, ctx["per_start"], keys)
        total = jnp.sum(values)
        if group_term is not None:
            total = total + group_term(z, aux, base)[0]
        accept = jnp.asarray(aux.get("accept", jnp.ones(values.shape, bool)))
        return total, {"start_values": values, "start_accept": accept, "start_latents": z,
                       "accept_share": jnp.mean(accept.astype(jnp.float32))}

    return runner.Problem(set_objective, memory_update=update_bests)


def init_bests(starts) -> StartBests:
    """Empty per-start bests for ``starts [G, N, *latent]``."""
    g, n = starts.shape[:2]
    return StartBests(jnp.full((g, n), jnp.inf, jnp.float32), jnp.zeros_like(starts),
                      jnp.full((g, n), -1, jnp.int32), jnp.zeros((g,), jnp.int32))


def update_bests(memory: StartBests, candidates, evaluation, key) -> StartBests:
    """Start i keeps the lowest accepted ``start_values[:, i]`` (strictly lower, as the runner)."""
    del candidates, key
    values = jnp.where(evaluation.aux["start_accept"] & jnp.isfinite(evaluation.aux["start_values"]),
                       evaluation.aux["start_values"], jnp.inf)  # [P, N]
    i = jnp.argmin(values, axis=0)  # [N]
    cols = jnp.arange(values.shape[1])
    best = values[i, cols]
    latents = evaluation.aux["start_latents"][i, cols]  # [N, *latent]
    better = best < memory.value
    expand = better.reshape(better.shape + (1,) * (latents.ndim - 1))
    return StartBests(jnp.where(better, best, memory.value),
                      jnp.where(expand, latents, memory.latent),
                      jnp.where(better, memory.t, memory.step), memory.t + 1)
