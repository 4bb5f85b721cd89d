"""Pure pieces for training the feature Glow (DivRareGen ``scripts/nf_train.py``).

Reference recipe: min-max scaler fit on the training rows (the *last* 70%; the first 30% are for
validation), iteration 0 is a forward pass that data-initialises ActNorm, then Adam 1e-4 with the
learning rate ×0.1 every 500 updates, batch 32, 3000 iterations, loss in bits per dimension

    loss = −(log p(x) + log|det|) / (ln 2 · D).

State is a plain pytree ``{"params", "buffers", "opt_state", "step"}`` so that a run loop can
checkpoint it; only ``params`` is optimised (``buffers`` hold the fixed LU permutations/signs).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlatent.models.glow import Glow


def train_val_split(features, train_fraction: float = 0.7):
    """Reference split: ``train = f[-int(N·0.7):]``, ``val = f[:-int(N·0.7)]``."""
    n_train = int(len(features) * train_fraction)
    return features[-n_train:], features[:-n_train]


def fit_minmax(train_features) -> dict:
    """Per-dimension ``data_min`` and ``data_range`` (zero ranges → 1, as sklearn's scaler).

    Args:
      train_features: ``[N, D]``.

    Returns:
      ``{"data_min": [D], "data_range": [D]}`` float32 numpy arrays.
    """
    f = np.asarray(train_features, np.float64)
    data_min = f.min(0)
    data_range = f.max(0) - data_min
    data_range[data_range == 0.0] = 1.0
    return {"data_min": data_min.astype(np.float32), "data_range": data_range.astype(np.float32)}


def make_optimizer(learning_rate: float = 1e-4, decay_every: int = 500,
                   decay: float = 0.1) -> optax.GradientTransformation:
    """Adam with torch StepLR semantics (stepped once per update, staircase)."""
    schedule = optax.exponential_decay(learning_rate, decay_every, decay, staircase=True)
    return optax.adam(schedule)


def init_variables(model: Glow, key, batch) -> dict:
    """Random init, then data-dependent ActNorm on ``batch`` (the reference's iteration 0).

    Args:
      model: a `Glow`.
      key: PRNG key.
      batch: ``[B, D]`` scaled features (B ≥ 2; the reference uses 32).

    Returns:
      ``{"params", "buffers"}``.
    """
    variables = model.init(key, batch[:2])
    _, updated = jax.jit(lambda v, x: model.apply(v, x, ddi=True, mutable=["params"]))(
        variables, batch)
    return {**variables, "params": updated["params"]}


def loss_bits_per_dim(model: Glow, params, buffers, batch):
    """Mean −log p / (ln 2 · D) over the batch. Returns ``(loss, log_p [B])``."""
    log_p = model.apply({"params": params, "buffers": buffers}, batch)
    return -jnp.mean(log_p) / (math.log(2.0) * batch.shape[-1]), log_p


class FlowTrainer(NamedTuple):
    """Pure functions closed over a model and an optimizer."""

    init: Callable  # (key, batch) -> state
    loss: Callable  # (params, buffers, batch) -> (bits/dim, log_p)
    train_step: Callable  # (state, batch) -> (state, metrics), jitted
    log_likelihood: Callable  # (state, features, batch_size) -> mean log p (nats)


def make_trainer(model: Glow, optimizer: optax.GradientTransformation | None = None
                 ) -> FlowTrainer:
    """Builds `FlowTrainer` functions for ``model`` (default optimizer: `make_optimizer()`)."""
    optimizer = optimizer or make_optimizer()

    def loss(params, buffers, batch):
        return loss_bits_per_dim(model, params, buffers, batch)

    def init(key, batch):
        v = init_variables(model, key, batch)
        return {"params": v["params"], "buffers": v["buffers"],
                "opt_state": optimizer.init(v["params"]), "step": jnp.zeros((), jnp.int32)}

    @jax.jit
    def train_step(state, batch):
        (value, log_p), grads = jax.value_and_grad(loss, has_aux=True)(
            state["params"], state["buffers"], batch)
        updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
        new = dict(state, params=optax.apply_updates(state["params"], updates),
                   opt_state=opt_state, step=state["step"] + 1)
        return new, {"loss_bpd": value, "log_p": jnp.mean(log_p),
                     "grad_norm": optax.tree.norm(grads)}

    log_p_fn = jax.jit(lambda p, b, x: loss(p, b, x)[1])

    def log_likelihood(state, features, batch_size: int = 256):
        """Mean log p (nats) over all rows (the reference drops the last partial val batch)."""
        total = 0.0
        for i in range(0, len(features), batch_size):
            chunk = jnp.asarray(features[i:i + batch_size])
            total += float(jnp.sum(log_p_fn(state["params"], state["buffers"], chunk)))
        return total / len(features)

    return FlowTrainer(init, loss, train_step, log_likelihood)
