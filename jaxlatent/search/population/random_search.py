"""Random search: a fresh batch from the prior every iteration, keep the best.

Riviere et al., "Inspirational Adversarial Image Generation" (2019), §3.4: "random search"
draws N(0, I) latents and keeps the best one. With ``centred = True`` the draws are
``centre + σ·N(0, I)`` around ``latent0`` instead (nevergrad's ``RandomSearch`` with a
``scale``; its default σ = 1 and centre 0 equal the prior). The recommendation is the best
candidate evaluated so far (the runner's ``best_latent``: pessimistic and optimistic bests
coincide for deterministic losses).

One iteration asks ``population`` candidates ``[P, *latent]``; a budget of B evaluations is
``B / P`` iterations. State: the centre only (the runner tracks the best).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent.search import protocol


class RandomSearchState(NamedTuple):
    centre: jax.Array  # [*latent]


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
        return RandomSearchState(centre)

    def ask(self, key, state: RandomSearchState, params, *, phase: int = 0):
        del phase
        shape = (self.population,) + state.centre.shape
        noise = jax.random.normal(key, shape, state.centre.dtype)
        return state.centre + params["sigma"] * noise, state

    def tell(self, key, candidates, evaluation, state, params, *, phase: int = 0):
        del key, candidates, params, phase
        return state, {"population_best": jnp.min(evaluation.values)}


def build(cfg) -> RandomSearch:
    get = cfg.get
    return RandomSearch(population=int(get("population", 32)), centred=bool(get("centred", False)))
