"""Random search: a fresh batch from the prior every iteration, keep the best.

Riviere et al., "Inspirational Adversarial Image Generation" (2019), §3.4: "random search"
draws N(0, I) latents and keeps the best one. With ``centred = True`` the draws are
``centre + σ·N(0, I)`` around ``latent0`` instead (nevergrad's ``RandomSearch`` with a
``scale``; its default σ = 1 and centre 0 equal the prior). The recommendation is the best
candidate evaluated so far (the runner's ``best_latent``: pessimistic and optimistic bests
coincide for deterministic losses).

The paper's random search and nevergrad 1.0.12's ``RandomSearch`` (``optimization/oneshot.py``
``_RandomSearch`` with its defaults: ``sampler="parametrization"``, scale 1, no middle point, no
opposition, ``recommendation_rule="pessimistic"``) are the same algorithm for an unbounded
array: i.i.d. N(0, I) candidates in standardised space, the best one kept.

One iteration asks ``population`` candidates ``[P, *latent]``; a budget of B evaluations is
``B / P`` iterations (nevergrad with ``num_workers = P``: its draws do not depend on the tells,
so batching changes nothing). State: the centre and the best so far (``recommend``; nevergrad's
tie rule ``<=``).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent.search import protocol
from jaxlatent.search.population import common


class RandomSearchState(NamedTuple):
    centre: jax.Array  # [*latent]
    best_x: jax.Array  # [*latent] best candidate so far (the centre before any tell)
    best_value: jax.Array  # [] its loss, +inf before any tell


@dataclasses.dataclass(frozen=True)
class RandomSearch(protocol.StrategyBase):
    """``population`` i.i.d. draws per iteration from N(centre, σ²I) (centre 0 by default)."""

    population: int = 32
    centred: bool = False

    phases = (protocol.VALUE,)
    tracks_slots = False

    def default_params(self) -> dict:
        return {"sigma": jnp.float32(1.0)}

    def init(self, key, latent0, params) -> RandomSearchState:
        del key, params
        centre = latent0 if self.centred else jnp.zeros_like(latent0)
        return RandomSearchState(centre, centre, jnp.float32(jnp.inf))

    def ask(self, key, state: RandomSearchState, params, *, phase: int = 0):
        del phase
        shape = (self.population,) + state.centre.shape
        noise = jax.random.normal(key, shape, state.centre.dtype)
        return state.centre + params["sigma"] * noise, state

    def tell(self, key, candidates, evaluation, state, params, *, phase: int = 0):
        del key, params, phase
        values = common.finite_or_inf(evaluation.values)
        flat = candidates.reshape(candidates.shape[0], -1)
        best, value = common.update_best(common.flat(state.best_x), state.best_value, flat, values)
        state = state._replace(best_x=best.reshape(state.centre.shape), best_value=value)
        return state, {"population_best": jnp.min(evaluation.values)}

    def recommend(self, state: RandomSearchState) -> jax.Array:
        """The best candidate evaluated (``[*latent]``)."""
        return state.best_x


def build(cfg) -> RandomSearch:
    get = cfg.get
    return RandomSearch(population=int(get("population", 0)) or 32, centred=bool(get("centred", False)))
