"""BigGAN-AM: Eqs. 1-3 against direct computations, clamp vs projection, one program over
classes × trials equal to separate runs, the same latent sequence for every trial, resume, the
real-checkpoint path errors, and (with the shipped weights) a smoke run of the method."""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from conftest import load_config
from jaxlatent import experiment
from jaxlatent.methods import biggan_am_domains as domains
from jaxlatent.methods import biggan_am_eval as ev
from jaxlatent.methods import biggan_am_setup as setup
from jaxlatent.models import embedded, shapes_gans
from jaxlatent.objectives import biggan_am as obj
from jaxlatent.search import gradient, runner
from jaxlatent.workdir import Workdir


@pytest.fixture(scope="module")
def nets():
    """The tiny BigGAN and the AM classifier at random init (tests never need trained weights)."""
    g = shapes_gans.build_shapes_biggan_am_generator(key=jax.random.key(1))
    p = shapes_gans.build_shapes_biggan_am_classifier(key=jax.random.key(2))
    table = np.asarray(g.info["embedding_table"]) + 0.05 * np.asarray(
        jax.random.normal(jax.random.key(3), g.info["embedding_table"].shape))
    low, high = float(table.min()), float(table.max())
    return setup.Networks(g.apply_fn, p.apply_fn, g.params, p.params, table, g.info["z_dim"],
                          low, high, (high - low) / 1.2, domains.SHAPES_NAMES)


def _config(**search):
    config = load_config("biggan_am", "smoke")
    config.search.update(search)
    return config


def _ctx(nets, z_num=4, steps=4, k=2, lam=0.5):
    return {"generator": nets.g_params, "classifier": nets.p_params, "lam": jnp.float32(lam),
            "z_bank": setup.z_bank(jax.random.key(0), steps, k, z_num, nets.dim_z),
            "low": jnp.float32(nets.low), "high": jnp.float32(nets.high),
            "pairs": jnp.asarray(obj.disjoint_pairs(z_num)), "memory": jnp.int32(0),
            "target": jnp.int32(2)}


def test_eq2_am_loss_is_mean_cross_entropy():
    logits = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    direct = -np.mean([l[1] - np.log(np.sum(np.exp(l))) for l in logits])
    np.testing.assert_allclose(obj.am_loss(jnp.asarray(logits), 1), direct, rtol=1e-6)


def test_eq1_diversity_over_disjoint_pairs():
    rng = np.random.default_rng(1)
    phi, z = rng.normal(size=(6, 3, 2)), rng.normal(size=(6, 5))
    pairs = obj.disjoint_pairs(6)
    np.testing.assert_array_equal(pairs, [[0, 1], [2, 3], [4, 5]])
    direct = np.mean([np.linalg.norm(phi[i] - phi[j]) / np.linalg.norm(z[i] - z[j])
                      for i, j in pairs])
    np.testing.assert_allclose(obj.diversity(jnp.asarray(phi), jnp.asarray(z), pairs), direct,
                               rtol=1e-5)
    assert len(obj.disjoint_pairs(20)) == 10 and len(obj.disjoint_pairs(5)) == 2


@pytest.mark.parametrize("phi", ["softmax", "pixel", "features"])
def test_eq3_objective_equals_direct_computation(nets, phi):
    ctx = _ctx(nets)
    settings = obj.Settings(nets.generate, nets.classify, phi, "in_graph", 2)
    c = jnp.asarray(nets.table[1])
    value, aux = obj.make_objective(settings)(c, ctx)
    z = np.asarray(ctx["z_bank"][0])
    x = nets.generate(nets.g_params, z, jnp.broadcast_to(c, (4, c.shape[0])))
    out = nets.classify(nets.p_params, x)
    logp = np.asarray(jax.nn.log_softmax(out["logits"]))
    feat = {"softmax": np.exp(logp), "pixel": np.asarray(x),
            "features": np.asarray(out["features"])}[phi].reshape(4, -1)
    div = np.mean([np.linalg.norm(feat[i] - feat[j]) / np.linalg.norm(z[i] - z[j])
                   for i, j in ((0, 1), (2, 3))])
    ce = -logp[:, 2].mean()
    np.testing.assert_allclose(aux["ce"], ce, rtol=1e-5)
    np.testing.assert_allclose(aux["diversity"], div, rtol=1e-4)
    np.testing.assert_allclose(value, ce - 0.5 * div, rtol=1e-4, atol=1e-6)


def test_clamp_in_graph_zeroes_gradient_outside_range_projection_does_not(nets):
    ctx = _ctx(nets)
    c = jnp.asarray(nets.table[0]).at[:3].set(nets.high + 1.0)  # three coordinates out of range
    grads = {}
    for mode in ("in_graph", "project"):
        f = obj.make_objective(obj.Settings(nets.generate, nets.classify, None, mode, 2))
        grads[mode] = np.asarray(jax.grad(lambda e: f(e, ctx)[0])(c))
    assert np.all(grads["in_graph"][:3] == 0) and np.any(grads["in_graph"][3:] != 0)
    assert np.all(grads["project"][:3] != 0)


def test_projected_search_stays_in_range_clamped_one_may_leave(nets):
    ctx = _ctx(nets, steps=6)
    starts = jnp.asarray(nets.table[[0, 1]])[:, None, :]
    ends = {}
    for mode in ("in_graph", "project"):
        problem = runner.Problem(obj.make_objective(
            obj.Settings(nets.generate, nets.classify, None, mode, 2)), memory_update=obj.count_steps)
        base = gradient.adam(1.0)  # a large step: leaves the range at once
        strategy = setup.Projected(base, nets.low, nets.high) if mode == "project" else base
        state, _ = runner.run(strategy, problem, jax.random.key(0), starts, ctx, num_steps=6,
                              problem_ctx={"target": jnp.asarray([2, 3])},
                              memory=jnp.zeros(2, jnp.int32), progress=False)
        ends[mode] = np.asarray(state.strategy.latents)
    assert ends["project"].min() >= nets.low - 1e-7 and ends["project"].max() <= nets.high + 1e-7
    assert ends["in_graph"].min() < nets.low or ends["in_graph"].max() > nets.high


def test_z_bank_index_follows_the_step_counter():
    bank = setup.z_bank(jax.random.key(0), 7, 3, 2, 5)
    assert bank.shape == (3, 2, 5)
    for t, r in ((0, 0), (2, 0), (3, 1), (6, 2), (50, 2)):
        np.testing.assert_array_equal(obj.z_batch(bank, t, 3), bank[r])
    np.testing.assert_array_equal(bank[1], jax.random.normal(jax.random.fold_in(
        jax.random.key(0), 1), (2, 5)))


def test_every_trial_sees_the_same_latents_and_one_program_equals_separate_runs(nets):
    config = _config(num_steps=4, steps_per_z=2, trials=2, z_num=4)
    targets = (0, 3)
    full = setup.search(config, nets, "am_d_l", targets, None, jax.random.key(5), progress=False)
    # Same starts for every problem: the trajectories differ only by target (the key is unused).
    v = config.variants["am_d_l"]
    settings = obj.Settings(nets.generate, nets.classify, v["phi"], config.search.clamp, 2)
    problem = setup._problem(settings)
    strategy = setup.Projected(gradient.adam(v["lr"] * nets.scale), nets.low, nets.high)
    ctx = _ctx(nets, lam=v["lam"])
    ctx.pop("memory"), ctx.pop("target")
    start = jnp.broadcast_to(jnp.asarray(nets.table[1]), (3, 1, nets.table.shape[1]))
    state, _ = runner.run(strategy, problem, jax.random.key(9), start, ctx, num_steps=4,
                          problem_ctx={"target": jnp.asarray([2, 2, 2])},
                          memory=jnp.zeros(3, jnp.int32), progress=False)
    lat = np.asarray(state.strategy.latents)
    np.testing.assert_array_equal(lat[0], lat[1]), np.testing.assert_array_equal(lat[0], lat[2])
    np.testing.assert_array_equal(np.asarray(state.memory), [4, 4, 4])
    # One program over classes x trials = separate runs with the same keys.
    k_init, k_run = jax.random.split(jax.random.fold_in(jax.random.key(5), setup._name_id("am_d_l")))
    latents0 = setup.initial_embeddings(k_init, v["init"], nets, np.asarray(targets), 2,
                                        config.search.noise_std)
    keys = jax.random.split(k_run, 4)
    for g in range(4):
        one, _ = runner.run(strategy, problem, None, latents0[g:g + 1], ctx, num_steps=4,
                            keys=keys[g:g + 1], problem_ctx={"target": jnp.asarray([targets[g // 2]])},
                            memory=jnp.zeros(1, jnp.int32), progress=False)
        np.testing.assert_allclose(np.asarray(one.strategy.latents)[0, 0],
                                   full.raw[g // 2, g % 2], rtol=1e-5, atol=1e-6)


def test_initial_embeddings(nets):
    t = 3
    for init in ("target", "mean", "top", "random"):
        starts = np.asarray(setup.initial_embeddings(jax.random.key(0), init, nets,
                                                     np.asarray([1, 2]), t, 0.1))
        assert starts.shape == (2 * t, 1, nets.table.shape[1])
    s = np.asarray(setup.initial_embeddings(jax.random.key(0), "target", nets, [1], 200, 0.1))
    np.testing.assert_allclose(s[:, 0].mean(0), nets.table[1], atol=0.1 * nets.scale * 0.35)
    np.testing.assert_allclose(s[:, 0].std(0).mean(), 0.1 * nets.scale, rtol=0.15)
    top = np.asarray(setup.initial_embeddings(jax.random.key(0), "top", nets, [2], 4, 0.1))[:, 0]
    order = setup.rank_rows(nets, 2, jax.random.fold_in(jax.random.fold_in(jax.random.key(0), 0), 1))
    np.testing.assert_array_equal(top, nets.table[order])


def test_resume_continues_to_the_uninterrupted_result(nets, tmp_path):
    config = _config(num_steps=4, steps_per_z=2, trials=1, z_num=4)
    fresh = setup.search(config, nets, "am_s", (1,), None, jax.random.key(3), progress=False)
    wdir = Workdir(str(tmp_path / "w"))
    config.search.num_steps = 2  # "killed" after step 2 (the chunk of 2 is checkpointed)
    setup.search(config, nets, "am_s", (1,), wdir, jax.random.key(3), progress=False)
    config.search.num_steps = 4
    resumed = setup.search(config, nets, "am_s", (1,), wdir, jax.random.key(3), progress=False)
    np.testing.assert_allclose(resumed.raw, fresh.raw, rtol=1e-6, atol=1e-7)
    assert not np.allclose(fresh.raw, fresh.start)


def test_feature_distance_zero_for_equal_and_positive_otherwise():
    rng = np.random.default_rng(0)
    a = [jnp.asarray(rng.random((2, 4, 4, 3)), jnp.float32)]
    np.testing.assert_allclose(ev.feature_distance(a, a), 0.0, atol=1e-6)
    b = [jnp.asarray(rng.random((2, 4, 4, 3)), jnp.float32)]
    assert np.all(np.asarray(ev.feature_distance(a, b)) > 0)
    assert ev.aggregate([1.0, 3.0]) == (2.0, 1.0)


def test_real_checkpoints_missing_files_name_the_convert_commands(tmp_path):
    config = load_config("biggan_am", "domain=biggan_pytorch,resolution=128")
    assert config.generator.name == "biggan" and config.targets == (904,)
    with pytest.raises(FileNotFoundError) as err:
        domains.load(config)
    text = str(err.value)
    assert "--config.generator.path" in text and "138k/G_ema.pth" in text
    assert "weights_convert/biggan.py" in text and "weights_convert/alexnet.py" in text
    config = load_config("biggan_am", "domain=biggan_pytorch")
    config.classifier.head_path = str(tmp_path / "head.npz")
    with pytest.raises(FileNotFoundError, match="biggan_256_weights.pth.*head_path"):
        domains.load(config)


def test_presets():
    paper, official = load_config("biggan_am", "full"), load_config("biggan_am", "preset=official,full")
    assert (paper.search.z_num, paper.search.trials, paper.search.weight_decay) == (20, 5, 0.0)
    assert paper.variants["am_s"]["lr"] == 0.01 and paper.variants["am_l"]["lr"] == 0.1
    assert paper.variants["am_d_s"]["lam"] == 2.0 and paper.variants["am_d_s"]["phi"] == "softmax"
    assert (official.search.z_num, official.search.trials, official.search.weight_decay,
            official.search.clamp) == (10, 3, 0.9, "in_graph")
    assert {v["lr"] for v in official.variants.values()} == {0.1}
    cpu, table = load_config("biggan_am"), load_config("biggan_am", "table")
    assert (cpu.search.num_steps, cpu.search.z_num, cpu.search.trials) == (100, 10, 2)
    assert (table.search.trials, table.eval.num_samples) == (3, 500)
    with pytest.raises(ValueError, match="unknown preset"):
        load_config("biggan_am", "preset=nope")


SHIPPED = all(os.path.isfile(embedded.weights_path(n)) for n in shapes_gans.AM_TRAIN)


@pytest.mark.slow
@pytest.mark.skipif(not SHIPPED, reason="BigGAN-AM weights not shipped yet")
def test_smoke_run_writes_outputs_and_resumes(tmp_path):
    config = load_config("biggan_am", "smoke")
    summary = experiment.run(config, str(tmp_path))
    for name in ("embeddings.npz", "table.md", "table.json", "summary.json", "report.md",
                 "grid_0.png", "interp_3.png", "search/am_s/curves_am_s.png"):
        assert os.path.exists(tmp_path / name), name
    with np.load(tmp_path / "embeddings.npz") as f:
        raw, clamped = f["am_d_l_raw"], f["am_d_l_clamped"]
        assert raw.shape == (2, 2, 32)
        np.testing.assert_array_equal(clamped, np.clip(raw, *f["clamp_range"]))
    again = experiment.run(config, str(tmp_path))  # finished search: resumes, same result
    assert again["final_am_target_prob"] == summary["final_am_target_prob"]
    assert len(summary["table"]["rows"]) == 8  # Real, BigGAN, 2 noise, 2 AM, top-1, mix
