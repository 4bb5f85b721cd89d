"""The search protocol: every strategy is ``init / ask / tell`` over a state pytree.

One strategy instance describes how to search **one problem**; the runner
(`jaxlatent.search.runner`) vmaps it over problems, evaluates the candidates and shards the
problems over devices. Key first, pure, minimising (as evosax and optax)::

    state = strategy.init(key, latent0, params)
    for phase in range(len(strategy.phases)):                      # one iteration
        candidates, state = strategy.ask(key_ask, state, params, phase=phase)    # [P, *latent]
        evaluation = <evaluate candidates as strategy.phases[phase] asks>
        state, info = strategy.tell(key_tell, candidates, evaluation, state, params, phase=phase)

``strategy.phases`` is a static tuple naming what each phase needs evaluated:

- ``"value"``: objective values ``[P]`` and aux;
- ``"grad"``: also ``grads [P, *latent]``, the gradient of the phase's total loss
  (Σ values + the problem's group term) with respect to each candidate;
- ``"jacobian"``: also ``outputs [P, K]`` = ``strategy.jacobian_outputs(value, aux)`` per
  candidate and their Jacobian ``jacobians [P, K, *latent]`` (CMA-MAEGA: objective and measures).

A strategy is a frozen dataclass: its configuration is static and hashed by value (never jit a
method with a static ``self`` that can change), its numeric hyper-parameters are ``params``
(``default_params()``), a traced pytree, so the same compiled program serves other values.
``tracks_slots`` says how the runner keeps the best: ``True`` when candidate ``i`` is always
the same start (gradient descent of N starts: a best per start), ``False`` for populations (the
best over all candidates ever asked, argmin per phase).

What is *not* checked: that ``ask`` returns the same shapes every iteration (it must, for jit),
and that a strategy reads only the evaluation fields its phase declares.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

VALUE, GRAD, JACOBIAN = "value", "grad", "jacobian"
PHASE_KINDS = (VALUE, GRAD, JACOBIAN)


class Evaluation(NamedTuple):
    """What the runner (or a person, in host-evaluated mode) reports for one ``ask``.

    Attributes:
      values: ``[P]`` objective values, minimised; non-finite values are never the best.
      aux: dict of per-candidate diagnostics, leaves ``[P, ...]`` (e.g. ``"measures"``).
      grads: ``[P, *latent]`` in ``"grad"`` phases, else None.
      outputs: ``[P, K]`` the differentiated outputs in ``"jacobian"`` phases, else None.
      jacobians: ``[P, K, *latent]`` in ``"jacobian"`` phases, else None.
      value_fn: ``candidates [P, *latent] -> total loss``, given only to strategies whose
        ``needs_value_fn`` is True (L-BFGS line search); never in host-evaluated mode.
    """

    values: jax.Array
    aux: dict
    grads: Any = None
    outputs: Any = None
    jacobians: Any = None
    value_fn: Callable | None = None


def default_phase_keys(step_key: jax.Array, num_phases: int) -> list[tuple]:
    """``[(ask_key, eval_key, tell_key)] * num_phases`` from one iteration's key."""
    return [tuple(jax.random.split(jax.random.fold_in(step_key, i), 3)) for i in range(num_phases)]


class StrategyBase:
    """Defaults shared by strategies (mixin for frozen dataclasses)."""

    phases: tuple[str, ...] = (VALUE,)
    tracks_slots: bool = False
    needs_value_fn: bool = False
    measures_key: str = "measures"

    def default_params(self) -> dict:
        return {}

    def phase_keys(self, step_key: jax.Array) -> list[tuple]:
        """Per-phase ``(ask, eval, tell)`` keys of one iteration (a strategy may fix its layout)."""
        return default_phase_keys(step_key, len(self.phases))

    def jacobian_outputs(self, value: jax.Array, aux: dict) -> jax.Array:
        """``[K]`` outputs differentiated in ``"jacobian"`` phases: value, then the measures."""
        measures = jnp.reshape(aux[self.measures_key], (-1,))
        return jnp.concatenate([jnp.reshape(value, (1,)), measures])

    def init(self, key, latent0, params):
        raise NotImplementedError

    def ask(self, key, state, params, *, phase: int = 0):
        raise NotImplementedError

    def tell(self, key, candidates, evaluation: Evaluation, state, params, *, phase: int = 0):
        raise NotImplementedError


def check_strategy(strategy) -> None:
    """Raises ValueError naming what is wrong with a strategy's static declaration."""
    phases = tuple(getattr(strategy, "phases", ()))
    bad = [p for p in phases if p not in PHASE_KINDS]
    if not phases or bad:
        raise ValueError(f"{type(strategy).__name__}.phases must be a non-empty tuple of "
                         f"{PHASE_KINDS}; got {phases!r}")
    for name in ("init", "ask", "tell"):
        if not callable(getattr(strategy, name, None)):
            raise ValueError(f"{type(strategy).__name__} has no {name}() method")
