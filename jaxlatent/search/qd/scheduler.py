"""CMA-MAEGA scheduler: many gradient arborescence emitters, one archive, one jitted scan.

One iteration (pyribs ``Scheduler`` with DQD emitters):
    ask_dqd (theta of every emitter) -> ``jac_fn`` (objective, measures, Jacobian in one
    vectorised pass) -> add to the main and the result archive -> tell_dqd ->
    ask (lambda branches per emitter) -> ``eval_fn`` on all E * lambda branches -> add to both
    archives in one batch -> tell.
Emitters run in parallel with ``vmap``; each archive add is one batch over all emitters, as
pyribs concatenates the emitters' solutions. Objectives are *maximised*.

Evaluation interface:
    ``eval_fn(solutions [B, D], key) -> (objective [B], measures [B, M])``
    ``jac_fn(solutions [B, D], key) -> (objective [B], measures [B, M], jacobian [B, 1+M, D])``

References:
    Fontaine & Nikolaidis, "Covariance Matrix Adaptation MAP-Annealing", GECCO 2023
    (CMA-MAEGA, Alg. 2); pyribs 0.12.0 ``ribs/schedulers/_scheduler.py``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent.search.qd import archive as qa
from jaxlatent.search.qd import emitter as em


@dataclasses.dataclass(frozen=True)
class QDConfig:
    """Static CMA-MAEGA settings: archive grid, emitter settings and number of emitters."""

    archive: qa.ArchiveSpec
    emitter: em.EmitterConfig
    num_emitters: int = 1


class QDState(NamedTuple):
    archive: qa.Archive  # soft (CMA-MAE) archive that drives the search
    result: qa.Archive  # passive elitist archive on the same grid (the output)
    emitters: em.EmitterState  # leading axis E
    iteration: jax.Array  # [] int32


def init(key: jax.Array, theta0: jax.Array, config: QDConfig) -> QDState:
    """Empty archives and E emitters at ``theta0`` (``[D]`` shared or ``[E, D]``).

    ``key`` is accepted for the interface; initialisation is deterministic, as in pyribs.
    """
    del key
    e = config.num_emitters
    theta0 = jnp.asarray(theta0)
    if theta0.ndim == 1:
        theta0 = jnp.broadcast_to(theta0, (e,) + theta0.shape)
    d = theta0.shape[-1]
    m = config.archive.measure_dim
    emitters = jax.vmap(lambda t: em.init(t, m, config.emitter))(theta0)
    return QDState(
        archive=qa.init_archive(config.archive, d, theta0.dtype),
        result=qa.init_archive(config.archive.elitist(), d, theta0.dtype),
        emitters=emitters,
        iteration=jnp.asarray(0, jnp.int32),
    )


def _add_both(state, config, sols, obj, meas):
    archive, info = qa.add(config.archive, state.archive, sols, obj, meas)
    result, _ = qa.add(config.archive.elitist(), state.result, sols, obj, meas)
    return state._replace(archive=archive, result=result), info


def metrics(state: QDState, config: QDConfig) -> dict:
    """Result-archive stats (pyribs ``result_archive.stats``) plus restarts and main coverage."""
    rs = qa.stats(config.archive.elitist(), state.result)
    ms = qa.stats(config.archive, state.archive)
    return {"qd_score": rs.norm_qd_score, "coverage": rs.coverage, "obj_max": rs.obj_max,
            "num_elites": rs.num_elites, "main_coverage": ms.coverage,
            "restarts": jnp.sum(state.emitters.restarts)}


def step(state: QDState, key: jax.Array, eval_fn: Callable, jac_fn: Callable,
         config: QDConfig) -> tuple[QDState, dict]:
    """One CMA-MAEGA iteration.

    Args:
        state: current state.
        key: the run's loop key; ``fold_in(key, state.iteration)`` gives this step's key.
        eval_fn, jac_fn: evaluation functions (see module docstring).
        config: static config.

    Returns:
        ``(state, metrics)``, metrics as in :func:`metrics`.
    """
    ecfg = config.emitter
    e = config.num_emitters
    k_jac, k_ask, k_eval, k_tell = jax.random.split(jax.random.fold_in(key, state.iteration), 4)
    thetas = state.emitters.opt.theta  # [E, D]
    obj, meas, jac = jac_fn(thetas, k_jac)
    state, _ = _add_both(state, config, thetas, obj, meas)
    emitters = jax.vmap(lambda s, j: em.tell_dqd(s, j[None], ecfg))(state.emitters, jac)

    sols, emitters = jax.vmap(lambda k, s: em.ask(k, s, ecfg))(
        jax.random.split(k_ask, e), emitters)
    lam = sols.shape[1]
    flat = sols.reshape(e * lam, -1)
    obj, meas = eval_fn(flat, k_eval)
    state, info = _add_both(state, config, flat, obj, meas)
    info = jax.tree.map(lambda a: a.reshape(e, lam), info)
    emitters = jax.vmap(lambda k, s, x, i: em.tell(k, s, state.archive, x, i, ecfg))(
        jax.random.split(k_tell, e), emitters, sols, info)
    state = state._replace(emitters=emitters, iteration=state.iteration + 1)
    return state, metrics(state, config)


@functools.partial(jax.jit, static_argnames=("eval_fn", "jac_fn", "config", "length"),
                   donate_argnums=(0,))
def _run_chunk(state, key, eval_fn, jac_fn, config, length):
    def body(s, _):
        return step(s, key, eval_fn, jac_fn, config)
    return jax.lax.scan(body, state, None, length=length)


def run(key: jax.Array, theta0: jax.Array, eval_fn: Callable, jac_fn: Callable,
        config: QDConfig, num_iters: int, chunk_size: int = 500, state: QDState | None = None):
    """Runs ``num_iters`` iterations as jitted ``lax.scan`` chunks (state buffers donated).

    Randomness is a pure function of (key, iteration), so a run resumed from ``state`` with the
    same ``key`` reproduces an uninterrupted run. ``eval_fn``/``jac_fn`` are jit static
    arguments: pass the same function objects to reuse the compiled chunk.

    Args:
        key: run key; split into an init key and the loop key.
        theta0: ``[D]`` or ``[E, D]`` initial solution point(s).
        eval_fn, jac_fn: evaluation functions (module docstring).
        config: static config.
        num_iters: iterations to run.
        chunk_size: iterations per compiled scan (the last chunk may be shorter).
        state: optional state to resume from (then ``theta0`` is ignored).

    Returns:
        ``(state, metrics)`` with metrics stacked over iterations (host numpy arrays).

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jaxlatent.search import qd
        >>> def jac_fn(x, key):
        ...     f, m = -jnp.sum(x**2, 1), x[:, :2]
        ...     j = jnp.concatenate([-2 * x[:, None], jnp.eye(2, 4)[None].repeat(len(x), 0)], 1)
        ...     return f, m, j
        >>> eval_fn = lambda x, key: jac_fn(x, key)[:2]
        >>> cfg = qd.QDConfig(qd.ArchiveSpec((5, 5), ((-1, 1), (-1, 1)), 0.1, -10.0),
        ...                   qd.EmitterConfig(sigma0=0.1, lr=0.1, batch_size=4))
        >>> state, m = qd.run(jax.random.key(0), jnp.zeros(4), eval_fn, jac_fn, cfg, 20)
        >>> m["coverage"].shape
        (20,)
    """
    import numpy as np  # host-side concatenation of the metric chunks only

    init_key, loop_key = jax.random.split(key)
    if state is None:
        state = init(init_key, theta0, config)
    chunks = []
    done = 0
    while done < num_iters:
        n = min(chunk_size, num_iters - done)
        state, m = _run_chunk(state, loop_key, eval_fn, jac_fn, config, n)
        chunks.append(jax.device_get(m))
        done += n
    out = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]} if chunks else {}
    return state, out
