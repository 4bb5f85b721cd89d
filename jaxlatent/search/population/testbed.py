"""Test losses and the two drivers compared by the parity tests and the benchmark.

- `LOSSES`: sphere ``Σ u²``, shifted sphere ``Σ (u − ½)²`` and a Rastrigin-like
  ``Σ (u − ½)² + 10·(1 − cos 2π(u − ½))`` on the standardised vector u (jax and numpy forms).
- `run_jax`: G problems of one strategy as one `runner.run` program (loss chosen per problem).
- `run_nevergrad`: one nevergrad 1.0.12 optimizer per problem, ``num_workers = P``, driven as
  the official inspirational-generation code drives it: ``ask`` × P, the P losses evaluated as
  one numpy batch, ``tell`` × P. nevergrad is imported only here (the ``test`` extra).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.search import registry, runner

LOSS_NAMES = ("sphere", "shifted_sphere", "rastrigin")

# our name -> (nevergrad optimizer name, strategy config beyond the name)
NEVERGRAD = {
    "random_search": ("RandomSearch", {"population": 8}),
    "one_plus_one": ("OnePlusOne", {"population": 8}),
    "discrete_one_plus_one": ("DiscreteOnePlusOne", {"population": 8}),
    "portfolio_discrete_one_plus_one": ("PortfolioDiscreteOnePlusOne", {"population": 8}),
    "de": ("DE", {"population": 30}),
    "two_points_de": ("TwoPointsDE", {"population": 30}),
    "dde": ("DiscreteDE", {"population": 30}),
    "pso": ("PSO", {"population": 40}),
    "cma": ("CMAstd", {}),
    "diagonal_cma": ("DiagonalCMA", {}),
}


def loss_np(name: str, u: np.ndarray) -> np.ndarray:
    """``[P, d] -> [P]`` float64 losses."""
    if name == "sphere":
        return np.sum(u**2, axis=-1)
    v = u - 0.5
    if name == "shifted_sphere":
        return np.sum(v**2, axis=-1)
    return np.sum(v**2 + 10.0 * (1.0 - np.cos(2 * np.pi * v)), axis=-1)


def objective(z, ctx, *, key=None):
    """The three losses of one latent, selected by ``ctx["loss"]`` (0, 1, 2)."""
    del key
    v = z - 0.5
    values = jnp.stack([jnp.sum(z**2), jnp.sum(v**2),
                        jnp.sum(v**2 + 10.0 * (1.0 - jnp.cos(2 * jnp.pi * v)))])
    return values[ctx["loss"]], {}


def build(name: str, d: int, **overrides):
    """Our strategy with the configuration the comparison uses (population as nevergrad's)."""
    cfg = {"name": name, **NEVERGRAD.get(name, (None, {}))[1], **overrides}
    return registry.build(cfg)


def population_of(strategy, d: int) -> int:
    params = strategy.default_params()
    state = jax.eval_shape(lambda: strategy.init(jax.random.key(0), jnp.zeros(d), params))
    cand = jax.eval_shape(lambda s: strategy.ask(jax.random.key(0), s, params)[0], state)
    return cand.shape[0]


def run_jax(strategy, loss_ids, d: int, budget: int, key, *, latents0=None, params=None):
    """Runs G = len(loss_ids) problems for ``budget // P`` iterations in one program.

    Returns:
      ``(final best loss [G] np.float64, RunnerState)``.
    """
    loss_ids = jnp.asarray(loss_ids, jnp.int32)
    g = loss_ids.shape[0]
    steps = max(1, budget // population_of(strategy, d))
    z0 = jnp.zeros((g, d), jnp.float32) if latents0 is None else latents0
    state, _ = runner.run(strategy, runner.Problem(objective), key, z0, {}, num_steps=steps,
                          params=params,
                          problem_ctx={"loss": loss_ids}, chunk_size=steps, progress=False,
                          scan=True, desc="testbed")
    return np.asarray(state.best_value[:, 0], np.float64), state


def nevergrad_optimizer(name: str, d: int, budget: int, seed: int, workers: int):
    """A nevergrad optimizer on ``ng.p.Array(shape=(d,))`` with a seeded random state."""
    import nevergrad as ng

    opt = ng.optimizers.registry[name](parametrization=ng.p.Array(shape=(d,)), budget=budget,
                                       num_workers=workers)
    opt.parametrization.random_state = np.random.RandomState(seed)
    return opt


def run_nevergrad(name: str, loss: str, d: int, budget: int, seed: int, workers: int):
    """``(best loss, recommendation's loss)`` after ``budget // workers`` batches."""
    opt = nevergrad_optimizer(name, d, budget, seed, workers)
    best = math.inf
    for _ in range(budget // workers):
        cands = [opt.ask() for _ in range(workers)]
        values = loss_np(loss, np.stack([c.value for c in cands]))
        for c, v in zip(cands, values):
            opt.tell(c, float(v))
        best = min(best, float(values.min()))
    rec = float(loss_np(loss, np.asarray(opt.recommend().value)[None])[0])
    return best, rec


PARITY_DIMS, PARITY_SEEDS = (6, 32, 512), 16
PARITY_BUDGET = {6: 240, 32: 240, 512: 240}


def nevergrad_table(names=tuple(NEVERGRAD), dims=PARITY_DIMS, seeds=PARITY_SEEDS) -> dict:
    """nevergrad's best and recommendation losses per strategy, d and loss over ``seeds`` seeds
    (seed s seeds the optimizer's random state), for the parity tests' fixture."""
    import nevergrad as ng

    table = {"nevergrad": ng.__version__, "seeds": seeds, "budget": PARITY_BUDGET, "runs": {}}
    for name in names:
        for d in dims:
            workers = population_of(build(name, d), d)
            for loss in LOSS_NAMES:
                runs = [run_nevergrad(NEVERGRAD[name][0], loss, d, PARITY_BUDGET[d], s, workers)
                        for s in range(seeds)]
                table["runs"][f"{name}/{d}/{loss}"] = {
                    "workers": workers, "best": [r[0] for r in runs],
                    "recommendation": [r[1] for r in runs]}
                print(name, d, loss, f"median best {np.median([r[0] for r in runs]):.4g}",
                      flush=True)
    return table


if __name__ == "__main__":  # python -m jaxlatent.search.population.testbed OUT.json
    import json
    import sys
    import warnings

    warnings.filterwarnings("ignore")
    with open(sys.argv[1], "w") as f:
        json.dump(nevergrad_table(), f, indent=1)
