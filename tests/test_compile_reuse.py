"""A repeated or same-shaped search compiles nothing new (issue: performance, item 4).

Seeds, trials and the DivRare ablation variants (weights are traced inputs, the group term's
weight 0 turns it off) share one compiled program; a new shape compiles, which shows the counter
works.
"""

import jax
import pytest

from conftest import load_config, use_random_embedded
from jaxlatent import compiles
from jaxlatent.methods import divrare as dr_method
from jaxlatent.methods import divrare_setup as setup


@pytest.fixture(scope="module")
def divrare_parts(random_embedded):
    cfg = use_random_embedded(load_config("divrare", "smoke"), random_embedded)
    nets = setup.load_networks(cfg)
    fns, ctx = setup.make_fns(nets), setup.network_ctx(nets)
    banks = setup.make_banks(cfg, nets, fns[0], fns[1], ctx, jax.random.key(0))
    return cfg, nets, ctx, banks


def _search(cfg, nets, ctx, banks, seed, **variant):
    fns = setup.make_fns(nets)  # rebuilt per call, as `divrare.run` does
    state, _, _, _ = dr_method.search(cfg, nets, fns, ctx, banks, jax.random.key(seed), None,
                                      **variant)
    return jax.block_until_ready(state.best_value)


def test_counter_sees_a_new_program():
    fn, x = jax.jit(lambda x: x * 3.0 + 1.0), jax.numpy.ones(7)
    with compiles.counted() as first:
        fn(x)
    with compiles.counted() as second:
        fn(x)
    assert first.count == 1 and first.seconds > 0 and second.count == 0


@pytest.mark.parametrize("name", ["adam", "de"])
def test_repeated_divrare_searches_compile_nothing(divrare_parts, name):
    cfg, nets, ctx, banks = divrare_parts
    cfg = cfg.copy_and_resolve_references()
    cfg.search.name = name
    _search(cfg, nets, ctx, banks, seed=0)  # first search: compiles
    with compiles.counted() as again:
        _search(cfg, nets, ctx, banks, seed=1)
        _search(cfg, nets, ctx, banks, seed=2, use_sim=False, use_div=False)
        _search(cfg, nets, ctx, banks, seed=3, use_sim=True, use_div=False)
    assert again.count == 0, f"{again.count} programs compiled by repeated searches"
    cfg.search.num_starts += 1
    with compiles.counted() as reshaped:  # a new shape must compile (the counter is live)
        _search(cfg, nets, ctx, banks, seed=0)
    assert reshaped.count > 0
