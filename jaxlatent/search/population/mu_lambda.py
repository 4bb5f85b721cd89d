"""The inspirational-generation paper's (μ/μ + λ)-optimisation (Algorithm 1) and its DOPO.

Reference: Rivière et al., "Inspirational Adversarial Image Generation" (2019), §3.4.2,
Algorithm 1, with ẑ₀ = ``latent0`` (the paper: 0)::

    loop:  z_i := ẑ with each coordinate replaced by an independent N(0, 1) value with
           probability 1/d, repeated while no coordinate changed       (i = 1..λ)
           z_{λ+1} := ẑ
           select the μ best of z_1..z_{λ+1};  ẑ := their mean

The paper's DOPO is μ = λ = 1; HEVOL is the same loop with a person choosing the μ best
(μ = 5, λ = 27: 28 images per screen), run through `jaxlatent.search.host.HostDriver`.
Replacement happens in standardised space (``latent0 + N(0, 1)``, i.e. N(0, 1) for
ẑ₀ = 0).

One iteration asks the P = λ + 1 candidates ``[z_1, …, z_λ, ẑ]``: the parent is re-evaluated
every iteration as the algorithm states (so it costs one evaluation per iteration, and a noisy
or human criterion can re-judge it). Ties are broken by candidate order (the parent last).
This differs from nevergrad's ``DiscreteOnePlusOne`` (`one_plus_one`), which never
re-evaluates the parent and keeps the best ever seen. ``recommend`` returns ẑ (the
algorithm's output); the runner's ``best_latent`` is the best evaluated candidate.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent.search import protocol
from jaxlatent.search.population import common


class MuLambdaState(NamedTuple):
    centre: jax.Array  # [*latent]
    zhat: jax.Array  # [d] standardised ẑ


@dataclasses.dataclass(frozen=True)
class MuPlusLambda(protocol.StrategyBase):
    """Algorithm 1 with μ parents averaged out of λ offspring + the parent.

    Attributes:
      mu: number selected (1 ≤ μ ≤ λ + 1); lam: offspring per iteration.
      mutation_rate: per-coordinate replacement probability (0: 1/d, the paper).
    """

    mu: int = 1
    lam: int = 1
    mutation_rate: float = 0.0

    phases = (protocol.VALUE,)
    tracks_slots = False

    def __post_init__(self):
        if self.lam < 1 or not 1 <= self.mu <= self.lam + 1:
            raise ValueError(f"need lam >= 1 and 1 <= mu <= lam + 1; got mu={self.mu}, "
                             f"lam={self.lam}")

    @property
    def population(self) -> int:
        return self.lam + 1

    def init(self, key, latent0, params) -> MuLambdaState:
        del key, params
        return MuLambdaState(latent0, jnp.zeros((latent0.size,), jnp.float32))

    def draw(self, key, state: MuLambdaState) -> dict:
        d = state.zhat.shape[0]
        rate = self.mutation_rate or 1.0 / d
        k_mask, k_normal = jax.random.split(key)
        masks = jax.vmap(lambda k: common.redraw_until_any(k, rate, d))(
            jax.random.split(k_mask, self.lam))
        return {"mask": masks, "normal": jax.random.normal(k_normal, (self.lam, d))}

    def candidates(self, draws: dict, state: MuLambdaState) -> jax.Array:
        """``[λ + 1, d]``: the λ mutants, then ẑ."""
        mutants = jnp.where(draws["mask"], draws["normal"], state.zhat[None])
        return jnp.concatenate([mutants, state.zhat[None]])

    def ask(self, key, state: MuLambdaState, params, *, phase: int = 0):
        del params, phase
        u = self.candidates(self.draw(key, state), state)
        return state.centre[None] + common.rows(u, state.centre), state

    def tell(self, key, candidates, evaluation, state: MuLambdaState, params, *, phase=0):
        del key, params, phase
        u = jnp.concatenate([candidates[:-1].reshape(self.lam, -1)
                             - common.flat(state.centre)[None], state.zhat[None]])
        values = common.finite_or_inf(evaluation.values)
        chosen = jnp.argsort(values, stable=True)[: self.mu]
        zhat = jnp.mean(u[chosen], axis=0)
        return state._replace(zhat=zhat), {"population_best": jnp.min(values)}

    def recommend(self, state: MuLambdaState) -> jax.Array:
        """ẑ, the algorithm's output (``[*latent]``)."""
        return state.centre + state.zhat.reshape(state.centre.shape)


def build(cfg) -> MuPlusLambda:
    return MuPlusLambda(mu=int(cfg.get("mu", 1)), lam=int(cfg.get("lam", 1)),
                        mutation_rate=float(cfg.get("mutation_rate", 0.0)))
