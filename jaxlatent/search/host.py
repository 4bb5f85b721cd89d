"""Host-evaluated mode: the same jitted ``ask`` / ``tell`` driven one phase at a time.

For evaluations that cannot run inside a compiled program — a person choosing images (HEVOL),
an external simulator, a web service — `HostDriver` asks a strategy for candidates, hands them
out as numpy arrays and takes the values back. Randomness, phase order and best tracking are
those of `jaxlatent.search.runner` for a problem with the same key, so a scripted evaluator that
computes the runner's objective reproduces a runner run exactly (tested). The driver's state can
be written to and read from an ``.npz`` file (`save` / `load`), so a session survives a restart.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.search import protocol
from jaxlatent.search.evaluate import track_best


@functools.lru_cache(maxsize=32)
def _jitted(strategy):
    ask = jax.jit(lambda k, s, p, phase: strategy.ask(k, s, p, phase=phase), static_argnums=3)
    tell = jax.jit(lambda k, c, e, s, p, phase: strategy.tell(k, c, e, s, p, phase=phase),
                   static_argnums=5)
    init = jax.jit(strategy.init)
    return init, ask, tell


class HostDriver:
    """One problem of ``strategy``, evaluated from outside.

    Example:
      >>> from jaxlatent.search.population.random_search import RandomSearch
      >>> d = HostDriver(RandomSearch(population=4), jax.random.key(0), jnp.zeros(3))
      >>> x = d.ask()
      >>> info = d.tell(np.sum(x**2, axis=1))
      >>> d.iteration, d.best_value.shape
      (1, (1,))
    """

    def __init__(self, strategy, key: jax.Array, latent0, params=None):
        protocol.check_strategy(strategy)
        self.strategy, self.key = strategy, key
        self.params = strategy.default_params() if params is None else params
        self._init, self._ask, self._tell = _jitted(strategy)
        self.state = self._init(key, jnp.asarray(latent0), self.params)
        self.iteration, self.phase = 0, 0
        self._pending = None
        cand = jax.eval_shape(lambda s: strategy.ask(key, s, self.params, phase=0)[0], self.state)
        s = cand.shape[0] if strategy.tracks_slots else 1
        self.best_value = np.full((s,), np.inf, np.float32)
        self.best_latent = np.zeros((s,) + cand.shape[1:], cand.dtype)
        self.best_step = np.full((s,), -1, np.int32)

    @property
    def kind(self) -> str:
        """What the current phase needs: ``"value"``, ``"grad"`` or ``"jacobian"``."""
        return self.strategy.phases[self.phase]

    def _keys(self):
        return self.strategy.phase_keys(jax.random.fold_in(self.key, self.iteration))[self.phase]

    def ask(self) -> np.ndarray:
        """Candidates ``[P, *latent]`` of the current phase (asking twice gives the same ones)."""
        if self._pending is None:
            k_ask, _, _ = self._keys()
            candidates, state = self._ask(k_ask, self.state, self.params, self.phase)
            self._pending = (candidates, state)
        return np.asarray(self._pending[0])

    def eval_key(self) -> jax.Array:
        """The key the runner would give this phase's evaluation (split over candidates)."""
        return self._keys()[1]

    def tell(self, values, aux: dict | None = None, *, grads=None, outputs=None,
             jacobians=None) -> dict:
        """Reports the evaluation of the last `ask`; returns the strategy's info."""
        if self._pending is None:
            raise RuntimeError("tell() before ask(): ask for the candidates first")
        candidates, state = self._pending
        values = jnp.asarray(values, jnp.float32)
        if values.shape != (candidates.shape[0],):
            raise ValueError(f"values must have shape ({candidates.shape[0]},), one per "
                             f"candidate; got {values.shape}")
        kind = self.kind
        if (kind == protocol.GRAD and grads is None) or (kind == protocol.JACOBIAN and jacobians is None):
            raise ValueError(f"this phase is a {kind!r} phase: pass the "
                             f"{'grads' if kind == protocol.GRAD else 'outputs and jacobians'}")
        ev = protocol.Evaluation(values, dict(aux or {}), grads=grads, outputs=outputs,
                                 jacobians=jacobians)
        _, _, k_tell = self._keys()
        self.state, info = self._tell(k_tell, candidates, ev, state, self.params, self.phase)
        best = track_best((self.best_value, self.best_latent, self.best_step), values,
                          ev.aux, candidates, self.iteration, self.strategy.tracks_slots)
        self.best_value, self.best_latent, self.best_step = (np.asarray(b) for b in best)
        self._pending = None
        self.phase += 1
        if self.phase == len(self.strategy.phases):
            self.phase, self.iteration = 0, self.iteration + 1
        return jax.device_get(info)

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """Writes the driver's state (strategy state, bests, counters) atomically to ``path``."""
        leaves = jax.tree.leaves(self.state)
        arrays = {f"state/{i}": np.asarray(x) for i, x in enumerate(leaves)}
        arrays.update(best_value=self.best_value, best_latent=self.best_latent,
                      best_step=self.best_step, counters=np.asarray([self.iteration, self.phase]))
        tmp = path + ".tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)

    def load(self, path: str) -> None:
        """Restores a state written by `save` for the same strategy and latent shape."""
        with np.load(path) as f:
            leaves, treedef = jax.tree.flatten(self.state)
            new = [jnp.asarray(f[f"state/{i}"], x.dtype) for i, x in enumerate(leaves)]
            for i, (a, b) in enumerate(zip(new, leaves)):
                if a.shape != b.shape:
                    raise ValueError(f"{path}: state leaf {i} has shape {a.shape}, expected "
                                     f"{b.shape} (a different strategy or latent size?)")
            self.state = jax.tree.unflatten(treedef, new)
            self.best_value, self.best_latent = f["best_value"], f["best_latent"]
            self.best_step = f["best_step"]
            self.iteration, self.phase = (int(v) for v in f["counters"])
        self._pending = None
