"""The search runner: the one place that batches over starts.

Latents have shape ``[G, N, *latent_shape]``: ``G`` groups of ``N`` starts. Independent
multi-start uses ``N = 1``; methods whose loss couples starts (DivRare's diversity term couples
the N starts around one reference) use ``N > 1``. Within a group the per-start objective is
vmapped over N (`group_loss`); the search step is vmapped over G; steps run under `lax.scan`
in `jaxlatent.loop`, with ``key_t = fold_in(loop_key, t)`` split over groups and starts.

Per-start best tracking keeps, for every start, the lowest per-start objective value seen at a
step whose aux ``"accept"`` flag (default True) holds, with its latent and step; a non-finite
value is never accepted.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent import loop
from jaxlatent.objectives.base import Objective


class Problem(NamedTuple):
    """What to minimise: a per-start objective plus an optional term over each group."""

    objective: Objective
    # group_term(latents [N, ...], aux (per-start, leading N), ctx) -> (value, aux)
    group_term: Callable[..., tuple[Any, dict]] | None = None


class RunnerState(NamedTuple):
    search: Any  # per-group search state, leading axis G
    best_value: jax.Array  # [G, N], +inf where nothing accepted yet
    best_latent: jax.Array  # [G, N, *latent_shape]
    best_step: jax.Array  # [G, N] int32, -1 where nothing accepted yet


def group_loss(problem: Problem, latents, ctx: dict, start_ctx: dict, key):
    """Σ_i objective(latents_i) + group_term(latents): the loss of one group.

    Args:
      latents: [N, *latent_shape].
      ctx: shared read-only inputs.
      start_ctx: per-start inputs, every leaf with leading axis N (merged into ctx per start).
      key: the group's key for this step; split over the N starts.

    Returns:
      ``(total, (values [N], aux))``.
    """
    keys = jax.random.split(key, latents.shape[0])

    def one(latent, own, k):
        return problem.objective(latent, {**ctx, **own}, key=k)

    values, aux = jax.vmap(one)(latents, start_ctx, keys)
    total = jnp.sum(values)
    if problem.group_term is not None:
        g_value, g_aux = problem.group_term(latents, aux, ctx)
        total = total + g_value
        aux = {**aux, "group_term": g_value, **{f"group/{k}": v for k, v in g_aux.items()}}
    return total, (values, aux)


def init(search, problem: Problem, key, latents0, ctx: dict, start_ctx: dict | None = None):
    """Initial runner state for latents0 [G, N, ...]."""
    g, n = latents0.shape[:2]
    start_ctx = start_ctx or {}
    keys = jax.random.split(key, g)

    def init_group(k, z0, sc):
        return search.init(k, z0, lambda z, kk: group_loss(problem, z, ctx, sc, kk))

    state = jax.vmap(init_group)(keys, latents0, start_ctx)
    return RunnerState(
        state,
        jnp.full((g, n), jnp.inf, jnp.float32),
        latents0 + jnp.zeros_like(latents0),  # a buffer of its own: the state is donated
        jnp.full((g, n), -1, jnp.int32),
    )


@functools.lru_cache(maxsize=64)
def make_step(search, problem: Problem) -> loop.StepFn:
    """``step(state, t, (ctx, start_ctx, loop_key)) -> (state, metrics)`` over all groups."""

    def step(state: RunnerState, t, inputs):
        ctx, start_ctx, loop_key = inputs
        keys = jax.random.split(jax.random.fold_in(loop_key, t), state.best_value.shape[0])

        def step_group(s, k, sc):
            return search.step(s, k, lambda z, kk: group_loss(problem, z, ctx, sc, kk))

        search_state, (evaluated, values, aux, info) = jax.vmap(step_group)(
            state.search, keys, start_ctx
        )
        accept = jnp.broadcast_to(aux.get("accept", True), values.shape) & jnp.isfinite(values)
        better = accept & (values < state.best_value)
        expand = better.reshape(better.shape + (1,) * (evaluated.ndim - 2))
        new = RunnerState(
            search_state,
            jnp.where(better, values, state.best_value),
            jnp.where(expand, evaluated, state.best_latent),
            jnp.where(better, t, state.best_step),
        )
        return new, _metrics(new, values, aux, info, accept)

    return step


def _metrics(state: RunnerState, values, aux, info, accept) -> dict:
    found = jnp.isfinite(state.best_value)
    metrics = {
        "value_mean": jnp.mean(values),
        "value_min": jnp.min(values),
        "accept_frac": jnp.mean(accept),
        "best_found_frac": jnp.mean(found),
        "best_mean": jnp.sum(jnp.where(found, state.best_value, 0.0)) / jnp.maximum(found.sum(), 1),
    }
    for name, value in {**info, **aux}.items():
        if jnp.ndim(value) <= 2 and jnp.issubdtype(jnp.result_type(value), jnp.number):
            metrics[name] = jnp.mean(value.astype(jnp.float32))
    return metrics


def run(search, problem: Problem, key, latents0, ctx: dict, *, num_steps: int,
        start_ctx: dict | None = None, chunk_size: int = 50, workdir=None, desc="search",
        progress: bool = True):
    """Runs a search over latents0 [G, N, ...] and returns ``(RunnerState, metric rows)``.

    Raises:
      ValueError: if latents0 holds NaN or inf.
    """
    if not bool(jnp.all(jnp.isfinite(latents0))):
        raise ValueError("initial latents contain NaN or inf values")
    init_key, loop_key = jax.random.split(key)
    start_ctx = start_ctx or {}
    # Jitted so that the state owns fresh buffers: the loop donates it, the caller keeps latents0.
    state = jax.jit(init, static_argnums=(0, 1))(search, problem, init_key, latents0, ctx, start_ctx)
    return loop.run_loop(
        state, make_step(search, problem), ctx=(ctx, start_ctx, loop_key), num_steps=num_steps,
        chunk_size=chunk_size, workdir=workdir, desc=desc, progress=progress,
        finite_check=_finite_check,
    )


def _finite_check(state: RunnerState, metrics: dict) -> dict:
    latents = jax.tree.leaves(state.search)
    ok_latents = all(bool(jnp.all(jnp.isfinite(x))) for x in latents if jnp.issubdtype(x.dtype, jnp.floating))
    loss = metrics.get("loss", metrics["value_mean"])
    return {"search_state": ok_latents, "loss": jnp.all(jnp.isfinite(loss))}
