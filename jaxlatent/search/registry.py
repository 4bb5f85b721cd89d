"""Strategies by name: ``config.search.name`` (or ``search.optimizer.name``) → a strategy.

A new strategy is a module with ``init / ask / tell`` (`jaxlatent.search.protocol`) and one
entry here mapping its name to a builder ``build(cfg) -> strategy`` (``cfg`` a ConfigDict or dict
of its options).
"""

from __future__ import annotations

from typing import Callable

from jaxlatent.search import gradient, gradient_reset
from jaxlatent.search.population import hevol
from jaxlatent.search.population import names as population_names
from jaxlatent.search.population import random_search
from jaxlatent.search.qd import scheduler as qd_scheduler


def _gradient(cfg):
    return gradient.build(cfg)


STRATEGIES: dict[str, Callable] = {
    **{name: _gradient for name in gradient.NAMES},
    "random_search": random_search.build,
    "hevol": hevol.build,
    "cma_maega": qd_scheduler.build,
    "gradient_reset": gradient_reset.build,
    **population_names.BUILDERS,
}


def build(cfg):
    """The strategy named ``cfg.name`` with its options; unknown names list the known ones."""
    name = cfg["name"] if isinstance(cfg, dict) else cfg.name
    if name not in STRATEGIES:
        raise KeyError(f"unknown search strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}")
    return STRATEGIES[name](cfg)
