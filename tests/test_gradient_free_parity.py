"""Statistical parity with nevergrad 1.0.12 on sphere, shifted sphere and Rastrigin-like losses.

For each strategy and d ∈ {6, 32, 512}: 16 seeds per loss, a budget of 240 evaluations, P
candidates per iteration on both sides (nevergrad ``num_workers = P``, ask × P then tell × P).
Test: a two-sided Mann–Whitney U test of (a) the best loss found and (b) the loss of each side's
recommendation (its own rule: pessimistic / optimistic / minimum), ours vs nevergrad's; the
case fails when p < 1e-3 for any loss. ``test_parity_test_detects_a_different_algorithm``
shows the test rejects DE with F1 = F2 = 0.3 against nevergrad's DE.

nevergrad's side (≈ 15 min of host loop) is the fixture ``fixtures/gradient_free_nevergrad.json``
written by ``python -m jaxlatent.search.population.testbed tests/fixtures/gradient_free_nevergrad.json``;
``test_fixture_is_what_nevergrad_gives`` re-runs seeds of it live and requires equal values.
"""

import json
import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxlatent.search.population import mu_lambda, testbed

pytestmark = pytest.mark.parity
warnings.filterwarnings("ignore", module="nevergrad")
SEEDS, ALPHA = 16, 1e-3


FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "gradient_free_nevergrad.json")
with open(FIXTURE) as _f:
    TABLE = json.load(_f)
BUDGET = {int(k): v for k, v in TABLE["budget"].items()}


def nevergrad_losses(name: str, d: int):
    """``{loss: (best [SEEDS], recommendation [SEEDS])}`` from the nevergrad fixture."""
    out = {}
    for loss in testbed.LOSS_NAMES:
        run = TABLE["runs"][f"{name}/{d}/{loss}"]
        out[loss] = (np.asarray(run["best"]), np.asarray(run["recommendation"]))
    return out


@pytest.mark.parametrize("name", sorted(testbed.NEVERGRAD))
def test_fixture_is_what_nevergrad_gives(name):
    d, loss, seed = 6, "rastrigin", 3
    run = TABLE["runs"][f"{name}/{d}/{loss}"]
    assert TABLE["nevergrad"] == __import__("nevergrad").__version__ == "1.0.12"
    best, rec = testbed.run_nevergrad(testbed.NEVERGRAD[name][0], loss, d, BUDGET[d], seed,
                                      run["workers"])
    assert (best, rec) == (run["best"][seed], run["recommendation"][seed])


def our_losses(strategy, d: int, key=0, params=None):
    """Same layout from one program over 3 losses × SEEDS problems."""
    ids = np.repeat(np.arange(3), SEEDS)
    best, state = testbed.run_jax(strategy, ids, d, BUDGET[d], jax.random.key(key),
                                  params=params)
    recs = jax.vmap(strategy.recommend)(state.strategy)
    out = {}
    for i, loss in enumerate(testbed.LOSS_NAMES):
        rec = testbed.loss_np(loss, np.asarray(recs[ids == i], np.float64))
        out[loss] = (best[ids == i], rec)
    return out


def _disagreements(ours, theirs):
    bad = []
    for loss in testbed.LOSS_NAMES:
        for what, a, b in (("best", ours[loss][0], theirs[loss][0]),
                           ("recommendation", ours[loss][1], theirs[loss][1])):
            p = stats.mannwhitneyu(a, b, alternative="two-sided").pvalue
            if p < ALPHA:
                bad.append(f"{loss} {what}: p={p:.2e}, median ours {np.median(a):.4g} vs "
                           f"nevergrad {np.median(b):.4g}")
    return bad


TPA = pytest.mark.xfail(strict=True, reason=(
    "pycma (nevergrad's CMA) switches to two-point step-size adaptation (TPA) for d >= 300; "
    "ours uses CSA at every d, and at d = 512 with 240 evaluations it is worse (sphere median "
    "99.9 vs 41.9 full, 453 vs 192 diagonal). Not implemented yet."))
CASES = [pytest.param(name, d, marks=[TPA] if "cma" in name and d >= 300 else [])
         for name in sorted(testbed.NEVERGRAD) for d in (6, 32, 512)]


@pytest.mark.parametrize("name,d", CASES)
def test_loss_distribution_matches_nevergrad(name, d):
    strategy = testbed.build(name, d)
    bad = _disagreements(our_losses(strategy, d), nevergrad_losses(name, d))
    assert not bad, f"{name} d={d}: " + "; ".join(bad)


def test_parity_test_detects_a_different_algorithm():
    d = 32
    strategy = testbed.build("de", d)
    params = {**strategy.default_params(), "f1": jnp.float32(0.3), "f2": jnp.float32(0.3)}
    bad = _disagreements(our_losses(strategy, d, params=params), nevergrad_losses("de", d))
    assert bad, "DE with F1 = F2 = 0.3 passed as nevergrad's DE: the test has no power"


def _algorithm1_numpy(loss, d, iterations, mu, lam, rng):
    """Independent numpy transcription of the paper's Algorithm 1 (best evaluated loss)."""
    zhat, best = np.zeros(d), np.inf
    for _ in range(iterations):
        zs = []
        for _ in range(lam):
            mask = np.zeros(d, bool)
            while not mask.any():
                mask = rng.rand(d) < 1.0 / d
            zs.append(np.where(mask, rng.randn(d), zhat))
        zs.append(zhat)
        values = testbed.loss_np(loss, np.stack(zs))
        best = min(best, values.min())
        zhat = np.mean(np.stack(zs)[np.argsort(values, kind="stable")[:mu]], axis=0)
    return best


@pytest.mark.parametrize("mu,lam", [(1, 1), (5, 27)])
def test_mu_lambda_matches_a_numpy_transcription_of_algorithm_1(mu, lam):
    d, budget = 32, 224
    strategy = mu_lambda.MuPlusLambda(mu=mu, lam=lam)
    ids = np.repeat(np.arange(3), SEEDS)
    best, _ = testbed.run_jax(strategy, ids, d, budget, jax.random.key(1))
    rng = np.random.RandomState(0)
    for i, loss in enumerate(testbed.LOSS_NAMES):
        ref = [_algorithm1_numpy(loss, d, budget // (lam + 1), mu, lam, rng) for _ in range(SEEDS)]
        p = stats.mannwhitneyu(best[ids == i], ref, alternative="two-sided").pvalue
        assert p >= ALPHA, f"{loss}: p={p:.2e}, {np.median(best[ids == i]):.4g} vs {np.median(ref):.4g}"
