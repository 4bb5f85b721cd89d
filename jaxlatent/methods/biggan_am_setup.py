"""BigGAN-AM's search: the variants, initial embeddings, and one runner program per variant.

A variant (``VARIANTS``) is an initialisation, a learning rate and an optional diversity term
(paper §2.4, P:69-71, wave2-specs.md §1.3). Every target class × trial is one problem of a single
`jaxlatent.search.runner.run` call (vmapped, sharded over devices): problem ``g`` searches class
``targets[g // T]``, trial ``g % T``; its ``latent0`` is the one embedding ``[1, D]`` of a
`GradientSearch` Adam (coupled L2 ``weight_decay`` in the official preset). Only the embedding is
searched; G and the classifier are frozen ``ctx``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import zlib
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.objectives import biggan_am as obj
from jaxlatent.search import gradient, protocol, runner
from jaxlatent.workdir import Workdir

# The paper's variants (configs/biggan_am.py copies them into config.variants, where a preset
# may change them). init: "target" c_y + N(0, s²), "mean" mean(W) + N(0, s²), "top" the best
# rows of W for the target under the AM classifier (trial t: the t-th best), "random" random
# rows of W. phi "": no diversity term (Eq. 2 only).
VARIANTS = {
    "am_s": dict(label="AM-S", init="target", lr=0.01, phi="", lam=0.0),
    "am_l": dict(label="AM-L", init="mean", lr=0.1, phi="", lam=0.0),
    "am_d_s": dict(label="AM-D-S", init="target", lr=0.01, phi="softmax", lam=2.0),
    "am_d_l": dict(label="AM-D-L", init="mean", lr=0.1, phi="softmax", lam=2.0),
    "am_l_top": dict(label="AM-L top-k", init="top", lr=0.1, phi="", lam=0.0),
    "am_l_random": dict(label="AM-L random", init="random", lr=0.1, phi="", lam=0.0),
}


class Networks(NamedTuple):
    """What the search needs from a domain (`jaxlatent.methods.biggan_am_domains`)."""

    generate: Callable  # (g_params, z [N, dz], c [N, D]) -> [N, R, R, 3] in [-1, 1]
    classify: Callable  # (p_params, images) -> {"logits", "features", "pixels"}
    g_params: Any
    p_params: Any
    table: np.ndarray  # [K, D] the generator's class embeddings
    dim_z: int
    low: float  # clamp range (the table's min / max, or the paper's)
    high: float
    scale: float  # lr and noise multiplier (1 for real BigGAN; range / 1.2 on the tiny one)
    class_names: tuple


@dataclasses.dataclass(frozen=True)
class Projected(protocol.StrategyBase):
    """A gradient search whose latents are projected onto ``[low, high]`` after every step.

    The paper's "every step, we kept the embeddings within [-0.59, 0.61] by clipping" read as a
    projection of the parameter (``clamp="project"``); the start is projected too.
    """

    base: gradient.GradientSearch
    low: float
    high: float

    phases = (protocol.GRAD,)
    tracks_slots = True

    def default_params(self):
        return self.base.default_params()

    def init(self, key, latent0, params):
        return self.base.init(key, jnp.clip(latent0, self.low, self.high), params)

    def ask(self, key, state, params, *, phase=0):
        return self.base.ask(key, state, params, phase=phase)

    def tell(self, key, candidates, evaluation, state, params, *, phase=0):
        state, info = self.base.tell(key, candidates, evaluation, state, params, phase=phase)
        return state._replace(latents=jnp.clip(state.latents, self.low, self.high)), info


def z_bank(key: jax.Array, num_steps: int, steps_per_z: int, z_num: int, dim_z: int):
    """``[ceil(steps / k), z_num, dz]`` N(0, I) latents: redraw r is ``normal(fold_in(key, r))``."""
    redraws = max(1, math.ceil(num_steps / steps_per_z))
    return jnp.stack([jax.random.normal(jax.random.fold_in(key, r), (z_num, dim_z))
                      for r in range(redraws)])


def rank_rows(nets: Networks, target: int, key: jax.Array, n: int = 10) -> np.ndarray:
    """Rows of the table sorted by the mean AM-classifier P(target) of ``n`` samples each."""
    z = jax.random.normal(key, (n, nets.dim_z))
    scores = _score_fn(nets.generate, nets.classify)(
        nets.g_params, nets.p_params, jnp.asarray(nets.table), z, jnp.float32(nets.low),
        jnp.float32(nets.high), target)
    return np.argsort(-np.asarray(scores), kind="stable")


@functools.lru_cache(maxsize=8)
def _score_fn(generate, classify):
    """Jitted ``[K]`` mean P(target) of every (clamped) table row on latents ``z``."""

    def one(g, p, c, z, low, high, target):
        c = jnp.clip(c, low, high)
        x = generate(g, z, jnp.broadcast_to(c, (z.shape[0],) + c.shape))
        return jnp.mean(jax.nn.softmax(classify(p, x)["logits"], -1)[:, target])

    return jax.jit(jax.vmap(one, in_axes=(None, None, 0, None, None, None, None)))


def initial_embeddings(key, init: str, nets: Networks, targets, trials: int, noise_std: float):
    """``[C·T, 1, D]`` starts, problem ``g`` = (class ``targets[g // T]``, trial ``g % T``)."""
    table = jnp.asarray(nets.table)
    starts = []
    for i, target in enumerate(targets):
        k = jax.random.fold_in(key, i)
        noise = noise_std * nets.scale * jax.random.normal(k, (trials, table.shape[1]))
        if init == "target":
            starts.append(table[target] + noise)
        elif init == "mean":
            starts.append(jnp.mean(table, 0) + noise)
        elif init == "top":
            order = rank_rows(nets, int(target), jax.random.fold_in(k, 1))
            starts.append(table[order[np.arange(trials) % len(order)]])
        elif init == "random":
            starts.append(table[jax.random.randint(k, (trials,), 0, table.shape[0])])
        else:
            raise ValueError(f"unknown init {init!r}; known: target, mean, top, random")
    return jnp.concatenate(starts)[:, None, :]


class SearchResult(NamedTuple):
    raw: np.ndarray  # [C, T, D] the final (last-step) parameters
    clamped: np.ndarray  # [C, T, D] what the generator sees
    start: np.ndarray  # [C, T, D]
    final_target_prob: np.ndarray  # [C, T] AM-classifier P(y_c) on the last latent batch


def search(config, nets: Networks, name: str, targets, workdir: Workdir | None, key,
           progress: bool = True) -> SearchResult:
    """Runs variant ``name`` on every target × trial as one program; resumes from ``workdir``."""
    v, p = config.variants[name], config.search
    settings = obj.Settings(nets.generate, nets.classify, v["phi"] or None, p.clamp,
                            p.steps_per_z)
    lam = v["lam"] if settings.phi else 0.0
    base = gradient.adam(v["lr"] * nets.scale, weight_decay=p.weight_decay)
    strategy = Projected(base, nets.low, nets.high) if p.clamp == "project" else base
    k_init, k_run = jax.random.split(jax.random.fold_in(key, _name_id(name)))
    t, targets = p.trials, np.asarray(targets, np.int32)
    latents0 = initial_embeddings(k_init, v["init"], nets, targets, t, p.noise_std)
    ctx = {"generator": nets.g_params, "classifier": nets.p_params, "lam": jnp.float32(lam),
           "z_bank": z_bank(jax.random.key(p.seed_z), p.num_steps, p.steps_per_z, p.z_num,
                            nets.dim_z),
           "low": jnp.float32(nets.low), "high": jnp.float32(nets.high),
           "pairs": jnp.asarray(obj.disjoint_pairs(p.z_num))}
    g = latents0.shape[0]
    problem = _problem(settings)
    state, _ = runner.run(strategy, problem, k_run, latents0, ctx, num_steps=p.num_steps,
                          problem_ctx={"target": jnp.repeat(jnp.asarray(targets), t)},
                          memory=jnp.zeros((g,), jnp.int32), chunk_size=config.chunk_size,
                          workdir=workdir, desc=f"biggan_am {name}", progress=progress)
    raw = np.asarray(state.strategy.latents)[:, 0].reshape(len(targets), t, -1)
    clamped = np.clip(raw, nets.low, nets.high)
    prob = final_target_prob(settings, ctx, clamped.reshape(g, -1), targets, t, p.num_steps - 1)
    return SearchResult(raw, clamped, np.asarray(latents0)[:, 0].reshape(raw.shape),
                        prob.reshape(len(targets), t))


def _name_id(name: str) -> int:
    """A stable integer per variant name (its keys do not depend on which variants run)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


_PROBLEMS: dict = {}


def _problem(settings: obj.Settings) -> runner.Problem:
    """One `runner.Problem` per settings (same object: the runner's compiled step is reused)."""
    if settings not in _PROBLEMS:
        _PROBLEMS[settings] = runner.Problem(obj.make_objective(settings),
                                             memory_update=obj.count_steps)
    return _PROBLEMS[settings]


def final_target_prob(settings, ctx, embeddings, targets, trials, step) -> np.ndarray:
    """``[G]`` mean AM-classifier P(y_c) of each embedding on the latents of ``step``."""
    objective = obj.make_objective(settings._replace(clamp="none", phi=None))
    tgt = jnp.repeat(jnp.asarray(targets), trials)
    fn = jax.jit(jax.vmap(lambda c, y: objective(c, {**ctx, "memory": step, "target": y})[1]))
    return np.asarray(fn(jnp.asarray(embeddings), tgt)["target_prob"])


def variant_workdir(workdir: Workdir | None, name: str) -> Workdir | None:
    return None if workdir is None else Workdir(os.path.join(workdir.path, "search", name))
