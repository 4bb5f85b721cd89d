"""One search of inspirational generation: all targets × starts as independent problems, one run.

Problem g = (target t, start s), ``g = t·S + s``. A strategy whose candidates are fixed starts
(``tracks_slots``: the gradient searches) gets ``latent0 [1, D]`` drawn from N(0, I) as the
official ``varNoise``; a population strategy gets its centre ``latent0 [D] = 0`` (nevergrad's
default: no initial point, the N(0, I) prior). The budget counts generator calls: a gradient
search runs ``budget`` iterations (the paper's "1000 iterations"; L-BFGS's line search adds
calls, logged as ``evals``), a population strategy ``budget // (candidates per iteration)``.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.methods import inspire_setup as setup
from jaxlatent.objectives import inspire as crit
from jaxlatent.search import registry, runner


class SearchResult(NamedTuple):
    best_latent: np.ndarray  # [T, S, D]
    best_value: np.ndarray  # [T, S]
    terms: dict  # {term: [T, S]} raw criterion terms at the best latents
    evals_per_iter: int  # generator calls per iteration (gradient: 1, L-BFGS more: see rows)
    num_steps: int
    seconds: float


def build_strategy(search_cfg, budget: int):
    """The registry strategy of ``search_cfg`` (``gradient_reset`` gets the budget)."""
    cfg = dict(search_cfg)
    cfg.setdefault("budget", budget)
    return registry.build(cfg)


def candidates_per_iter(strategy, latent0) -> int:
    """Generator calls of one iteration: candidates asked over all phases (traced shapes)."""
    state = jax.eval_shape(lambda z: strategy.init(jax.random.key(0), z,
                                                   strategy.default_params()), latent0)
    total = 0
    for phase in range(len(strategy.phases)):
        cand = jax.eval_shape(lambda s, p=phase: strategy.ask(jax.random.key(0), s,
                                                              strategy.default_params(),
                                                              phase=p)[0], state)
        total += cand.shape[0]
    return total


def problem_ctx(nets, targets, class_mode: str, starts: int, num_classes: int) -> dict:
    """Per-problem inputs ``[T·S, ...]``: target, its feature statistics, its class code."""
    images = jnp.asarray(targets.images)
    ctx = {"target": images}
    if nets.feature_maps is not None:
        stats = jax.jit(jax.vmap(lambda t, p: crit.target_stats(nets.feature_maps, p, t),
                                 in_axes=(0, None)))(images, nets.features.params)
        ctx["target_stats"] = stats
    if class_mode == "fixed":
        ctx["class_code"] = jax.nn.one_hot(jnp.asarray(targets.classes), num_classes)
    return jax.tree.map(lambda x: jnp.repeat(x, starts, axis=0), ctx)


def initial_latents(strategy, key, num_problems: int, dim: int):
    if strategy.tracks_slots:
        return jax.random.normal(key, (num_problems, 1, dim))
    return jnp.zeros((num_problems, dim))


def search(config, nets, targets, search_cfg, class_mode: str, key, workdir, *, budget: int,
           starts: int, desc: str = "inspire") -> SearchResult:
    """Runs one strategy on every (target, start) problem with one `runner.run` call."""
    noise_dim, num_classes = setup.latent_dims(nets)
    dim = noise_dim + (num_classes if class_mode == "continuous" else 0)
    strategy = build_strategy(search_cfg, budget)
    k_init, k_run = jax.random.split(key)
    t = len(targets.kinds)
    latents0 = initial_latents(strategy, k_init, t * starts, dim)
    per_iter = candidates_per_iter(strategy, latents0[0])
    num_steps = budget if strategy.tracks_slots else max(1, budget // per_iter)
    objective = setup.make_objective(config, nets, class_mode)
    ctx = setup.network_ctx(nets)
    pctx = problem_ctx(nets, targets, class_mode, starts, num_classes)
    start = time.perf_counter()
    state, _ = runner.run(strategy, runner.Problem(objective), k_run, latents0, ctx,
                          num_steps=num_steps, problem_ctx=pctx, chunk_size=config.chunk_size,
                          workdir=workdir, desc=desc, progress=config.get("progress", True))
    seconds = time.perf_counter() - start
    best = np.asarray(state.best_latent)[:, 0].reshape(t, starts, dim)
    value = np.asarray(state.best_value)[:, 0].reshape(t, starts)
    terms = evaluate_terms(objective, ctx, pctx, best.reshape(t * starts, dim))
    return SearchResult(best, value, {k: v.reshape(t, starts) for k, v in terms.items()},
                        per_iter, num_steps, seconds)


def evaluate_terms(objective, ctx, pctx, latents) -> dict:
    """Raw criterion terms (and the total) at ``latents [G, D]``, one per problem."""
    def one(z, own):
        total, aux = objective(z, {**ctx, **own})
        return {"total": total, **aux}

    out = jax.jit(jax.vmap(one))(jnp.asarray(latents), pctx)
    return {k: np.asarray(v) for k, v in out.items()}


def barycenter_stats(latents: np.ndarray) -> dict:
    """The official ``_data.json`` "Barycenter" statistics of one target's runs ``[S, D]``.

    Latents are RMS-normalised, the barycentre is their mean, RMS-normalised; angles are
    ``mean_d(v_d · b_d)`` per run; meanDist the mean over runs of the RMS of ``b − v``.
    stdAngles is torch's unbiased std (NaN for a single run).
    """
    v = np.asarray(latents, np.float64).reshape(latents.shape[0], -1)
    v = v / np.sqrt(np.mean(v**2, axis=1, keepdims=True))
    b = v.mean(axis=0)
    b = b / np.sqrt(np.mean(b**2))
    angles = (v * b).mean(axis=1)
    dist = np.sqrt(((b - v) ** 2).mean(axis=1)).mean()
    std = float(angles.std(ddof=1)) if len(angles) > 1 else float("nan")
    return {"meanDist": float(dist), "stdAngles": std, "meanAngles": float(angles.mean())}
