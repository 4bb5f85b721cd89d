"""Gradient searches as strategies of the search protocol, driven by optax transformations.

One problem is ``N`` latents optimised together (``latent0 [N, *latent]``; ``N = 1`` for an
independent start, ``N > 1`` when a group term such as DivRare's diversity couples them). Each
iteration is one ``"grad"`` phase: ``ask`` returns the current latents, the runner evaluates
the loss and its gradient there, ``tell`` applies the optax update. The best is tracked per
start (``tracks_slots``). For element-wise optimisers (Adam, SGD, Nesterov) a problem of N is
identical to N problems of 1; L-BFGS treats the N latents as one problem, so use ``N = 1`` for
per-start L-BFGS.

The strategy is a frozen dataclass (static, hashed by value: the same configuration reuses the
compiled program); the learning rate is a traced parameter (``params["learning_rate"]``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax.numpy as jnp
import optax

from jaxlatent.search import protocol

NAMES = ("adam", "sgd", "nesterov", "lbfgs")


class GradState(NamedTuple):
    latents: Any  # [N, *latent_shape]
    opt_state: Any


@dataclasses.dataclass(frozen=True)
class GradientSearch(protocol.StrategyBase):
    """Gradient descent on the candidates' loss with an optax optimizer.

    Attributes:
      name: ``adam`` (torch-style *coupled* L2 ``weight_decay``, as BigGAN-AM), ``sgd``,
        ``nesterov`` (``momentum``), ``lbfgs`` (optax's zoom line search; learning rate unused).
      learning_rate: default of ``params["learning_rate"]``.
      decay_every, decay_factor: torch StepLR stepped every iteration, lr·factor^⌊t/every⌋
        (``decay_every = 0``: constant).
    """

    name: str = "adam"
    learning_rate: float = 2e-2
    b1: float = 0.9
    b2: float = 0.999
    weight_decay: float = 0.0
    momentum: float = 0.9
    decay_every: int = 0
    decay_factor: float = 1.0

    phases = (protocol.GRAD,)
    tracks_slots = True

    def __post_init__(self):
        if self.name not in NAMES:
            raise KeyError(f"unknown gradient search {self.name!r}; known: {', '.join(NAMES)}")

    @property
    def needs_value_fn(self) -> bool:  # optax.lbfgs needs value/grad/value_fn in update
        return self.name == "lbfgs"

    def default_params(self) -> dict:
        return {"learning_rate": jnp.float32(self.learning_rate)}

    def transform(self, params) -> optax.GradientTransformation:
        """The optax transformation; ``params["learning_rate"]`` may be traced."""
        lr = params["learning_rate"]
        if self.decay_every:
            lr = optax.exponential_decay(lr, self.decay_every, self.decay_factor, staircase=True)
        if self.name == "adam":
            parts = [optax.add_decayed_weights(self.weight_decay)] if self.weight_decay else []
            return optax.chain(*parts, optax.adam(lr, b1=self.b1, b2=self.b2))
        if self.name == "sgd":
            return optax.sgd(lr)
        if self.name == "nesterov":
            return optax.sgd(lr, momentum=self.momentum, nesterov=True)
        return optax.lbfgs()

    def init(self, key, latent0, params) -> GradState:
        del key
        return GradState(latent0, self.transform(params).init(latent0))

    def ask(self, key, state: GradState, params, *, phase: int = 0):
        del key, params, phase
        return state.latents, state

    def tell(self, key, candidates, evaluation: protocol.Evaluation, state: GradState, params, *,
             phase: int = 0):
        """One optax update from the gradient at ``candidates`` (= ``state.latents``)."""
        del key, phase
        grads = evaluation.grads
        extra = {}
        if self.needs_value_fn:
            extra = dict(value=jnp.sum(evaluation.values), grad=grads,
                         value_fn=evaluation.value_fn)
        updates, opt_state = self.transform(params).update(grads, state.opt_state, candidates,
                                                           **extra)
        latents = optax.apply_updates(candidates, updates)
        return GradState(latents, opt_state), {"grad_norm": jnp.sqrt(jnp.sum(grads**2))}


def adam(learning_rate: float = 2e-2, b1: float = 0.9, b2: float = 0.999,
         weight_decay: float = 0.0) -> GradientSearch:
    """Adam; ``weight_decay`` is torch's *coupled* L2 (added to the gradient), as BigGAN-AM uses."""
    return GradientSearch("adam", learning_rate, b1, b2, weight_decay)


def build(cfg) -> GradientSearch:
    """From a config: ``name`` in {adam, sgd, nesterov, lbfgs}, ``learning_rate``, options."""
    return GradientSearch(
        name=cfg["name"], learning_rate=float(cfg.get("learning_rate", 2e-2)),
        b1=cfg.get("b1", 0.9), b2=cfg.get("b2", 0.999),
        weight_decay=cfg.get("weight_decay", 0.0), momentum=cfg.get("momentum", 0.9),
        decay_every=int(cfg.get("decay_every", 0)), decay_factor=cfg.get("decay_factor", 1.0),
    )
