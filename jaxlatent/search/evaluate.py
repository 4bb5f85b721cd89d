"""Evaluating one problem's candidates as a strategy's phase asks: values, gradients, Jacobians.

The only place that vmaps an objective over candidates. ``ctx`` (shared, read-only: network
parameters, banks) is merged with the problem's own inputs (``problem_ctx``), each candidate's
own inputs (``candidate_ctx``, leading axis P) and the problem's objective memory (as
``ctx["memory"]``). Each candidate gets ``split(key, P)[i]``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent.objectives.base import Objective
from jaxlatent.search import protocol


class Problem(NamedTuple):
    """What to minimise.

    Attributes:
      objective: ``objective(latent, ctx, *, key=None) -> (value, aux)`` for one candidate.
      group_term: optional ``(candidates [P, ...], aux, ctx) -> (value, aux)`` coupling the
        candidates of one ask (DivRare's diversity); added to the loss that ``"grad"`` phases
        differentiate and logged as ``aux["group_term"]``; not part of the per-candidate values.
      memory_update: optional ``(memory, candidates, evaluation, key) -> memory``, the
        objective's per-problem mutable state (QDGS's uniqueness memory), applied after every
        evaluation; the objective reads it as ``ctx["memory"]``.
      memory_metrics: optional ``memory -> {name: scalar}``, logged every iteration.
    """

    objective: Objective
    group_term: Callable[..., tuple[Any, dict]] | None = None
    memory_update: Callable | None = None
    memory_metrics: Callable | None = None


def _merged(ctx, problem_ctx, memory):
    out = {**ctx, **problem_ctx}
    if memory is not None:
        out["memory"] = memory
    return out


def candidate_values(problem: Problem, candidates, ctx: dict, candidate_ctx: dict, key):
    """``(total, (values [P], aux))``: per-candidate objective, plus the group term in total."""
    keys = jax.random.split(key, candidates.shape[0])

    def one(latent, own, k):
        return problem.objective(latent, {**ctx, **own}, key=k)

    values, aux = jax.vmap(one)(candidates, candidate_ctx, keys)
    total = jnp.sum(values)
    if problem.group_term is not None:
        g_value, g_aux = problem.group_term(candidates, aux, ctx)
        total = total + g_value
        aux = {**aux, "group_term": g_value, **{f"group/{k}": v for k, v in g_aux.items()}}
    return total, (values, aux)


def evaluate(strategy, problem: Problem, kind: str, candidates, ctx: dict, problem_ctx: dict,
             candidate_ctx: dict, memory, key) -> tuple[protocol.Evaluation, jax.Array]:
    """Evaluates one problem's candidates ``[P, *latent]`` for a phase of ``kind``.

    Returns:
      ``(evaluation, total)``; ``total`` is the phase's loss (Σ values + group term).
    """
    full = _merged(ctx, problem_ctx, memory)
    _check_candidate_ctx(candidate_ctx, candidates.shape[0])
    loss = lambda z: candidate_values(problem, z, full, candidate_ctx, key)  # noqa: E731
    value_fn = (lambda z: loss(z)[0]) if getattr(strategy, "needs_value_fn", False) else None
    if kind == protocol.GRAD:
        (total, (values, aux)), grads = jax.value_and_grad(loss, has_aux=True)(candidates)
        return protocol.Evaluation(values, aux, grads=grads, value_fn=value_fn), total
    if kind == protocol.JACOBIAN:
        outputs, jac, values, aux = _jacobians(strategy, problem, candidates, full, candidate_ctx,
                                               key)
        return protocol.Evaluation(values, aux, outputs=outputs, jacobians=jac), jnp.sum(values)
    total, (values, aux) = loss(candidates)
    return protocol.Evaluation(values, aux, value_fn=value_fn), total


def _jacobians(strategy, problem, candidates, ctx, candidate_ctx, key):
    """Per candidate: ``strategy.jacobian_outputs(value, aux)`` and its Jacobian (one jacrev)."""
    keys = jax.random.split(key, candidates.shape[0])

    def one(latent, own, k):
        def outputs(z):
            value, aux = problem.objective(z, {**ctx, **own}, key=k)
            out = strategy.jacobian_outputs(value, aux)
            return out, (out, value, aux)

        return jax.jacrev(outputs, has_aux=True)(latent)

    jac, (outs, values, aux) = jax.vmap(one)(candidates, candidate_ctx, keys)
    return outs, jac, values, aux


def _check_candidate_ctx(candidate_ctx: dict, num_candidates: int) -> None:
    for name, leaf in candidate_ctx.items():
        lead = jax.tree.leaves(leaf)[0].shape[0] if jax.tree.leaves(leaf) else num_candidates
        if lead != num_candidates:
            raise ValueError(f"candidate_ctx[{name!r}] has {lead} rows but the strategy asked "
                             f"{num_candidates} candidates; per-candidate inputs need a strategy "
                             "whose candidates are fixed starts (tracks_slots)")


def track_best(best, values, aux, candidates, t, slots: bool):
    """New ``(best_value [S], best_latent [S, ...], best_step [S])`` after one evaluation.

    ``slots``: candidate i updates best i (S = P); otherwise the argmin over the accepted
    candidates updates the single best (S = 1). A candidate counts only where ``aux["accept"]``
    (default True) holds and its value is finite.
    """
    value, latent, step = best
    accept = jnp.broadcast_to(aux.get("accept", True), values.shape) & jnp.isfinite(values)
    masked = jnp.where(accept, values, jnp.inf)
    if not slots:
        i = jnp.argmin(masked)
        masked, candidates, accept = masked[i][None], candidates[i][None], accept[i][None]
    better = accept & (masked < value)
    expand = better.reshape(better.shape + (1,) * (candidates.ndim - 1))
    return (jnp.where(better, masked, value), jnp.where(expand, candidates, latent),
            jnp.where(better, t, step))
