"""Gradient-free strategies by name (merged into `jaxlatent.search.registry.STRATEGIES`).

| name | algorithm | reference |
|---|---|---|
| ``random_search`` | i.i.d. N(0, I) draws, keep the best | paper §3.4.2 RS = nevergrad ``RandomSearch`` |
| ``one_plus_one`` | (1+1)-ES, gaussian, 1/5th rule | nevergrad ``OnePlusOne`` |
| ``discrete_one_plus_one`` | 1/d coordinate replacement | nevergrad ``DiscreteOnePlusOne`` |
| ``portfolio_discrete_one_plus_one`` | k/d replacement, k ~ U{1..d−1} | nevergrad ``PortfolioDiscreteOnePlusOne`` |
| ``de`` | current-to-best/1, CR 0.5, pop 30 | nevergrad ``DE`` |
| ``two_points_de`` | DE with two-point crossover | nevergrad ``TwoPointsDE`` (paper 2PDE) |
| ``dde`` | DE with CR = 1/d | paper DDE = nevergrad ``DiscreteDE`` |
| ``pso`` | arctan-boxed PSO, swarm 40 | nevergrad ``PSO`` |
| ``cma`` | CMA-ES, σ0 0.4699, diagonal for d ≥ 1000 | nevergrad ``CMA`` (``CMAstd``) |
| ``diagonal_cma`` | separable CMA-ES, σ0 1 | nevergrad ``DiagonalCMA`` |
| ``mu_lambda`` | (μ/μ + λ), Algorithm 1 | paper Algorithm 1 (``dopo``: μ = λ = 1) |
"""

from __future__ import annotations

from typing import Callable

from jaxlatent.search.population import cma, de, mu_lambda, one_plus_one, pso, random_search


def _dopo(cfg):
    return mu_lambda.MuPlusLambda(mu=1, lam=1)


BUILDERS: dict[str, Callable] = {
    "random_search": random_search.build,
    "one_plus_one": lambda cfg: one_plus_one.build(cfg, "gaussian"),
    "discrete_one_plus_one": lambda cfg: one_plus_one.build(cfg, "discrete"),
    "portfolio_discrete_one_plus_one": lambda cfg: one_plus_one.build(cfg, "portfolio"),
    "de": lambda cfg: de.build(cfg, "binomial"),
    "two_points_de": lambda cfg: de.build(cfg, "twopoints"),
    "dde": lambda cfg: de.build(cfg, "dimension"),
    "pso": lambda cfg: pso.build(cfg, "arctan"),
    "cma": lambda cfg: cma.build(cfg),
    "diagonal_cma": lambda cfg: cma.build(cfg, diagonal=True),
    "mu_lambda": mu_lambda.build,
    "dopo": _dopo,
}
