"""DivRare: the loss terms (paper eq. 2 and the official scaling) and an end-to-end smoke run."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import load_config, use_random_embedded
from jaxlatent import experiment
from jaxlatent.objectives import divrare as dr
from jaxlatent.search import runner
from jaxlatent.search.evaluate import candidate_values


def toy_objective(lambda1):
    # G = identity, F = identity, log p = −‖f‖²/2: the loss structure without networks.
    return dr.make_objective(
        lambda ctx, z: z, lambda ctx, x: x, lambda ctx, f: -0.5 * jnp.sum(f**2, -1), lambda1
    )


def toy_ctx(dim=4):
    real = jax.random.normal(jax.random.key(0), (50, dim))
    return {"anchor": jnp.zeros(dim), "dstar": jnp.asarray(1.0), "real_features": real,
            "real_radii": jnp.full((50,), 0.5)}


def test_similarity_term_is_zero_inside_dstar_and_quadratic_outside():
    obj, ctx = toy_objective(lambda1=3.0), toy_ctx()
    inside = jnp.asarray([0.5, 0.0, 0.0, 0.0])
    outside = jnp.asarray([2.0, 0.0, 0.0, 0.0])
    v_in, aux_in = obj(inside, ctx)
    v_out, aux_out = obj(outside, ctx)
    assert float(aux_in["sim"]) == 0.0 and bool(aux_in["dist"] <= 1.0)
    assert float(aux_out["sim"]) == pytest.approx((2.0 - 1.0) ** 2)
    assert float(v_out) == pytest.approx(-0.5 * 4.0 + 3.0 * 1.0)


def test_accept_needs_inside_manifold_and_within_dstar():
    obj, ctx = toy_objective(1.0), toy_ctx()
    near_real = ctx["real_features"][0] * 0 + 0.0  # at the anchor, maybe outside every ball
    member = ctx["real_features"][3] + 0.01
    far = ctx["real_features"][3] * 10
    ctx_member = {**ctx, "anchor": member}
    assert bool(obj(member, ctx_member)[1]["accept"])  # inside a ball, d = 0 ≤ d*
    assert not bool(obj(far, {**ctx, "anchor": far})[1]["inside"])
    assert not bool(obj(member, {**ctx, "anchor": member + 5.0})[1]["accept"])  # d > d*
    del near_real


@pytest.mark.parametrize("reference_scaling", [False, True])
def test_group_loss_matches_eq2_or_official_scaling(reference_scaling):
    n, lam1, lam2 = 4, 3.0, 0.5
    w_sim, w_pair = dr.effective_weights(lam1, lam2, n, reference_scaling)
    problem = runner.Problem(toy_objective(w_sim), dr.diversity_term(w_pair))
    z = jax.random.normal(jax.random.key(1), (n, 4)) * 2
    ctx = toy_ctx()
    start_ctx = {"anchor": jnp.zeros((n, 4)), "dstar": jnp.full((n,), 1.0)}
    total, _ = candidate_values(problem, z, ctx, start_ctx, jax.random.key(0))
    logp = -0.5 * jnp.sum(z**2, -1)
    sim = (jnp.maximum(jnp.linalg.norm(z, axis=-1), 1.0) - 1.0) ** 2
    d2 = jnp.sum((z[:, None] - z[None]) ** 2, -1)
    if reference_scaling:  # official: Σℓ + n·λ1·Σ sim − n·λ2·Σ_{i<j} d²
        want = logp.sum() + n * lam1 * sim.sum() - n * lam2 * jnp.triu(d2, 1).sum()
    else:  # eq. 2 summed over i: Σ_i [ℓ_i + λ1·sim_i − λ2·Σ_{j≠i} d²_ij]
        want = logp.sum() + lam1 * sim.sum() - lam2 * d2.sum()
    assert float(total) == pytest.approx(float(want), rel=1e-5)


def test_divrare_smoke_end_to_end(tmp_path, random_embedded):
    config = use_random_embedded(load_config("divrare", "smoke"), random_embedded)
    summary = experiment.run(config, str(tmp_path))
    for name in ["config.json", "metrics.jsonl", "latents.npz", "references.png", "baseline.png",
                 "curves.png", "summary.json", "results.md"]:
        assert os.path.exists(tmp_path / name), name
    with np.load(tmp_path / "latents.npz") as f:
        assert f["best_latents"].shape == (2, 3, 6)
        assert f["starts"].shape == (2, 3, 6)
        assert np.all(np.isfinite(f["final_latents"]))
    assert "baseline (random G samples)" in summary["results"]
    # Every logged metric is finite at every step, and every curve of the figure has values
    # (the in-manifold rarity was all NaN when the boolean "inside" was not logged).
    rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert [r["step"] for r in rows] == list(range(1, 5))
    assert {"inside", "rarity_masked", "accept", "loss", "logp"} <= set(rows[0])
    assert all(np.isfinite(v) for r in rows for v in r.values())
    curves = json.loads(open(tmp_path / "curves.json").read())
    inside = np.asarray([r["inside"] for r in rows])
    for name, series in curves.items():
        finite = np.isfinite(np.asarray(series, float))
        if name == "rarity (in manifold)":  # defined exactly where some start is in the manifold
            np.testing.assert_array_equal(finite, inside > 0)
        else:
            assert len(series) == 4 and finite.all(), name
    report = open(tmp_path / "report.md").read()
    assert "![" in report and "references.png" in report


def test_rarity_curve_is_the_mean_over_in_manifold_starts():
    from jaxlatent.methods import divrare_eval as ev

    rows = [{"loss": 1.0, "logp": 2.0, "accept_frac": 0.5, "inside": 0.25, "rarity_masked": 1.5},
            {"loss": 1.0, "logp": 2.0, "accept_frac": 0.0, "inside": 0.0, "rarity_masked": 0.0}]
    curves = ev.curves(rows)
    np.testing.assert_allclose(curves["rarity (in manifold)"][0], 6.0)  # 1.5 / 0.25
    assert np.isnan(curves["rarity (in manifold)"][1])
