"""Particle swarm optimisation as nevergrad 1.0.12's ``PSO``.

Reference: nevergrad 1.0.12 ``optimization/optimizerlib.py``, class ``_PSO`` configured by
``ConfPSO(transform="arctan")`` (registered as ``PSO``; ``transform="identity"`` is
``RealSpacePSO``), itself "partially following SPSO2011".

- Swarm ``M = max(40, P)`` particles, positions from the prior N(0, I), speeds U(−1, 1)^d (in
  the transformed space); the first M asks return these particles.
- Moves happen in the box ``[0, 1]^d`` given by ``y = ½ + arctan(u)/π`` (``ArctanBound(0, 1)``):
  ``v ← ω·v + φp·rp·(y(pbest) − y) + φg·rg·(y(gbest) − y)``, rp, rg ~ U(0, 1)^d, ω = 0.5/ln 2,
  φp = φg = 0.5 + ln 2; the new position is ``clip(y + v, 0, 1)`` mapped back by ``tan``.
- Ask j ≥ M moves particle ``(j − M) mod M`` (the told queue, batches told in order).
- Tell: the particle always moves to its new position; its personal best is replaced when the
  loss is ``<=`` it; the global best when the loss is strictly ``<`` it (first equal loss wins).
- Recommendation: nevergrad's default (the minimum), the argmin.

Batched semantics: P asks all see the swarm and global best of the previous iteration, then P
tells in order; with P = 40 one iteration moves the whole swarm once. With speeds U(−1, 1) in
a unit box many first moves leave it: nevergrad clips them to 0 or 1, whose ``tan`` in float64
is ±1.633e16, so such coordinates jump to ±1.633e16. With ``edge=NEVERGRAD_EDGE`` we do exactly
that (the step-by-step test); the default ``edge = 1e4`` maps the box edges to ±1e4 instead,
because float32 losses of a latent at 1.6e16 overflow to inf (e.g. the latent-norm term) and a
generator fed such latents is meaningless. In the box both edges are within 3.2e-5 of 0 or 1,
so the swarm moves the same to that precision (the statistical parity test uses the default).
Speeds and positions are float32.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent.search import protocol
from jaxlatent.search.population import common

NEVERGRAD_EDGE = 1.633123935319537e16  # float64 tan(π/2), where nevergrad's clipped particles land


class PSOState(NamedTuple):
    centre: jax.Array  # [*latent]
    x: jax.Array  # [M, d] standardised positions
    speed: jax.Array  # [M, d] speeds in the box
    pbest_x: jax.Array  # [M, d]
    pbest_value: jax.Array  # [M]
    best_x: jax.Array  # [d] global best (u = 0 before any tell, as nevergrad)
    best_value: jax.Array  # []
    count: jax.Array  # [] int32
    pending: jax.Array  # [P, d] asked positions
    pending_speed: jax.Array  # [P, d] their speeds


def to_box(u):
    """nevergrad ``ArctanBound(0, 1).forward``: ``½ + arctan(u)/π``; identity when None."""
    return 0.5 + jnp.arctan(u) / jnp.pi


def from_box(y, edge: float = NEVERGRAD_EDGE):
    """Inverse of `to_box` on ``[0, 1]``: ``tan((y − ½)·π)``, ±``edge`` at the edges."""
    inner = jnp.tan((jnp.clip(y, 1e-7, 1 - 1e-7) - 0.5) * jnp.pi)
    return jnp.clip(jnp.where(y >= 1.0, edge, jnp.where(y <= 0.0, -edge, inner)), -edge, edge)


@dataclasses.dataclass(frozen=True)
class PSO(protocol.StrategyBase):
    """nevergrad ``PSO`` (``transform="arctan"``) or ``RealSpacePSO`` (``"identity"``).

    Attributes:
      population: P particles moved per iteration; popsize: M (default ``max(40, P)``).
      transform: ``"arctan"`` or ``"identity"``; edge: where the box edges map back to.
    """

    population: int = 40
    popsize: int = 0
    transform: str = "arctan"
    edge: float = 1e4

    phases = (protocol.VALUE,)
    tracks_slots = False

    def __post_init__(self):
        if self.transform not in ("arctan", "identity"):
            raise ValueError(f"transform must be 'arctan' or 'identity'; got {self.transform!r}")
        if self.popsize and self.popsize < self.population:
            raise ValueError(f"popsize {self.popsize} < population {self.population}")

    @property
    def size(self) -> int:
        return self.popsize or max(40, self.population)

    def default_params(self) -> dict:
        return {"omega": jnp.float32(0.5 / math.log(2.0)),
                "phip": jnp.float32(0.5 + math.log(2.0)), "phig": jnp.float32(0.5 + math.log(2.0))}

    def _fwd(self, u):
        return to_box(u) if self.transform == "arctan" else u

    def _bwd(self, y):
        if self.transform == "arctan":
            return from_box(jnp.clip(y, 0.0, 1.0), self.edge)
        return y

    def init(self, key, latent0, params) -> PSOState:
        del params
        d, m, p = latent0.size, self.size, self.population
        k_x, k_v = jax.random.split(key)
        x = jax.random.normal(k_x, (m, d), jnp.float32)
        speed = (jax.random.uniform(k_v, (m, d), jnp.float32, -1.0, 1.0)
                 if self.transform == "arctan" else jax.random.normal(k_v, (m, d), jnp.float32))
        zeros = jnp.zeros((p, d), jnp.float32)
        return PSOState(latent0, x, speed, x, jnp.full((m,), jnp.inf, jnp.float32),
                        jnp.zeros((d,), jnp.float32), jnp.float32(jnp.inf), jnp.int32(0),
                        zeros, zeros)

    def draw(self, key, state: PSOState) -> dict:
        """``rp, rg [P, d]`` ~ U(0, 1)."""
        shape = (self.population, state.x.shape[1])
        k_p, k_g = jax.random.split(key)
        return {"rp": jax.random.uniform(k_p, shape), "rg": jax.random.uniform(k_g, shape)}

    def candidates(self, draws: dict, state: PSOState, params):
        """``(positions [P, d], speeds [P, d])`` of one ask from given draws."""
        slot, is_new = common.lineage_slots(state.count, self.population, self.size)
        y = self._fwd(state.x[slot])
        speed = (params["omega"] * state.speed[slot]
                 + params["phip"] * draws["rp"] * (self._fwd(state.pbest_x[slot]) - y)
                 + params["phig"] * draws["rg"] * (self._fwd(state.best_x)[None] - y))
        moved = self._bwd(y + speed)
        new = is_new[:, None]
        return jnp.where(new, state.x[slot], moved), jnp.where(new, state.speed[slot], speed)

    def ask(self, key, state: PSOState, params, *, phase: int = 0):
        del phase
        u, speed = self.candidates(self.draw(key, state), state, params)
        out = state.centre[None] + common.rows(u, state.centre)
        return out, state._replace(pending=u, pending_speed=speed)

    def tell(self, key, candidates, evaluation, state: PSOState, params, *, phase: int = 0):
        del key, candidates, params, phase
        values = common.finite_or_inf(evaluation.values)
        slot, _ = common.lineage_slots(state.count, self.population, self.size)
        better = values <= state.pbest_value[slot]
        pbest_x = state.pbest_x.at[slot].set(
            jnp.where(better[:, None], state.pending, state.pbest_x[slot]))
        pbest_value = state.pbest_value.at[slot].set(
            jnp.where(better, values, state.pbest_value[slot]))
        best_x, best_value = common.update_best(state.best_x, state.best_value, state.pending,
                                                values, strict=True)
        new = state._replace(
            x=state.x.at[slot].set(state.pending), speed=state.speed.at[slot].set(
                state.pending_speed), pbest_x=pbest_x, pbest_value=pbest_value, best_x=best_x,
            best_value=best_value, count=state.count + self.population)
        return new, {"population_best": jnp.min(values)}

    def recommend(self, state: PSOState) -> jax.Array:
        """The best point evaluated (``[*latent]``)."""
        return state.centre + state.best_x.reshape(state.centre.shape)


def build(cfg, transform: str = "arctan") -> PSO:
    return PSO(population=int(cfg.get("population", 0)) or 40, popsize=int(cfg.get("popsize", 0)),
               transform=transform)
