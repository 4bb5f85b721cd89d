"""HEVOL: a person is the selection operator of the (μ/μ + λ) evolution (Riviere et al. 2019).

Inspirational generation §3.4 (Algorithm 1) and §5.5: the user sees ``1 + λ`` images, the
current parent ẑ and λ mutants, and clicks μ favourites, the same image possibly several times;
the new parent is the **multiset** mean of the picks (a duplicate counts once per click)::

    z_i = ẑ ⊙ (1 - m_i) + ε_i ⊙ m_i,   m_i ~ Bernoulli(r)^d redrawn while m_i = 0,  ε_i ~ N(0, I)
    ẑ ← Σ_i c_i z_i / Σ_i c_i           (c_i = clicks on image i, Σ c_i = μ),   ẑ₀ = 0

with r = 1/d (d = latent size). Host-evaluated (`jaxlatent.search.host.HostDriver`): the value of
candidate i is ``-c_i``, minus its number of clicks, so "minimised" means "picked most".

Presets (`PRESETS`): ``paper`` (μ = 5 of 1 + 27 = 28, faces), ``fashion`` (μ = 1 of 1 + 15 = 16,
"averaging performs poorly so the user only selects one picture"), ``notebook`` (the official
``facial_comp_interface.ipynb``: the μ = 5 picks are kept as parents and shown again with
λ = 23 mutants, 28 images, each mutant with its own rate r = max(U(0, 1), 1/d)). In the notebook
preset mutant i mutates parent ``i mod μ`` and the parents are stored most-clicked first; the
notebook itself is not in our references, so that parent assignment is our choice.

State: the parents ``[M, *latent]`` (M = μ when parents are kept, else 1). ``ask`` returns the
parents first, then the mutants: candidate 0 is always the current parent (the recommendation).

`jaxlatent.search.population.mu_lambda.MuPlusLambda` is Algorithm 1 with a numeric criterion
(the μ best by value, each counted once, parent last); this strategy differs only where a
person does: clicks are a multiset, the parent is shown first, and the notebook variant.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlatent.search import protocol
from jaxlatent.search.population import common


class HevolState(NamedTuple):
    parents: jax.Array  # [M, *latent]; parents[0] is the recommendation ẑ


def discrete_mutation(key: jax.Array, parent: jax.Array, rate) -> jax.Array:
    """Replaces each coordinate by a fresh N(0, 1) draw with probability ``rate``.

    The mask is `common.redraw_until_any` (shared with `mu_lambda`): redrawn until at least one
    coordinate changes (Algorithm 1, "repeat if no variable was modified").

    Args:
      key: PRNG key.
      parent: ``[*latent]`` the latent to mutate.
      rate: scalar in (0, 1], the per-coordinate replacement probability (may be traced).

    Returns:
      ``[*latent]`` the mutant.
    """
    k_noise, k_mask = jax.random.split(key)
    noise = jax.random.normal(k_noise, parent.shape, parent.dtype)
    mask = common.redraw_until_any(k_mask, rate, parent.size).reshape(parent.shape)
    return jnp.where(mask, noise, parent)


@dataclasses.dataclass(frozen=True)
class Hevol(protocol.StrategyBase):
    """Human-in-the-loop (μ/μ + λ) evolution; values are minus the clicks per candidate.

    Attributes:
      mu: clicks per round (μ), duplicates allowed.
      lam: mutants per round (λ); the page shows ``num_parents + lam`` images.
      keep_parents: False: one parent, the multiset mean of the picks (paper); True: the μ picks
        are the parents, shown again (notebook).
      mixed_rates: each mutant draws its own rate max(U(0, 1), 1/d) (notebook) instead of 1/d.
      mutation_rate: a fixed rate instead of 1/d (None: 1/d, the paper).
    """

    mu: int = 5
    lam: int = 27
    keep_parents: bool = False
    mixed_rates: bool = False
    mutation_rate: float | None = None

    phases = (protocol.VALUE,)
    tracks_slots = False

    def __post_init__(self):
        if int(self.mu) < 1 or int(self.lam) < 1:
            raise ValueError(f"Hevol needs mu >= 1 and lam >= 1; got mu={self.mu}, lam={self.lam}")
        if self.mutation_rate is not None and not 0.0 < self.mutation_rate <= 1.0:
            raise ValueError(f"Hevol mutation_rate must lie in (0, 1]; got {self.mutation_rate}")

    @property
    def num_parents(self) -> int:
        return self.mu if self.keep_parents else 1

    @property
    def population(self) -> int:
        """Images per round: the parents, then the λ mutants."""
        return self.num_parents + self.lam

    def init(self, key, latent0, params) -> HevolState:
        """Every parent is ``latent0`` (ẑ₀; zeros in the paper and notebook)."""
        del key, params
        return HevolState(jnp.broadcast_to(latent0, (self.num_parents,) + latent0.shape))

    def _rates(self, key, d: int) -> jax.Array:
        base = 1.0 / d if self.mutation_rate is None else self.mutation_rate
        if not self.mixed_rates:
            return jnp.full((self.lam,), base, jnp.float32)
        return jnp.maximum(jax.random.uniform(key, (self.lam,)), base)

    def ask(self, key, state: HevolState, params, *, phase: int = 0):
        """``[num_parents + λ, *latent]``: the parents, then mutant i of parent ``i mod M``."""
        del params, phase
        parents = state.parents
        k_rate, k_mut = jax.random.split(key)
        rates = self._rates(k_rate, parents[0].size)
        which = jnp.arange(self.lam) % self.num_parents
        keys = jax.random.split(k_mut, self.lam)
        mutants = jax.vmap(discrete_mutation)(keys, parents[which], rates)
        return jnp.concatenate([parents, mutants]), state

    def tell(self, key, candidates, evaluation, state: HevolState, params, *, phase: int = 0):
        """New parents from the clicks ``c = max(-values, 0)``; no clicks keep the state."""
        del key, params, phase
        counts = jnp.maximum(jnp.round(-evaluation.values), 0.0)
        total = jnp.sum(counts)
        if self.keep_parents:
            order = jnp.argsort(-counts, stable=True)  # most clicked first
            idx = jnp.repeat(order, counts[order].astype(jnp.int32), total_repeat_length=self.mu)
            new = candidates[idx]
        else:
            w = counts.reshape((-1,) + (1,) * (candidates.ndim - 1))
            new = (jnp.sum(w * candidates, axis=0) / jnp.maximum(total, 1.0))[None]
        parents = jnp.where(total > 0, new, state.parents)
        return HevolState(parents), {"clicks": total}


PRESETS = {
    "paper": dict(mu=5, lam=27, keep_parents=False, mixed_rates=False),
    "notebook": dict(mu=5, lam=23, keep_parents=True, mixed_rates=True),
    "fashion": dict(mu=1, lam=15, keep_parents=False, mixed_rates=False),
}


def build(cfg) -> Hevol:
    """``Hevol`` from a preset name (``cfg.preset``, default "paper") and field overrides.

    ``mu``, ``lam`` and ``mutation_rate`` of 0 (or absent) keep the preset's value (rate 1/d).
    """
    get = cfg.get
    preset = get("preset", "paper") or "paper"
    if preset not in PRESETS:
        raise KeyError(f"unknown HEVOL preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
    fields = dict(PRESETS[preset])
    for name in ("mu", "lam", "mutation_rate"):  # 0 or absent: the preset's value
        if get(name, None):
            fields[name] = get(name)
    for name in ("keep_parents", "mixed_rates"):
        if get(name, None) is not None:
            fields[name] = get(name)
    rate = fields.get("mutation_rate")  # None: 1/d
    return Hevol(mu=int(fields["mu"]), lam=int(fields["lam"]),
                 keep_parents=bool(fields["keep_parents"]), mixed_rates=bool(fields["mixed_rates"]),
                 mutation_rate=rate and float(rate))
