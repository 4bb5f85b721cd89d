"""Gradient arborescence emitter (CMA-MEGA / CMA-MAEGA), mirroring pyribs 0.12.0.

One emitter keeps a solution point theta, a CMA-ES over the 1+M gradient coefficients and a
gradient optimizer on theta. Per iteration: ``ask_dqd`` -> theta; ``tell_dqd`` stores the
(normalised) Jacobian; ``ask`` branches theta + sum_j c_j grad_j for lambda coefficient
samples c; ``tell`` ranks branches by improvement ("imp"), updates CMA-ES with the parents
("filter": the added ones; "mu": the top lambda // 2), steps theta along
(log-weighted parent mean - theta), and restarts from a random elite on the CMA-ES stop rules.

Semantics kept from pyribs (``ribs/emitters/_gradient_arborescence_emitter.py``):
- Jacobian rows are divided by (L2 norm + epsilon) when ``normalize_grad``.
- The parents are the branch *solutions*, weighted log(mu + 1/2) - log(i), normalised.
- ``no_parents="origin"`` (default, pyribs): with zero parents the weighted mean is an empty
  sum, i.e. the zero vector, so the optimizer steps theta along -theta (towards the origin).
  ``no_parents="keep"``: skip the optimizer step (theta and optimizer state unchanged).
- Adam is pyribs' ``AdamOpt`` (ascent on the given direction, bias correction folded into the
  step size, epsilon added to sqrt(v)); "gradient_ascent" is theta += lr * direction.
- Restart: theta <- uniformly drawn elite of the main archive, optimizer state reset, CMA-ES
  reset to mean 0 and sigma0. If the archive is empty (pyribs would raise) theta is kept.

References:
    Fontaine & Nikolaidis, "Differentiable Quality Diversity", NeurIPS 2021 (arXiv 2106.03894),
    Alg. 2; Fontaine & Nikolaidis, "Covariance Matrix Adaptation MAP-Annealing", GECCO 2023.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Union

import jax
import jax.numpy as jnp

from jaxlatent.search.qd import archive as qa
from jaxlatent.search.qd import cma_es


@dataclasses.dataclass(frozen=True)
class EmitterConfig:
    """Static emitter settings (pyribs ``GradientArborescenceEmitter`` keywords).

    ``batch_size`` is the number of branches lambda (None: CMA-ES default 4 + floor(3 ln n)).
    ``restart_rule``: "basic" (CMA-ES rules only), "no_improvement" (also when nothing was
    added) or an int k (also every k iterations).
    """

    sigma0: float
    lr: float
    batch_size: int | None = None
    selection_rule: str = "filter"
    restart_rule: Union[str, int] = "basic"
    grad_opt: str = "adam"
    beta1: float = 0.9
    beta2: float = 0.999
    adam_epsilon: float = 1e-8
    normalize_grad: bool = True
    epsilon: float = 1e-8
    no_parents: str = "origin"

    def __post_init__(self):
        if self.selection_rule not in ("filter", "mu"):
            raise ValueError(f"selection_rule must be 'filter' or 'mu', got {self.selection_rule}")
        if self.grad_opt not in ("adam", "gradient_ascent"):
            raise ValueError(f"grad_opt must be 'adam' or 'gradient_ascent', got {self.grad_opt}")
        if self.no_parents not in ("origin", "keep"):
            raise ValueError(f"no_parents must be 'origin' or 'keep', got {self.no_parents}")
        if not (self.restart_rule in ("basic", "no_improvement")
                or isinstance(self.restart_rule, int)):
            raise ValueError(f"invalid restart_rule {self.restart_rule}")

    def cma(self, measure_dim: int) -> cma_es.CMAConfig:
        n = measure_dim + 1
        lam = self.batch_size or cma_es.CMAConfig.default_batch_size(n)
        return cma_es.CMAConfig(self.sigma0, n, lam)


class OptState(NamedTuple):
    """Gradient optimizer on theta (pyribs AdamOpt fields; unused by gradient ascent)."""

    theta: jax.Array  # [D]
    m: jax.Array  # [D]
    v: jax.Array  # [D]
    t: jax.Array  # [] int32


class EmitterState(NamedTuple):
    opt: OptState
    cma: cma_es.CMAState
    jacobian: jax.Array  # [1+M, D], normalised
    coeffs: jax.Array  # [lambda, 1+M], last CMA-ES samples (pyribs ES._solutions)
    restarts: jax.Array  # [] int32
    itrs: jax.Array  # [] int32


def _opt_reset(theta):
    z = jnp.zeros_like(theta)
    return OptState(theta, z, z, jnp.asarray(0, jnp.int32))


def _opt_step(opt: OptState, direction: jax.Array, cfg: EmitterConfig) -> OptState:
    """Ascent along ``direction``: pyribs AdamOpt.step / GradientAscentOpt.step."""
    if cfg.grad_opt == "gradient_ascent":
        return opt._replace(theta=opt.theta + cfg.lr * direction)
    g = -direction  # pyribs minimises the negated direction
    t = opt.t + 1
    tf = t.astype(opt.theta.dtype)
    a = cfg.lr * jnp.sqrt(1 - cfg.beta2**tf) / (1 - cfg.beta1**tf)
    m = cfg.beta1 * opt.m + (1 - cfg.beta1) * g
    v = cfg.beta2 * opt.v + (1 - cfg.beta2) * (g * g)
    theta = opt.theta - a * m / (jnp.sqrt(v) + cfg.adam_epsilon)
    return OptState(theta, m, v, t)


def init(theta0: jax.Array, measure_dim: int, cfg: EmitterConfig) -> EmitterState:
    """Emitter at ``theta0`` ([D]); CMA-ES at mean 0, sigma0."""
    ccfg = cfg.cma(measure_dim)
    dtype = theta0.dtype
    return EmitterState(
        opt=_opt_reset(theta0),
        cma=cma_es.init(jnp.zeros((ccfg.n,), dtype), ccfg),
        jacobian=jnp.zeros((ccfg.n, theta0.shape[0]), dtype),
        coeffs=jnp.zeros((ccfg.batch_size, ccfg.n), dtype),
        restarts=jnp.asarray(0, jnp.int32),
        itrs=jnp.asarray(0, jnp.int32),
    )


def ask_dqd(state: EmitterState) -> jax.Array:
    """The solution point, ``[1, D]``."""
    return state.opt.theta[None]


def tell_dqd(state: EmitterState, jacobian: jax.Array, cfg: EmitterConfig) -> EmitterState:
    """Stores the Jacobian ``[1, 1+M, D]`` (objective row first), row-normalised if set."""
    jac = jacobian[0].astype(state.jacobian.dtype)
    if cfg.normalize_grad:
        jac = jac / (jnp.linalg.norm(jac, axis=-1, keepdims=True) + cfg.epsilon)
    return state._replace(jacobian=jac)


def ask_with_noise(z: jax.Array, state: EmitterState, cfg: EmitterConfig):
    """Branches theta + coeffs @ J for CMA-ES noise ``z`` ``[lambda, 1+M]``.

    Returns:
        ``(solutions [lambda, D], state)``.
    """
    ccfg = cfg.cma(state.jacobian.shape[0] - 1)
    coeffs, cma = cma_es.ask_with_noise(z, state.cma, ccfg)
    sols = state.opt.theta[None] + coeffs @ state.jacobian
    return sols, state._replace(cma=cma, coeffs=coeffs)


def ask(key: jax.Array, state: EmitterState, cfg: EmitterConfig):
    """:func:`ask_with_noise` with noise drawn from ``key``."""
    ccfg = cfg.cma(state.jacobian.shape[0] - 1)
    return ask_with_noise(cma_es.sample_noise(key, ccfg, state.opt.theta.dtype), state, cfg)


def tell(key: jax.Array, state: EmitterState, archive: qa.Archive, solutions: jax.Array,
         info: qa.AddInfo, cfg: EmitterConfig) -> EmitterState:
    """Ranks the branches, updates CMA-ES and theta, restarts if needed.

    Args:
        key: used only to draw the restart elite.
        state: emitter state after :func:`ask`.
        archive: the main archive *after* this batch was added (restart elites).
        solutions: ``[lambda, D]`` branches from :func:`ask`.
        info: ``AddInfo`` of those branches against the main archive.
        cfg: static config.

    Returns:
        the new emitter state.
    """
    ccfg = cfg.cma(state.jacobian.shape[0] - 1)
    dtype = state.opt.theta.dtype
    itrs = state.itrs + 1
    added = jnp.sum(info.status > 0).astype(jnp.int32)
    order = jnp.argsort(info.value)[::-1]  # "imp": improvement value, descending
    mu = added if cfg.selection_rule == "filter" else jnp.asarray(ccfg.batch_size // 2)
    cma = cma_es.tell(state.cma, state.coeffs, order, mu, ccfg)

    ranks = jnp.arange(1, ccfg.batch_size + 1, dtype=dtype)
    muf = mu.astype(dtype)
    raw = jnp.where(ranks <= muf, jnp.log(muf + 0.5) - jnp.log(ranks), 0.0)
    w = raw / jnp.where(mu > 0, jnp.sum(raw), 1.0)
    new_mean = jnp.sum(solutions[order].astype(dtype) * w[:, None], axis=0)  # 0 if mu == 0
    opt = _opt_step(state.opt, new_mean - state.opt.theta, cfg)
    if cfg.no_parents == "keep":
        opt = jax.tree.map(lambda a, b: jnp.where(mu > 0, a, b), opt, state.opt)

    restart = cma_es.check_stop(cma, info.value[order])
    if cfg.restart_rule == "no_improvement":
        restart = restart | (added == 0)
    elif isinstance(cfg.restart_rule, int):
        restart = restart | (itrs % cfg.restart_rule == 0)
    elite, found = qa.sample_elite(key, archive)
    theta_r = jnp.where(found, elite.astype(dtype), opt.theta)
    opt = jax.tree.map(lambda a, b: jnp.where(restart, a, b), _opt_reset(theta_r), opt)
    cma = jax.tree.map(lambda a, b: jnp.where(restart, a, b),
                       cma_es.init(jnp.zeros((ccfg.n,), dtype), ccfg), cma)
    return state._replace(opt=opt, cma=cma, itrs=itrs,
                          restarts=state.restarts + restart.astype(jnp.int32))
