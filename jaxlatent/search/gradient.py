"""Gradient search over one group of starts, driven by any optax transformation.

A *group* is ``N`` latents optimised together (``N = 1`` for independent multi-start; ``N > 1``
when a group term such as DivRare's diversity couples them). The runner vmaps this over groups.
For element-wise optimisers (Adam, SGD, Nesterov) a group of N is identical to N independent
starts; L-BFGS treats the group as one problem, so use ``N = 1`` for per-start L-BFGS.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax


class GradState(NamedTuple):
    latents: jax.Array  # [N, *latent_shape]
    opt_state: Any


class GradientSearch(NamedTuple):
    """``init(key, latents0, loss_fn)`` / ``step(state, key, loss_fn)`` for one group.

    ``loss_fn(latents, key) -> (total, (values [N], aux))`` is built by the runner.
    """

    tx: optax.GradientTransformation
    uses_value_fn: bool = False  # optax.lbfgs needs value/grad/value_fn in update

    def init(self, key, latents0, loss_fn) -> GradState:
        del key, loss_fn
        return GradState(latents0, self.tx.init(latents0))

    def step(self, state: GradState, key, loss_fn):
        """One update.

        Returns:
          ``(new_state, (evaluated [N, ...], values [N], aux, info))`` where ``evaluated`` are the
          latents the values belong to (the ones before this update).
        """
        (total, (values, aux)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.latents, key)
        extra = {}
        if self.uses_value_fn:
            extra = dict(value=total, grad=grads, value_fn=lambda z: loss_fn(z, key)[0])
        updates, opt_state = self.tx.update(grads, state.opt_state, state.latents, **extra)
        latents = optax.apply_updates(state.latents, updates)
        info = {"loss": total, "grad_norm": jnp.sqrt(jnp.sum(grads**2))}
        return GradState(latents, opt_state), (state.latents, values, aux, info)


def adam(learning_rate: float | Callable = 2e-2, b1: float = 0.9, b2: float = 0.999,
         weight_decay: float = 0.0) -> GradientSearch:
    """Adam; ``weight_decay`` is torch's *coupled* L2 (added to the gradient), as BigGAN-AM uses."""
    parts = [optax.add_decayed_weights(weight_decay)] if weight_decay else []
    return GradientSearch(optax.chain(*parts, optax.adam(learning_rate, b1=b1, b2=b2)))


def step_decay(learning_rate: float, every: int, factor: float) -> optax.Schedule:
    """torch StepLR stepped every iteration: lr · factor^⌊t / every⌋."""
    return optax.exponential_decay(learning_rate, every, factor, staircase=True)


def build(cfg) -> GradientSearch:
    """From a config: ``name`` in {adam, sgd, nesterov, lbfgs}, ``learning_rate``, options."""
    lr = cfg.learning_rate
    if cfg.get("decay_every", 0):
        lr = step_decay(cfg.learning_rate, cfg.decay_every, cfg.decay_factor)
    if cfg.name == "adam":
        return adam(lr, cfg.get("b1", 0.9), cfg.get("b2", 0.999), cfg.get("weight_decay", 0.0))
    if cfg.name == "sgd":
        return GradientSearch(optax.sgd(lr))
    if cfg.name == "nesterov":
        return GradientSearch(optax.sgd(lr, momentum=cfg.get("momentum", 0.9), nesterov=True))
    if cfg.name == "lbfgs":
        return GradientSearch(optax.lbfgs(), uses_value_fn=True)
    raise KeyError(f"unknown gradient search {cfg.name!r}; known: adam, sgd, nesterov, lbfgs")
