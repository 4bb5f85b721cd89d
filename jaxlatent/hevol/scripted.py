"""A scripted HEVOL user: a hidden target image and a "person" who picks by a stated metric.

Wave-2 spec B7: the user sees the ``P`` images of a round and clicks the μ closest to the target
by **pixel RMSE** (images in [0, 1]; distinct images, no repeats), or, as the control, μ images
uniformly at random with repeats (what "picks ignored" looks like). The same
`jaxlatent.search.host.HostDriver` and `Hevol` strategy as the web app run the evolution; the
recorded quantity is the distance of the **parent** image G(ẑ_r) (candidate 0) to the target::

    dist_r = sqrt(mean((G(ẑ_r) - x*)²)),   r = 0 .. rounds,   x* = G(z*), z* ~ N(0, I)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.search.host import HostDriver

PICKERS = ("closest", "random")


def pixel_rmse(images: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``[N]`` RMSE of uint8 ``images [N, H, W, 3]`` to ``target [H, W, 3]``, in [0, 1] units."""
    x = images.astype(np.float32) / 255.0
    t = target.astype(np.float32) / 255.0
    return np.sqrt(np.mean((x - t[None]) ** 2, axis=(1, 2, 3)))


def simulate(strategy, renderer, target: np.ndarray, class_index: int, *, rounds: int,
             seed: int, picker: str = "closest") -> np.ndarray:
    """Runs ``rounds`` rounds with a scripted user; returns ``dist [rounds + 1]`` (round 0 = ẑ₀).

    Args:
      strategy: a `Hevol` (its ``mu`` is the number of picks per round).
      renderer: a `jaxlatent.hevol.render.Renderer`.
      target: uint8 ``[H, W, 3]`` the image the user has in mind.
      class_index: the class rendered (class-conditional generators).
      rounds: number of submitted rounds.
      seed: the driver key ``key(seed)`` and the random picker's generator.
      picker: ``"closest"`` (the μ closest by pixel RMSE) or ``"random"`` (μ uniform, repeats).
    """
    if picker not in PICKERS:
        raise ValueError(f"picker must be one of {PICKERS}; got {picker!r}")
    driver = HostDriver(strategy, jax.random.key(seed), jnp.zeros(renderer.latent_dim))
    rng = np.random.default_rng(seed)
    dist = []
    for r in range(rounds + 1):
        cands = driver.ask()
        d = pixel_rmse(renderer.render(cands, class_index), target)
        dist.append(float(d[0]))
        if r == rounds:
            break
        n = len(cands)
        picks = np.argsort(d, kind="stable")[: strategy.mu] if picker == "closest" else \
            rng.integers(0, n, strategy.mu)
        driver.tell(-np.bincount(picks, minlength=n).astype(np.float32))
    return np.asarray(dist)


def target_image(renderer, seed: int, class_index: int) -> tuple[np.ndarray, np.ndarray]:
    """``(z* [d], G(z*) uint8 [H, W, 3])``: a reconstruction target, z* ~ N(0, I) from ``seed``."""
    z = np.asarray(jax.random.normal(jax.random.key(10_000 + seed), (renderer.latent_dim,)))
    return z, renderer.render(z[None], class_index)[0]


def curves(strategy, renderer, *, seeds, rounds: int, class_index: int = 0) -> dict:
    """``{picker: dist [len(seeds), rounds + 1]}`` over targets and runs of ``seeds``."""
    out = {}
    for picker in PICKERS:
        rows = []
        for s in seeds:
            _, target = target_image(renderer, s, class_index)
            rows.append(simulate(strategy, renderer, target, class_index, rounds=rounds, seed=s,
                                 picker=picker))
        out[picker] = np.stack(rows)
    return out
