"""The search runner: any strategy of the protocol, G independent problems, one compiled program.

Latents ``latents0`` have a leading problem axis G (references, classes, targets, trials…); what
follows is the strategy's ``latent0`` (``[N, *latent]`` for a gradient search over N coupled
starts, ``[*latent]`` for a population strategy's centre, ``[D]`` for CMA-MAEGA). Per iteration
and problem, for each phase of the strategy: ask → evaluate (`evaluate.evaluate`) → tell → best
tracking → objective-memory update. The iteration is vmapped over problems, problems are sharded
over the devices of a mesh (`jaxlatent.sharding`), and iterations run in chunks on the one loop
(`jaxlatent.loop`: progress, metrics, checkpoints, resume, NaN guard).

Randomness: problem g draws from its own key ``keys[g]`` (default ``split(key, G)``): ``init``
from ``keys[g]``, iteration t from ``fold_in(keys[g], t)`` split into phase keys by the
strategy. A problem's result therefore does not depend on G, on the other problems or on the
device count, and one program over many problems equals separate runs with the same keys.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent import loop, sharding
from jaxlatent.search import protocol
from jaxlatent.search.evaluate import Problem, evaluate, track_best

__all__ = ["Prepared", "Problem", "RunnerState", "init", "make_step", "prepare", "run"]


class RunnerState(NamedTuple):
    strategy: Any  # per-problem strategy state, leading axis G
    best_value: jax.Array  # [G, S]: S = P for slot strategies, 1 for populations; +inf: none yet
    best_latent: jax.Array  # [G, S, *candidate_shape]
    best_step: jax.Array  # [G, S] int32, -1 where nothing accepted yet
    memory: Any = ()  # per-problem objective memory (leading axis G), () when the problem has none


class Inputs(NamedTuple):
    """Traced inputs of every step (never compile-time constants)."""

    params: Any  # strategy hyper-parameters, shared
    ctx: dict  # shared read-only inputs (network parameters, banks)
    problem_ctx: dict  # leaves [G, ...]
    candidate_ctx: dict  # leaves [G, P, ...]
    keys: jax.Array  # [G] problem keys
    valid: jax.Array  # [G] bool, False on padding problems


def init(strategy, problem: Problem, keys, latents0, inputs: Inputs, memory=()) -> RunnerState:
    """Strategy states of all problems and empty bests (shapes from one traced ``ask``)."""
    del problem
    states = jax.vmap(lambda k, z: strategy.init(k, z, inputs.params))(keys, latents0)
    cand = jax.eval_shape(lambda s: strategy.ask(keys[0], s, inputs.params, phase=0)[0],
                          jax.tree.map(lambda x: x[0], states))
    g = latents0.shape[0]
    s = cand.shape[0] if strategy.tracks_slots else 1
    return RunnerState(states, jnp.full((g, s), jnp.inf, jnp.float32),
                       jnp.zeros((g, s) + cand.shape[1:], cand.dtype),
                       jnp.full((g, s), -1, jnp.int32), memory)


def _iterate(strategy, problem: Problem, t, inputs: Inputs, state: RunnerState):
    """One iteration of one problem (vmapped by `make_step`); returns (state, per-problem logs)."""
    s, best, memory = state.strategy, (state.best_value, state.best_latent, state.best_step), state.memory
    all_values, all_aux, info, totals = [], [], {}, []
    phase_keys = strategy.phase_keys(jax.random.fold_in(inputs.keys, t))
    for phase, kind in enumerate(strategy.phases):
        k_ask, k_eval, k_tell = phase_keys[phase]
        candidates, s = strategy.ask(k_ask, s, inputs.params, phase=phase)
        ev, total = evaluate(strategy, problem, kind, candidates, inputs.ctx, inputs.problem_ctx,
                             inputs.candidate_ctx, memory if problem.memory_update else None, k_eval)
        s, phase_info = strategy.tell(k_tell, candidates, ev, s, inputs.params, phase=phase)
        best = track_best(best, ev.values, ev.aux, candidates, t, strategy.tracks_slots)
        if problem.memory_update is not None:
            memory = problem.memory_update(memory, candidates, ev, jax.random.fold_in(k_eval, 1))
        all_values.append(ev.values)
        all_aux.append(_loggable(ev.aux, ev.values.shape[0]))
        info.update(phase_info)
        totals.append(total)
    if problem.memory_metrics is not None:
        info.update(problem.memory_metrics(memory))
    logs = {"values": jnp.concatenate(all_values), "loss": sum(totals), "info": info,
            "aux": jax.tree.map(lambda *xs: jnp.concatenate(xs), *all_aux)}
    return RunnerState(s, *best, memory), logs


def _loggable(aux: dict, p: int) -> dict:
    """Per-candidate numeric (or boolean) scalars of aux, as float32 ``[P]``."""
    out = {}
    for name, value in aux.items():
        value = jnp.asarray(value)
        if value.ndim == 0:
            value = jnp.broadcast_to(value, (p,))
        if value.ndim == 1 and value.shape[0] == p and (
                jnp.issubdtype(value.dtype, jnp.number) or value.dtype == jnp.bool_):
            out[name] = value.astype(jnp.float32)
    return out


@functools.lru_cache(maxsize=64)
def make_step(strategy, problem: Problem, mesh=None) -> loop.StepFn:
    """``step(state, t, inputs) -> (state, metrics)`` over all problems (cached: no recompile)."""

    def step(state: RunnerState, t, inputs: Inputs):
        axes = Inputs(None, None, 0, 0, 0, 0)
        new, logs = jax.vmap(lambda i, s: _iterate(strategy, problem, t, i, s),
                             in_axes=(axes, 0))(inputs, state)
        if mesh is not None:
            new = sharding.constrain_problems(new, mesh)
        return new, _metrics(new, logs, inputs.valid)

    return step


def _masked_mean(x, valid):
    w = valid.reshape(valid.shape + (1,) * (x.ndim - 1)).astype(jnp.float32)
    w = jnp.broadcast_to(w, x.shape)
    return jnp.sum(jnp.where(w > 0, x, 0.0)) / jnp.maximum(jnp.sum(w), 1.0)


def _metrics(state: RunnerState, logs: dict, valid) -> dict:
    """Per-step scalars over the real (non-padding) problems."""
    found = jnp.isfinite(state.best_value)
    values = logs["values"]
    finite = jnp.where(valid[:, None], values, jnp.inf)
    metrics = {
        "value_mean": _masked_mean(values, valid),
        "value_min": jnp.min(finite),
        "accept_frac": _masked_mean(logs["aux"].get("accept", jnp.isfinite(values)), valid),
        "best_found_frac": _masked_mean(found, valid),
        "best_mean": jnp.sum(jnp.where(found & valid[:, None], state.best_value, 0.0))
        / jnp.maximum(jnp.sum(found & valid[:, None]), 1),
        "loss": _masked_mean(logs["loss"], valid),
    }
    for name, value in {**logs["info"], **logs["aux"]}.items():
        value = jnp.asarray(value)
        if name not in metrics and value.ndim <= 2 and jnp.issubdtype(value.dtype, jnp.number):
            metrics[name] = _masked_mean(value.astype(jnp.float32), valid)
    return metrics


class Prepared(NamedTuple):
    """A run ready for the loop: padded, sharded state and inputs, and its step function."""

    state: RunnerState
    inputs: Inputs
    step: loop.StepFn
    num_problems: int  # G before padding


def prepare(strategy, problem: Problem, key, latents0, ctx: dict, *, params=None, keys=None,
            problem_ctx: dict | None = None, candidate_ctx: dict | None = None, memory=(),
            mesh=None) -> Prepared:
    """Validates, pads G to the mesh size, shards, and initialises (arguments as `run`)."""
    protocol.check_strategy(strategy)
    latents0 = jnp.asarray(latents0)
    if latents0.ndim == 0 or latents0.shape[0] == 0:
        raise ValueError(f"latents0 needs a leading problem axis with at least one problem; "
                         f"got shape {latents0.shape}")
    if not bool(jnp.all(jnp.isfinite(latents0))):
        raise ValueError("initial latents contain NaN or inf values")
    g = latents0.shape[0]
    mesh = mesh if mesh is not None else sharding.problem_mesh()
    keys = jax.random.split(key, g) if keys is None else keys
    params = strategy.default_params() if params is None else params
    per_problem = sharding.pad_problems(
        dict(latents0=latents0, problem_ctx=problem_ctx or {}, candidate_ctx=candidate_ctx or {},
             keys=keys, memory=memory, valid=jnp.ones(g, bool)), mesh.size)
    per_problem["valid"] = per_problem["valid"].at[g:].set(False)
    per_problem = sharding.shard_problems(per_problem, mesh)
    shared = sharding.replicate(dict(params=params, ctx=ctx), mesh)
    inputs = Inputs(shared["params"], shared["ctx"], per_problem["problem_ctx"],
                    per_problem["candidate_ctx"], per_problem["keys"], per_problem["valid"])
    state = _jit_init(strategy, problem, mesh)(per_problem["keys"], per_problem["latents0"],
                                               inputs, per_problem["memory"])
    return Prepared(state, inputs, make_step(strategy, problem, mesh), g)


def run(strategy, problem: Problem, key, latents0, ctx: dict, *, num_steps: int,
        params=None, keys=None, problem_ctx: dict | None = None,
        candidate_ctx: dict | None = None, memory=(), chunk_size: int = 50, workdir=None,
        desc: str = "search", progress: bool = True, mesh=None, scan: bool | None = None):
    """Runs ``num_steps`` iterations of ``strategy`` on every problem of ``latents0 [G, ...]``.

    Args:
      strategy: a strategy of the protocol (`jaxlatent.search.registry.build`).
      problem: the objective (+ optional group term and memory update).
      key: run key; problem keys are ``split(key, G)`` unless ``keys [G]`` is given.
      latents0: ``[G, *latent0]``, one strategy ``latent0`` per problem.
      ctx: shared inputs, replicated on every device.
      params: strategy hyper-parameters (default ``strategy.default_params()``).
      problem_ctx / candidate_ctx: per-problem (leading G) / per-candidate (leading G, P) inputs.
      memory: initial per-problem objective memory (leading G) for ``problem.memory_update``.
      mesh: a `jax.sharding.Mesh` (default: all devices, `sharding.problem_mesh`); G is padded
        to a multiple of its size and the padding dropped from the returned state.
      scan: force the `lax.scan` chunk (True) or the unrolled one (False); default per backend.

    Returns:
      ``(RunnerState, rows)`` without padding problems; ``rows`` are this process's metric rows.

    Raises:
      ValueError: if latents0 holds NaN or inf, or is empty.
    """
    run_ = prepare(strategy, problem, key, latents0, ctx, params=params, keys=keys,
                   problem_ctx=problem_ctx, candidate_ctx=candidate_ctx, memory=memory,
                   mesh=mesh)
    state, rows = loop.run_loop(
        run_.state, run_.step, ctx=run_.inputs, num_steps=num_steps, chunk_size=chunk_size,
        workdir=workdir, desc=desc, progress=progress, finite_check=_finite_check(strategy),
        scan=scan)
    return sharding.unpad(state, run_.num_problems), rows


@functools.lru_cache(maxsize=64)
def _jit_init(strategy, problem, mesh):
    def init_all(keys, latents0, inputs, memory):
        return sharding.constrain_problems(init(strategy, problem, keys, latents0, inputs, memory),
                                           mesh)
    return jax.jit(init_all)


@functools.lru_cache(maxsize=64)
def _finite_check(strategy):
    """Jitted ``(state, metrics) -> {name: bool}``: the strategy's state sound, the loss finite.

    The default state check refuses NaN only: ``±inf`` is a legitimate sentinel in many states
    ("no value yet", empty archive cells, box edges), and a diverging search shows up as a
    non-finite loss. A strategy may define a stricter ``state_is_finite`` (CMA-MAEGA: θ finite).
    """
    state_ok = getattr(strategy, "state_is_finite", None) or _no_nan

    @jax.jit
    def check(state: RunnerState, metrics: dict):
        return {"search_state": state_ok(state.strategy), "loss": jnp.all(jnp.isfinite(metrics["loss"]))}

    return check


def _no_nan(tree) -> jax.Array:
    leaves = [jnp.all(~jnp.isnan(x)) for x in jax.tree.leaves(tree)
              if jnp.issubdtype(x.dtype, jnp.floating)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)
