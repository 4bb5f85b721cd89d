"""Differential evolution as nevergrad 1.0.12 defines it: DE, TwoPointsDE and DDE.

Reference: nevergrad 1.0.12 ``optimization/differentialevolution.py``, class ``_DE`` configured
by ``DifferentialEvolution`` (``DE``: defaults; ``TwoPointsDE``: ``crossover="twopoints"``;
``DiscreteDE``: ``crossover="dimension"``, which is the inspirational-generation paper's DDE,
§3.4.2: "DE with crossover rate 1/d").

- Population ``M = max(30, P)``, drawn from the prior N(0, I) (``initialization =
  "parametrization"``); the first M asks return these individuals.
- Then ask j is a child of lineage ``(j − M) mod M`` (nevergrad's ``UidQueue`` when batches are
  told in ask order): with a, b drawn uniformly *with replacement* from the population (possibly
  equal to the lineage x) and ``best`` the pessimistic best so far (argmin), the donor is
  current-to-best/1, ``x + F1·(a − b) + F2·(best − x)``, F1 = F2 = 0.8.
- Crossover (``Crossover.apply``): binomial (``variablewise``): each coordinate except a forced
  index R comes from x with probability 1 − CR (CR = 0.5; DDE: CR = 1/d); two-points (d ≥ 4,
  else binomial with CR 0.5): two distinct cut points in {0, …, d}, the pair (0, d) fixed by
  moving one end to a random inner point; with probability ½ the middle segment comes from x,
  otherwise the two outer ones.
- Tell: the child replaces its lineage parent when its loss is ``<=`` the parent's.
- nevergrad's bests are confidence bounds over its archive (``utils.MultiValue``): a point
  evaluated once has bounds ``loss ± 0.1·√(10⁶/2) = loss ± 70.71``, a point evaluated again has
  variance 0 and bounds equal to its loss. DE re-evaluates a point when a child equals its parent
  exactly (a = b and the lineage is the best, probability 1/M per generation). So the
  *pessimistic* best (the ``best`` of current-to-best) sticks to a re-evaluated point unless a
  new loss is 70.71 lower, and the *optimistic* best (the recommendation) avoids it. Both are
  modelled here for deterministic losses (`_tell_one`): per-slot evaluation counts, the
  pessimistic best, and the optimistic best as the best once-evaluated point (top two kept) or
  the best re-evaluated one.

Batched semantics: P candidates per iteration are P consecutive asks (all seeing the
population and best of the previous iteration), then P tells in order. With the default
P = 30 one iteration is one DE generation. Departures: float32; the multi-objective,
``high_speed`` and other initialisations of ``_DE`` are not offered.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent.search import protocol
from jaxlatent.search.population import common

CROSSOVERS = ("binomial", "twopoints", "dimension")


BOUND = 0.1 * (1e6 / 2) ** 0.5  # nevergrad MultiValue: 0.1·√(variance / (1 + count)), count 1


class DEState(NamedTuple):
    centre: jax.Array  # [*latent]
    pop: jax.Array  # [M, d] standardised individuals
    pop_value: jax.Array  # [M] +inf until told
    pop_count: jax.Array  # [M] int32 evaluations of each individual's point
    best_x: jax.Array  # [d] pessimistic best (u = 0 before any tell)
    best_value: jax.Array  # []
    best_count: jax.Array  # [] int32
    once: jax.Array  # [2, d] the two best points evaluated once (optimistic candidates)
    once_value: jax.Array  # [2]
    again_x: jax.Array  # [d] best re-evaluated point
    again_value: jax.Array  # []
    count: jax.Array  # [] int32 asks so far
    pending: jax.Array  # [P, d] the last ask


@dataclasses.dataclass(frozen=True)
class DifferentialEvolution(protocol.StrategyBase):
    """nevergrad ``DE`` (``crossover="binomial"``), ``TwoPointsDE``, ``DiscreteDE`` (DDE).

    Attributes:
      crossover: ``"binomial"`` (CR = ``params["cr"]``), ``"twopoints"`` or ``"dimension"``
        (binomial with CR = 1/d).
      population: P candidates per iteration (nevergrad ``num_workers``).
      popsize: M, default ``max(30, P)``; must be >= P.
    """

    crossover: str = "binomial"
    population: int = 30
    popsize: int = 0

    phases = (protocol.VALUE,)
    tracks_slots = False

    def __post_init__(self):
        if self.crossover not in CROSSOVERS:
            raise ValueError(f"unknown crossover {self.crossover!r}; known: {CROSSOVERS}")
        if self.popsize and self.popsize < self.population:
            raise ValueError(f"popsize {self.popsize} < population {self.population}: one "
                             "iteration may not ask two children of one lineage")

    @property
    def size(self) -> int:
        return self.popsize or max(30, self.population)

    def default_params(self) -> dict:
        return {"f1": jnp.float32(0.8), "f2": jnp.float32(0.8), "cr": jnp.float32(0.5)}

    def init(self, key, latent0, params) -> DEState:
        del params
        d = latent0.size
        m, zeros, inf = self.size, jnp.zeros((d,), jnp.float32), jnp.float32(jnp.inf)
        pop = jax.random.normal(key, (m, d), jnp.float32)
        return DEState(latent0, pop, jnp.full((m,), jnp.inf, jnp.float32),
                       jnp.zeros((m,), jnp.int32), zeros, inf, jnp.int32(1),
                       jnp.zeros((2, d), jnp.float32), jnp.full((2,), jnp.inf, jnp.float32),
                       zeros, inf, jnp.int32(0), jnp.zeros((self.population, d), jnp.float32))

    def draw(self, key, state: DEState) -> dict:
        """Random draws of one ask: parents ``a, b [P]`` and the crossover's draws."""
        p, d, m = self.population, state.pop.shape[1], self.size
        ks = jax.random.split(key, 8)
        draws = {"a": jax.random.randint(ks[0], (p,), 0, m),
                 "b": jax.random.randint(ks[1], (p,), 0, m)}
        if self.crossover == "twopoints" and d >= 4:
            i = jax.random.randint(ks[2], (p,), 0, d + 1)
            j = jax.random.randint(ks[3], (p,), 0, d)
            j = j + (j >= i)
            lo, hi = jnp.minimum(i, j), jnp.maximum(i, j)
            whole = (lo == 0) & (hi == d)
            inner = jax.random.randint(ks[4], (p,), 1, d)
            end = jax.random.bernoulli(ks[5], 0.5, (p,))
            lo = jnp.where(whole & ~end, inner, lo)
            hi = jnp.where(whole & end, inner, hi)
            draws.update(lo=lo, hi=hi, middle=jax.random.bernoulli(ks[6], 0.5, (p,)))
        else:
            draws.update(r=jax.random.randint(ks[2], (p,), 0, d),
                         u=jax.random.uniform(ks[3], (p, d)))
        return draws

    def candidates(self, draws: dict, state: DEState, params) -> jax.Array:
        """Standardised candidates ``[P, d]``: new individuals first, then children."""
        slot, is_new = common.lineage_slots(state.count, self.population, self.size)
        x = state.pop[slot]
        a, b = state.pop[draws["a"]], state.pop[draws["b"]]
        donor = x + params["f1"] * (a - b) + params["f2"] * (state.best_x[None] - x)
        keep_parent = self._from_parent(draws, x.shape[1], params)
        child = jnp.where(keep_parent, x, donor)
        return jnp.where(is_new[:, None], x, child)

    def _from_parent(self, draws, d: int, params) -> jax.Array:
        """``[P, d]`` True where the child takes the parent's coordinate."""
        idx = jnp.arange(d)[None]
        if "lo" in draws:
            inside = (idx >= draws["lo"][:, None]) & (idx < draws["hi"][:, None])
            return jnp.where(draws["middle"][:, None], inside, ~inside)
        cr = 1.0 / d if self.crossover == "dimension" else params["cr"]
        return (idx != draws["r"][:, None]) & (draws["u"] > cr)

    def ask(self, key, state: DEState, params, *, phase: int = 0):
        del phase
        u = self.candidates(self.draw(key, state), state, params)
        return state.centre[None] + common.rows(u, state.centre), state._replace(pending=u)

    def tell(self, key, candidates, evaluation, state: DEState, params, *, phase: int = 0):
        del key, candidates, params, phase
        values = common.finite_or_inf(evaluation.values)
        slot, is_new = common.lineage_slots(state.count, self.population, self.size)
        dup = ~is_new & jnp.all(state.pending == state.pop[slot], axis=1)
        state, replaced = jax.lax.scan(_tell_one, state, (slot, is_new, dup, state.pending,
                                                          values))
        state = state._replace(count=state.count + self.population)
        return state, {"population_best": jnp.min(values), "replaced": jnp.mean(replaced),
                       "reevaluated": jnp.mean(dup)}

    def recommend(self, state: DEState) -> jax.Array:
        """nevergrad's ``recommendation="optimistic"`` (``[*latent]``): the best point evaluated
        once (bound loss − 70.71) unless a re-evaluated point's loss is lower still."""
        use_once = state.once_value[0] - BOUND <= state.again_value
        x = jnp.where(use_once, state.once[0], state.again_x)
        return state.centre + x.reshape(state.centre.shape)


def _pessimistic(value, count):
    return value + jnp.where(count == 1, BOUND, 0.0)


def _tell_one(state: DEState, row):
    """One nevergrad tell: population replacement, archive counts and the two bests."""
    s, is_new, dup, x, v = row
    parent_value = state.pop_value[s]
    replace = is_new | (~dup & (v <= parent_value))
    count = jnp.where(dup, state.pop_count[s] + 1, 1)
    pop = state.pop.at[s].set(jnp.where(replace, x, state.pop[s]))
    pop_value = state.pop_value.at[s].set(jnp.where(replace, v, parent_value))
    pop_count = state.pop_count.at[s].set(jnp.where(replace | dup, count, state.pop_count[s]))
    same = dup & jnp.all(x == state.best_x)
    wins = _pessimistic(v, count) <= _pessimistic(state.best_value, state.best_count)
    take = same | (wins & jnp.isfinite(v))
    best_x = jnp.where(take, x, state.best_x)
    best_value = jnp.where(take, v, state.best_value)
    best_count = jnp.where(take, count, state.best_count)
    once, once_value = _once_update(state.once, state.once_value, x, v, dup)
    again = dup & (v <= state.again_value)
    new = state._replace(
        pop=pop, pop_value=pop_value, pop_count=pop_count, best_x=best_x, best_value=best_value,
        best_count=best_count, once=once, once_value=once_value,
        again_x=jnp.where(again, x, state.again_x),
        again_value=jnp.where(again, v, state.again_value))
    return new, replace


def _once_update(once, once_value, x, v, dup):
    """Top two once-evaluated points: insert a new point, or drop a point evaluated again."""
    hit = dup & jnp.all(once == x[None], axis=1)  # [2]
    dropped_value = jnp.where(hit, jnp.inf, once_value)
    first_gone = hit[0]
    dropped = jnp.where(first_gone, jnp.stack([once[1], once[1]]), once)
    dropped_value = jnp.where(first_gone, jnp.stack([dropped_value[1], jnp.inf]), dropped_value)
    top = ~dup & (v <= once_value[0])
    second = ~dup & ~top & (v <= once_value[1])
    ins = jnp.where(top, jnp.stack([x, once[0]]),
                    jnp.where(second, jnp.stack([once[0], x]), once))
    ins_value = jnp.where(top, jnp.stack([v, once_value[0]]),
                          jnp.where(second, jnp.stack([once_value[0], v]), once_value))
    return jnp.where(dup, dropped, ins), jnp.where(dup, dropped_value, ins_value)


def build(cfg, crossover: str = "binomial") -> DifferentialEvolution:
    return DifferentialEvolution(crossover=crossover, population=int(cfg.get("population", 0)) or 30,
                                 popsize=int(cfg.get("popsize", 0)))
