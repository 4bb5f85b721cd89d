"""(1+1) evolution strategies as nevergrad 1.0.12 defines them, P mutants per iteration.

Reference: nevergrad 1.0.12 ``optimization/optimizerlib.py``, class ``_OnePlusOne`` with
``mutation`` = ``"gaussian"`` (``OnePlusOne``), ``"discrete"`` (``DiscreteOnePlusOne``) or
``"portfolio"`` (``PortfolioDiscreteOnePlusOne``); mutations from ``optimization/mutations.py``
(``Mutator.discrete_mutation``, ``portfolio_discrete_mutation``; the continuous ``Array`` has no
choices, so the arity is 500 and a mutated coordinate is a fresh N(0, 1) draw).

- The first ask is the initial point (``latent0``, u = 0).
- Every other ask mutates the current pessimistic best (= the argmin of the losses for a
  deterministic loss): gaussian ``u + σ·N(0, I)``; discrete: each coordinate replaced by a
  fresh N(0, 1) with probability 1/d, the mask redrawn while empty; portfolio: the same with
  probability k/d, k uniform in {1, …, d−1} per candidate.
- 1/5th rule (``_internal_tell``, applied for every mutation, used by gaussian only): on each
  tell, if the loss differs from the best loss before it, σ ← 2σ when better, σ ← 0.84σ
  otherwise; σ starts at 1.

Batched semantics (``num_workers = P``): one iteration asks P mutants of the *same* parent with
the same σ (nevergrad's asynchronous 1+λ: concurrent asks all copy the current best), then
tells them in order, each tell applying the 1/5th rule against the running best. So P = 1 is
nevergrad's sequential (1+1), P > 1 its batched ``num_workers = P`` run. Departures: float32;
the noise handling, crossover, annealing and tabu options of ``_OnePlusOne`` are not offered.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent.search import protocol
from jaxlatent.search.population import common

MUTATIONS = ("gaussian", "discrete", "portfolio")


class OnePlusOneState(NamedTuple):
    centre: jax.Array  # [*latent] the initial point (standardised origin)
    parent: jax.Array  # [d] standardised data of the best so far
    parent_value: jax.Array  # [] its loss (+inf before any tell)
    sigma: jax.Array  # [] 1/5th-rule step size
    count: jax.Array  # [] int32, asks so far
    pending: jax.Array  # [P, d] standardised candidates of the last ask


@dataclasses.dataclass(frozen=True)
class OnePlusOne(protocol.StrategyBase):
    """nevergrad ``OnePlusOne`` / ``DiscreteOnePlusOne`` / ``PortfolioDiscreteOnePlusOne``.

    Attributes:
      mutation: ``"gaussian"``, ``"discrete"`` or ``"portfolio"``.
      population: P mutants per iteration (nevergrad ``num_workers``).
    """

    mutation: str = "gaussian"
    population: int = 1

    phases = (protocol.VALUE,)
    tracks_slots = False

    def __post_init__(self):
        if self.mutation not in MUTATIONS:
            raise ValueError(f"unknown mutation {self.mutation!r}; known: {MUTATIONS}")
        if self.population < 1:
            raise ValueError(f"population must be >= 1; got {self.population}")

    def init(self, key, latent0, params) -> OnePlusOneState:
        del key, params
        d = latent0.size
        return OnePlusOneState(latent0, jnp.zeros((d,), jnp.float32), jnp.float32(jnp.inf),
                               jnp.float32(1.0), jnp.int32(0),
                               jnp.zeros((self.population, d), jnp.float32))

    def draw(self, key, state: OnePlusOneState) -> dict:
        """The random draws of one ask: ``normal [P, d]`` and, if discrete, ``mask [P, d]``."""
        p, d = self.population, state.parent.shape[0]
        k_normal, k_mask, k_int = jax.random.split(key, 3)
        draws = {"normal": jax.random.normal(k_normal, (p, d), jnp.float32)}
        if self.mutation == "discrete":
            rate = jnp.full((p,), 1.0 / d)
        elif self.mutation == "portfolio":
            rate = jax.random.randint(k_int, (p,), 1, max(d, 2)) / d if d > 1 else jnp.ones((p,))
        else:
            return draws
        keys = jax.random.split(k_mask, p)
        draws["mask"] = jax.vmap(lambda k, r: common.redraw_until_any(k, r, d))(keys, rate)
        return draws

    def candidates(self, draws: dict, state: OnePlusOneState) -> jax.Array:
        """Standardised candidates ``[P, d]`` from given draws (the first ask is u = 0)."""
        parent = state.parent[None]
        if self.mutation == "gaussian":
            out = parent + state.sigma * draws["normal"]
        else:
            out = jnp.where(draws["mask"], draws["normal"], parent)
        return out.at[0].set(jnp.where(state.count == 0, 0.0, out[0]))

    def ask(self, key, state: OnePlusOneState, params, *, phase: int = 0):
        del params, phase
        u = self.candidates(self.draw(key, state), state)
        return state.centre[None] + common.rows(u, state.centre), state._replace(pending=u)

    def tell(self, key, candidates, evaluation, state: OnePlusOneState, params, *, phase=0):
        del key, candidates, params, phase
        u = state.pending
        values = common.finite_or_inf(evaluation.values)
        sigma = one_fifth_rule(state.sigma, state.parent_value, values)
        parent, value = common.update_best(state.parent, state.parent_value, u, values)
        new = state._replace(parent=parent, parent_value=value, sigma=sigma,
                             count=state.count + u.shape[0])
        return new, {"sigma": sigma, "population_best": jnp.min(values)}

    def recommend(self, state: OnePlusOneState) -> jax.Array:
        """nevergrad's recommendation: the best point evaluated (``[*latent]``)."""
        return state.centre + state.parent.reshape(state.centre.shape)


def one_fifth_rule(sigma, best_value, values):
    """σ after telling ``values`` in order: ×2 if better than the running best, ×0.84 if worse.

    Equal losses leave σ unchanged (nevergrad: ``if self._previous_best_loss != loss``).
    """

    def step(carry, v):
        s, best = carry
        s = jnp.where(v != best, s * jnp.where(v < best, 2.0, 0.84), s)
        return (s, jnp.minimum(best, v)), None

    (sigma, _), _ = jax.lax.scan(step, (sigma, best_value), values)
    return sigma


def build(cfg, mutation: str = "gaussian") -> OnePlusOne:
    return OnePlusOne(mutation=mutation, population=int(cfg.get("population", 0)) or 1)
