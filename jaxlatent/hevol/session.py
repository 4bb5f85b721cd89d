"""One HEVOL session: the host-evaluated strategy, its rounds, undo, restart and persistence.

The evolution is `jaxlatent.search.population.hevol.Hevol` driven by
`jaxlatent.search.host.HostDriver`: a round asks the driver for ``P`` candidates, the person's
picks become values ``-clicks`` and are told back. Files in ``root`` (written atomically after
every change, so a killed server loses nothing but an unsubmitted screen)::

    session.json                  restart counter, round, class, and every finished round's
                                  picks, class and parent latent (the history strip)
    driver/r<K>_round<R>.npz      HostDriver.save after round R of restart K (undo loads R - 1)
    latents.npz                   parents [R + 1, d], candidates [P, d], classes

The driver key of restart K is ``fold_in(key(seed), K)``; round R's candidates depend only on it
and R, so an undo or a resumed session shows the same screen again.
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.search.host import HostDriver

FORMAT = 1


class RequestError(ValueError):
    """A request the session refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Session:
    """The state of one person's evolution, persisted in ``root``."""

    def __init__(self, strategy, renderer, root: str, seed: int = 0, class_index: int = 0):
        self.strategy, self.renderer, self.root, self.seed = strategy, renderer, root, seed
        self.population = strategy.population
        os.makedirs(os.path.join(root, "driver"), exist_ok=True)
        if os.path.exists(self._json_path()):
            self._resume()
        else:
            self.restart_count, self.class_index, self.rounds = 0, 0, []
            self.set_class(class_index) if renderer.num_classes else None
            self._new_driver()
            self._save()

    # -- files ----------------------------------------------------------------------------------
    def _json_path(self) -> str:
        return os.path.join(self.root, "session.json")

    def _driver_path(self, restart: int, rnd: int) -> str:
        return os.path.join(self.root, "driver", f"r{restart}_round{rnd}.npz")

    def _new_driver(self) -> None:
        key = jax.random.fold_in(jax.random.key(self.seed), self.restart_count)
        self.driver = HostDriver(self.strategy, key, jnp.zeros(self.renderer.latent_dim))

    def _save(self) -> None:
        """Driver file first, then session.json: a kill in between leaves the previous round."""
        self.driver.save(self._driver_path(self.restart_count, self.round))
        doc = dict(format=FORMAT, seed=self.seed, restart=self.restart_count, round=self.round,
                   class_index=self.class_index, population=self.population,
                   latent_dim=self.renderer.latent_dim, rounds=self.rounds)
        _atomic_write(self._json_path(), json.dumps(doc))
        parents = np.asarray([r["parent"] for r in self.rounds] + [self.parent_latent().tolist()])
        tmp = os.path.join(self.root, "latents.tmp.npz")
        np.savez(tmp, parents=parents.astype(np.float32), candidates=self.candidates(),
                 classes=np.asarray([r["class_index"] for r in self.rounds] + [self.class_index]))
        os.replace(tmp, os.path.join(self.root, "latents.npz"))

    def _resume(self) -> None:
        try:
            with open(self._json_path()) as f:
                doc = json.load(f)
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{self._json_path()} is unreadable ({err}); move it away to start "
                             "a new session") from None
        d = self.renderer.latent_dim
        if doc.get("population") != self.population or doc.get("latent_dim") != d:
            raise ValueError(f"{self._json_path()} holds a session of {doc.get('population')} "
                             f"images of latent size {doc.get('latent_dim')}, not "
                             f"{self.population} of {d}: use another workdir")
        self.restart_count, self.class_index = int(doc["restart"]), int(doc["class_index"])
        self.rounds = list(doc["rounds"])
        self._new_driver()
        self.driver.load(self._driver_path(self.restart_count, int(doc["round"])))
        if self.driver.iteration != int(doc["round"]) or len(self.rounds) != self.round:
            raise ValueError(f"{self.root}: session.json says round {doc['round']} but the driver "
                             f"file holds round {self.driver.iteration}")

    # -- reading --------------------------------------------------------------------------------
    @property
    def round(self) -> int:
        return self.driver.iteration

    def candidates(self) -> np.ndarray:
        """``[P, d]`` latents shown this round; row 0 is the current parent."""
        return np.asarray(self.driver.ask(), np.float32).reshape(self.population, -1)

    def parent_latent(self) -> np.ndarray:
        """``[d]`` the current parent ẑ (candidate 0; notebook: the most-clicked kept parent)."""
        return np.asarray(self.driver.state.parents[0], np.float32).reshape(-1)

    def images(self) -> np.ndarray:
        """uint8 ``[P, H, W, 3]`` of this round, one batched generator call."""
        return self.renderer.render(self.candidates(), self.class_index)

    def history(self) -> tuple[np.ndarray, np.ndarray]:
        """Parents of the finished rounds and their classes: ``([R, d], [R])``."""
        lat = np.asarray([r["parent"] for r in self.rounds], np.float32)
        lat = lat.reshape(-1, self.renderer.latent_dim)
        return lat, np.asarray([r["class_index"] for r in self.rounds], np.int32)

    # -- changing -------------------------------------------------------------------------------
    def submit(self, picks, expected_round: int) -> dict:
        """Tells the driver this round's clicks (``picks``: μ image indices, repeats allowed)."""
        self._check_round(expected_round)
        picks = check_picks(picks, self.strategy.mu, self.population)
        counts = np.bincount(np.asarray(picks), minlength=self.population).astype(np.float32)
        entry = dict(round=self.round, picks=picks, class_index=self.class_index,
                     parent=self.parent_latent().tolist(), time=time.time())
        info = self.driver.tell(-counts)
        self.rounds.append(entry)
        self._save()
        return {k: float(np.asarray(v)) for k, v in info.items()}

    def undo(self, expected_round: int) -> None:
        """Back to the screen of the previous round (its driver state is on disk)."""
        self._check_round(expected_round)
        if self.round == 0:
            raise RequestError(409, "nothing to undo: this is the first round")
        old = self._driver_path(self.restart_count, self.round)
        self.driver.load(self._driver_path(self.restart_count, self.round - 1))
        self.rounds.pop()
        self._save()
        os.remove(old)

    def restart(self) -> None:
        """A new evolution from ẑ₀ = 0 with a fresh key; the old rounds are removed."""
        old = [self._driver_path(self.restart_count, r) for r in range(self.round + 1)]
        self.restart_count, self.rounds = self.restart_count + 1, []
        self._new_driver()
        self._save()
        for path in old:
            if os.path.exists(path):
                os.remove(path)

    def set_class(self, class_index) -> None:
        """The class the generator renders from now on (class-conditional generators only)."""
        n = self.renderer.num_classes
        if n == 0:
            raise RequestError(400, "this generator is unconditional: it has no classes")
        if not _is_int(class_index) or not 0 <= class_index < n:
            raise RequestError(400, f"class_index must be an integer in [0, {n}); "
                               f"got {class_index!r}")
        self.class_index = int(class_index)
        if hasattr(self, "driver"):
            self._save()

    def _check_round(self, expected_round) -> None:
        if not _is_int(expected_round):
            raise RequestError(400, "'round' must be an integer (the round shown); "
                               f"got {expected_round!r}")
        if expected_round != self.round:
            raise RequestError(409, f"the page shows round {expected_round} but the session is at "
                               f"round {self.round} (another tab?); reload the page")


def check_picks(picks, mu: int, population: int) -> list[int]:
    """``picks`` as ints: exactly ``mu`` indices in ``[0, population)``, repeats allowed."""
    if not isinstance(picks, list):
        raise RequestError(400, "'picks' must be a list of image indices; "
                           f"got {type(picks).__name__}")
    if len(picks) != mu:
        raise RequestError(400, f"pick exactly {mu} image(s) (the same one may be picked several "
                           f"times); got {len(picks)}")
    bad = [p for p in picks if not _is_int(p) or not 0 <= p < population]
    if bad:
        raise RequestError(400, f"image indices must be integers in [0, {population}); "
                           f"got {bad[:5]!r}")
    return [int(p) for p in picks]


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _atomic_write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
