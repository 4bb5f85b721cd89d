"""Gradient search with step decays and a reset to the best point before each decay.

Riviere et al., "Inspirational Adversarial Image Generation" (2019), §4.6: "In all cases we
started with a base gradient step equal to one. […] we performed two decays of the gradient step
(dividing it by 10) at 1/3 and 2/3 of the budget, resetting to the best state found so far before
each decay." Optimisers: Adam with β = (0, 0.99), Nesterov momentum 0.9, L-BFGS.

With a budget of B iterations the decays happen after iterations ⌊B/3⌋ and ⌊2B/3⌋: the latents
jump back to the best point evaluated so far (per start), the optimiser state is rebuilt there
(as the official ``resetVar`` intended: a new ``optim.Adam`` on the best z) and the step is
multiplied by ``decay_factor`` (0.1). ``schedule`` selects:

- ``"paper"``: decay **and** reset (the paper's intent; default);
- ``"decay_only"``: the decays without the reset;
- ``"official_noop"``: constant step, no reset: what pytorch_GAN_zoo's main branch really does,
  because ``resetVar`` assigns locals of the nested function (peer-code.md §4.3).

One problem is ``N`` latents ``latent0 [N, *latent]`` (``N = 1`` for an independent start: use
that for L-BFGS, which treats the N latents as one vector). The best is kept per start
(``tracks_slots``). ``info["evals"]`` counts generator calls of the iteration: 1 for Adam,
Nesterov and L-BFGS without line search (``linesearch="none"``, the official
``torch.optim.LBFGS([z], lr=1)``, whose default has no line search), 1 + the zoom line-search
steps with ``linesearch="zoom"`` (optax's default).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxlatent.search import protocol

OPTIMIZERS = ("adam", "nesterov", "sgd", "lbfgs")
SCHEDULES = ("paper", "decay_only", "official_noop")


class ResetState(NamedTuple):
    latents: Any  # [N, *latent]
    opt_state: Any
    lr: jax.Array  # current step size (scalar)
    best_value: jax.Array  # [N], +inf before the first evaluation
    best_latent: Any  # [N, *latent]
    t: jax.Array  # completed iterations (int32)


@dataclasses.dataclass(frozen=True)
class GradientReset(protocol.StrategyBase):
    """Adam / Nesterov / SGD / L-BFGS with the paper's two decays and reset-to-best.

    Attributes:
      optimizer: one of `OPTIMIZERS`.
      budget: iterations of the run (static: the decay iterations are ⌊budget/3⌋, ⌊2·budget/3⌋).
      learning_rate: base step, default of ``params["learning_rate"]`` (the paper: 1).
      schedule: one of `SCHEDULES`.
      b1, b2: Adam's betas (the paper: 0, 0.99, PGAN's training values).
      momentum: Nesterov momentum (0.9).
      decay_factor: multiplier at each decay (0.1).
      linesearch: L-BFGS only: "none" (a fixed step, as torch's LBFGS default) or "zoom".
      restart_norm: if > 0, an update whose mean z² exceeds it (or is not finite) is replaced by
        the best point with a fresh optimiser state (the official code's L-BFGS NaN fallback,
        applied before the value overflows); ``info["restarts"]`` counts them. 0: off.
    """

    optimizer: str = "adam"
    budget: int = 1000
    learning_rate: float = 1.0
    schedule: str = "paper"
    b1: float = 0.0
    b2: float = 0.99
    momentum: float = 0.9
    decay_factor: float = 0.1
    linesearch: str = "none"
    restart_norm: float = 0.0

    phases = (protocol.GRAD,)
    tracks_slots = True

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise KeyError(f"unknown optimizer {self.optimizer!r}; known: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; known: {', '.join(SCHEDULES)}")
        if self.linesearch not in ("none", "zoom"):
            raise ValueError(f"unknown linesearch {self.linesearch!r}; known: none, zoom")
        if self.budget < 1:
            raise ValueError(f"budget must be at least 1 iteration, got {self.budget}")

    @property
    def needs_value_fn(self) -> bool:
        return self.optimizer == "lbfgs" and self.linesearch == "zoom"

    @property
    def decay_steps(self) -> tuple[int, ...]:
        """Iterations after which the step decays (empty for ``official_noop``)."""
        if self.schedule == "official_noop":
            return ()
        return tuple(k for k in (self.budget // 3, 2 * self.budget // 3) if k > 0)

    def default_params(self) -> dict:
        return {"learning_rate": jnp.float32(self.learning_rate)}

    def transform(self, lr) -> optax.GradientTransformation:
        """The optax transformation at step size ``lr`` (may be traced; state shapes fixed)."""
        if self.optimizer == "adam":
            return optax.adam(lr, b1=self.b1, b2=self.b2, eps=1e-8)
        if self.optimizer == "nesterov":
            return optax.sgd(lr, momentum=self.momentum, nesterov=True)
        if self.optimizer == "sgd":
            return optax.sgd(lr)
        if self.linesearch == "none":
            return optax.lbfgs(learning_rate=lr, linesearch=None)
        return optax.lbfgs(learning_rate=lr)

    def init(self, key, latent0, params) -> ResetState:
        del key
        lr = jnp.asarray(params["learning_rate"], jnp.float32)
        inf = jnp.full(latent0.shape[:1], jnp.inf, jnp.float32)
        return ResetState(latent0, self.transform(lr).init(latent0), lr, inf, latent0,
                          jnp.zeros((), jnp.int32))

    def ask(self, key, state: ResetState, params, *, phase: int = 0):
        del key, params, phase
        return state.latents, state

    def tell(self, key, candidates, evaluation: protocol.Evaluation, state: ResetState, params,
             *, phase: int = 0):
        """Best update at ``candidates``, one optax step, then the decay/reset when due."""
        del key, params, phase
        values, grads = evaluation.values, evaluation.grads
        better = jnp.isfinite(values) & (values < state.best_value)
        expand = better.reshape(better.shape + (1,) * (candidates.ndim - 1))
        best_value = jnp.where(better, values, state.best_value)
        best_latent = jnp.where(expand, candidates, state.best_latent)
        tx = self.transform(state.lr)
        extra = {}
        if self.needs_value_fn:
            extra = dict(value=jnp.sum(values), grad=grads, value_fn=evaluation.value_fn)
        updates, opt_state = tx.update(grads, state.opt_state, candidates, **extra)
        latents = optax.apply_updates(candidates, updates)
        t = state.t + 1
        evals = self._evals(opt_state)
        latents, opt_state, restarted = self._guard(latents, opt_state, state.lr, best_latent)
        latents, opt_state, lr = self._maybe_decay(t, latents, opt_state, state.lr, best_latent)
        info = {"grad_norm": jnp.sqrt(jnp.sum(grads**2)), "lr": lr, "evals": evals,
                "restarts": restarted}
        return ResetState(latents, opt_state, lr, best_value, best_latent, t), info

    def _guard(self, latents, opt_state, lr, best_latent):
        if not self.restart_norm:
            return latents, opt_state, jnp.float32(0.0)
        bad = ~jnp.all(jnp.isfinite(latents)) | (jnp.mean(latents**2) > self.restart_norm)
        fresh = self.transform(lr).init(best_latent)
        opt_state = jax.tree.map(lambda a, b: jnp.where(bad, a, b), fresh, opt_state)
        return jnp.where(bad, best_latent, latents), opt_state, bad.astype(jnp.float32)

    def _maybe_decay(self, t, latents, opt_state, lr, best_latent):
        if not self.decay_steps:
            return latents, opt_state, lr
        due = jnp.any(t == jnp.asarray(self.decay_steps))
        new_lr = jnp.where(due, lr * self.decay_factor, lr)
        if self.schedule == "paper":
            # Reset to the best point (where evaluated), with a fresh optimiser state there.
            fresh = self.transform(new_lr).init(best_latent)
            latents = jnp.where(due, best_latent, latents)
            opt_state = jax.tree.map(lambda a, b: jnp.where(due, a, b), fresh, opt_state)
        return latents, opt_state, new_lr

    def _evals(self, opt_state) -> jax.Array:
        if not self.needs_value_fn:
            return jnp.float32(1.0)
        steps = optax.tree_utils.tree_get(opt_state, "num_linesearch_steps")
        return 1.0 + jnp.asarray(steps, jnp.float32)

    def state_is_finite(self, state: ResetState) -> jax.Array:
        """Latents and optimiser moments finite (``best_value`` is +inf before an evaluation)."""
        moments = [x for x in jax.tree.leaves(state.opt_state)  # L-BFGS starts with value +inf
                   if jnp.issubdtype(x.dtype, jnp.floating)]
        finite = [jnp.all(jnp.isfinite(state.latents)), jnp.all(jnp.isfinite(state.lr))]
        finite += [jnp.all(jnp.isfinite(x) | (x == jnp.inf)) for x in moments]
        return jnp.all(jnp.stack(finite))


def build(cfg) -> GradientReset:
    """From a config: ``optimizer``, ``budget``, ``learning_rate``, ``schedule``, options."""
    get = cfg.get
    return GradientReset(
        optimizer=get("optimizer", "adam"), budget=int(get("budget", 1000)),
        learning_rate=float(get("learning_rate", 1.0)), schedule=get("schedule", "paper"),
        b1=float(get("b1", 0.0)), b2=float(get("b2", 0.99)),
        momentum=float(get("momentum", 0.9)), decay_factor=float(get("decay_factor", 0.1)),
        linesearch=get("linesearch", "none"), restart_norm=float(get("restart_norm", 0.0)))
