"""Any objective × any gradient-free strategy; the DivRare config with ``search.name=de``."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import load_config, use_random_embedded
from jaxlatent import experiment
from jaxlatent.methods import divrare
from jaxlatent.objectives import base, qdgs_shapes
from jaxlatent.objectives import divrare as dr
from jaxlatent.search import host, registry, runner
from jaxlatent.search.population import de, names, one_plus_one, set_objective

NAMES = sorted(names.BUILDERS)
D = 6  # the embedded VAE's latent size


def _toy_generate(ctx, z):
    """A fixed differentiable 'generator' z [1, 6] -> image [1, 16, 16, 3] in [0, 1]."""
    return jax.nn.sigmoid(jnp.einsum("bd,dhwc->bhwc", z, ctx["basis"]))


def _objectives():
    """(name, objective) pairs: the QDGS shapes objective (toy networks, real measures and
    realism), the inspirational latent-norm term plus a target distance, and DivRare's loss."""
    qdgs = qdgs_shapes.make_objective(_toy_generate, lambda c, x: x.reshape(1, -1)[:, :8],
                                      lambda c, f: -0.5 * jnp.sum(f**2, -1))
    norm = base.weighted_sum(("target", 1.0, lambda z, c, key=None: (jnp.sum((z - 0.3) ** 2), {})),
                             ("latent_norm", 1.0, base.latent_norm_penalty))
    rare = dr.make_objective(lambda c, z: z, lambda c, x: x, lambda c, f: -0.5 * jnp.sum(f**2, -1),
                             30.0)
    return [("qdgs_shapes", qdgs), ("latent_norm", norm), ("divrare", rare)]


def _ctx():
    key = jax.random.key(0)
    return {"basis": jax.random.normal(key, (D, 16, 16, 3)),
            "realism_bounds": {"min_mass": jnp.float32(5.0), "max_compactness": jnp.float32(0.2)},
            "anchor": jnp.zeros(D), "dstar": jnp.float32(1.0),
            "real_features": jax.random.normal(key, (20, D)), "real_radii": jnp.full((20,), 1.0)}


def _selected(objectives):
    def objective(z, ctx, *, key=None):
        outs = [f(z, ctx, key=key)[0] for _, f in objectives]
        return jnp.stack(outs)[ctx["which"]], {}

    return objective


@pytest.mark.parametrize("name", NAMES)
def test_every_strategy_runs_every_objective_and_improves(name):
    objectives = _objectives()
    strategy = registry.build({"name": name, "population": 8} if "one_plus_one" in name
                              or name == "random_search" else {"name": name})
    k = len(objectives)

    def run(steps):
        return runner.run(strategy, runner.Problem(_selected(objectives)), jax.random.key(1),
                          jnp.zeros((k, D)), _ctx(), num_steps=steps, chunk_size=1,
                          problem_ctx={"which": jnp.arange(k)}, progress=False, scan=True)[0]

    first, state = run(1), run(12)  # same keys: the first iteration is shared
    best = np.asarray(state.best_value[:, 0])
    assert np.all(np.isfinite(best)) and np.all(np.asarray(state.best_step) >= 0)
    assert np.all(best <= np.asarray(first.best_value[:, 0]))
    assert np.any(best < np.asarray(first.best_value[:, 0])), "no objective improved"
    rec = jax.vmap(strategy.recommend)(state.strategy)
    assert rec.shape == (k, D) and np.all(np.isfinite(np.asarray(rec)))


def test_set_candidates_keep_the_per_start_rule_and_group_loss():
    # DivRare on sets: value = Σ_i ℓ_i + diversity term, best per start only where accepted.
    obj = dr.make_objective(lambda c, z: z, lambda c, x: x, lambda c, f: -0.5 * jnp.sum(f**2, -1),
                            30.0)
    problem = set_objective.set_problem(obj, dr.diversity_term(0.004), scale=0.5)
    starts = jax.random.normal(jax.random.key(2), (2, 3, D))
    ctx = {"real_features": jax.random.normal(jax.random.key(3), (50, D)) * 2,
           "real_radii": jnp.full((50,), 1.5)}
    per_start = {"anchor": starts, "dstar": jnp.full((2, 3), 1.0)}
    state, _ = runner.run(registry.build({"name": "de"}), problem, jax.random.key(0),
                          jnp.zeros_like(starts), ctx,
                          problem_ctx={"starts": starts, "per_start": per_start},
                          memory=set_objective.init_bests(starts), num_steps=4, chunk_size=4,
                          progress=False, scan=True)
    m = state.memory
    found = np.asarray(m.step) >= 0
    assert found.any() and m.latent.shape == (2, 3, D)
    for g, i in zip(*np.nonzero(found)):  # each kept latent is accepted and has its value
        z = m.latent[g, i]
        value, aux = obj(z, {**ctx, "anchor": starts[g, i], "dstar": 1.0})
        assert bool(aux["accept"])
        np.testing.assert_allclose(float(value), float(m.value[g, i]), rtol=1e-5)
    u = jnp.zeros((3, D))
    total, _ = problem.objective(u, {**ctx, "starts": starts[0], "per_start": jax.tree.map(
        lambda x: x[0], per_start)})
    values = [obj(starts[0, i], {**ctx, "anchor": starts[0, i], "dstar": 1.0})[0] for i in range(3)]
    feats = starts[0]
    pair = sum(float(jnp.sum((feats[i] - feats[j]) ** 2)) for i in range(3) for j in range(i + 1, 3))
    np.testing.assert_allclose(float(total), float(sum(values)) - 0.004 * pair, rtol=1e-5)


def test_divrare_default_search_is_the_gradient_search():
    cfg = load_config("divrare").search
    assert divrare.build_strategy(cfg) == registry.build(cfg.optimizer)
    cfg.name = "dde"
    assert divrare.build_strategy(cfg) == de.DifferentialEvolution(crossover="dimension")


def test_divrare_gradient_free_end_to_end(tmp_path, random_embedded):
    config = use_random_embedded(load_config("divrare", "smoke"), random_embedded)
    config.search.name = "de"
    summary = experiment.run(config, str(tmp_path))
    for name in ["metrics.jsonl", "latents.npz", "summary.json", "report.md", "references.png"]:
        assert os.path.exists(tmp_path / name), name
    with np.load(tmp_path / "latents.npz") as f:
        assert f["best_latents"].shape == (2, 3, 6) and f["final_latents"].shape == (2, 3, 6)
        assert np.all(np.isfinite(f["final_latents"]))
    assert "L_rare+L_sim+L_div" in summary["results"]


def test_host_driver_runs_a_population_strategy():
    d = host.HostDriver(registry.build({"name": "mu_lambda", "mu": 5, "lam": 27}),
                        jax.random.key(0), jnp.zeros(D))
    for _ in range(3):
        x = d.ask()
        assert x.shape == (28, D)
        d.tell(np.sum((x - 0.3) ** 2, axis=1))
    assert d.iteration == 3 and np.isfinite(d.best_value[0])


def test_bad_configurations_name_the_problem():
    with pytest.raises(ValueError, match="mutation"):
        one_plus_one.OnePlusOne(mutation="cauchy")
    with pytest.raises(ValueError, match="popsize"):
        de.DifferentialEvolution(population=40, popsize=30)
    with pytest.raises(KeyError, match="known"):
        registry.build({"name": "nelder_mead"})
