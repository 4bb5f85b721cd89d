"""CMA-MAEGA as a strategy of the search protocol: E gradient arborescence emitters, one archive.

One iteration (pyribs ``Scheduler`` with DQD emitters) is two phases:

1. ``"jacobian"``: ask → θ of every emitter ``[E, D]``; the runner evaluates f and the measures
   with their Jacobian (one ``jacrev`` per solution); tell → add to the main and the result
   archive, ``tell_dqd`` (store the normalised Jacobian);
2. ``"value"``: ask → λ branches per emitter ``[E·λ, D]``; the runner evaluates f and the
   measures; tell → add all branches to both archives in one batch, ``tell`` every emitter.

Emitters run in parallel with ``vmap``; each archive add is one batch over all emitters, as
pyribs concatenates the emitters' solutions. The archive *maximises* f; the protocol minimises,
so f = ``offset − scale·value`` of the minimised objective (QDGS: 100 − 50·loss; the default
``offset = 0, scale = 1`` is f = −value). Measures are ``aux[measures_key]``.

Randomness: the iteration key ``fold_in(problem key, t)`` is split into
``(k_jac, k_ask, k_eval, k_tell)`` as in the scheduler this module replaced, so runs are
reproducible across the change; the main archive may hold ±inf sentinels, so the NaN guard
checks the emitters only.

References:
    Fontaine & Nikolaidis, "Covariance Matrix Adaptation MAP-Annealing", GECCO 2023
    (CMA-MAEGA, Alg. 2); pyribs 0.12.0 ``ribs/schedulers/_scheduler.py``.
"""

from __future__ import annotations

import dataclasses

import jax
from typing import NamedTuple

import jax.numpy as jnp

from jaxlatent.search import protocol
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


def init_state(key: jax.Array, theta0: jax.Array, config: QDConfig) -> QDState:
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


@dataclasses.dataclass(frozen=True)
class CmaMaega(protocol.StrategyBase):
    """CMA-MAEGA (pyribs semantics) over one problem's ``[D]`` solution space.

    ``latent0`` is ``[D]`` (shared by the emitters) or ``[E, D]``.
    """

    config: QDConfig
    offset: float = 0.0
    scale: float = 1.0
    measures_key: str = "measures"

    phases = (protocol.JACOBIAN, protocol.VALUE)
    tracks_slots = False

    def phase_keys(self, step_key):
        k_jac, k_ask, k_eval, k_tell = jax.random.split(step_key, 4)
        return [(k_ask, k_jac, k_tell), (k_ask, k_eval, k_tell)]

    def jacobian_outputs(self, value, aux):
        f = self.offset - self.scale * value
        return jnp.concatenate([jnp.reshape(f, (1,)), jnp.reshape(aux[self.measures_key], (-1,))])

    def state_is_finite(self, state: QDState):
        return jnp.all(jnp.isfinite(state.emitters.opt.theta))

    def init(self, key, latent0, params) -> QDState:
        del params
        return init_state(key, latent0, self.config)

    def ask(self, key, state: QDState, params, *, phase: int = 0):
        del params
        if phase == 0:  # ask_dqd: every emitter's theta
            return state.emitters.opt.theta, state
        e = self.config.num_emitters
        sols, emitters = jax.vmap(lambda k, s: em.ask(k, s, self.config.emitter))(
            jax.random.split(key, e), state.emitters)
        return sols.reshape((-1,) + sols.shape[2:]), state._replace(emitters=emitters)

    def tell(self, key, candidates, evaluation: protocol.Evaluation, state: QDState, params, *,
             phase: int = 0):
        del params
        cfg = self.config
        if phase == 0:
            obj, meas = evaluation.outputs[:, 0], evaluation.outputs[:, 1:]
            state, _ = _add_both(state, cfg, candidates, obj, meas)
            emitters = jax.vmap(lambda s, j: em.tell_dqd(s, j[None], cfg.emitter))(
                state.emitters, evaluation.jacobians)
            jac_norm = jnp.mean(jnp.linalg.norm(evaluation.jacobians, axis=-1))  # raw rows
            return state._replace(emitters=emitters), {"jac_norm": jac_norm}
        obj = self.offset - self.scale * evaluation.values
        meas = jnp.reshape(evaluation.aux[self.measures_key], (obj.shape[0], -1))
        state, info = _add_both(state, cfg, candidates, obj, meas)
        e = cfg.num_emitters
        info = jax.tree.map(lambda a: a.reshape(e, -1), info)
        sols = candidates.reshape((e, -1) + candidates.shape[1:])
        emitters = jax.vmap(lambda k, s, x, i: em.tell(k, s, state.archive, x, i, cfg.emitter))(
            jax.random.split(key, e), state.emitters, sols, info)
        state = state._replace(emitters=emitters, iteration=state.iteration + 1)
        return state, metrics(state, cfg)


def config_from(cfg) -> QDConfig:
    """QDConfig from config sections ``archive`` (dims, ranges, learning_rate, threshold_min) and
    ``emitter`` (sigma0, lr, batch_size, num_emitters)."""
    a, e = cfg["archive"], cfg["emitter"]
    return QDConfig(
        archive=qa.ArchiveSpec(dims=tuple(a["dims"]), ranges=tuple(map(tuple, a["ranges"])),
                               learning_rate=a["learning_rate"], threshold_min=a["threshold_min"]),
        emitter=em.EmitterConfig(sigma0=e["sigma0"], lr=e["lr"], batch_size=e.get("batch_size")),
        num_emitters=e.get("num_emitters", 1),
    )


def build(cfg) -> CmaMaega:
    """`CmaMaega` from a config with ``archive`` and ``emitter`` sections, ``offset``, ``scale``."""
    return CmaMaega(config_from(cfg), offset=float(cfg.get("offset", 0.0)),
                    scale=float(cfg.get("scale", 1.0)))
