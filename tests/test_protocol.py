"""The search protocol: host-evaluated mode, per-problem randomness, best tracking, registry."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent.search import host, protocol, qd, registry, runner
from jaxlatent.search.evaluate import candidate_values


def noisy_bowl(z, ctx, *, key=None):
    noise = 0.2 * jax.random.normal(key, ())
    return jnp.sum((z - ctx["target"]) ** 2) + noise, {"accept": z[0] > -1.0}


CTX = {"target": jnp.asarray([0.5, -0.25, 1.0])}


def _host_run(strategy, key, latent0, steps, objective=noisy_bowl):
    """Drives `strategy` from the host with a scripted evaluator computing `objective`."""
    driver = host.HostDriver(strategy, key, latent0)
    problem = runner.Problem(objective)
    for _ in range(steps):
        for kind in strategy.phases:
            x = jnp.asarray(driver.ask())
            if kind == protocol.GRAD:
                grad_fn = jax.value_and_grad(candidate_values, argnums=1, has_aux=True)
                (_, (values, aux)), grads = grad_fn(problem, x, CTX, {}, driver.eval_key())
                driver.tell(values, aux, grads=grads)
            else:
                _, (values, aux) = candidate_values(problem, x, CTX, {}, driver.eval_key())
                driver.tell(values, aux)
    return driver


@pytest.mark.parametrize("name", ["random_search", "adam"])
def test_host_evaluated_mode_equals_the_runner(name):
    strategy = registry.build({"name": name, "population": 6, "learning_rate": 0.1})
    key = jax.random.key(7)
    latent0 = jnp.zeros((3,)) if name == "random_search" else jnp.ones((2, 3))
    state, _ = runner.run(strategy, runner.Problem(noisy_bowl), None, latent0[None], CTX,
                          keys=key[None], num_steps=6, chunk_size=3, progress=False)
    driver = _host_run(strategy, key, latent0, 6)
    np.testing.assert_allclose(driver.best_value, state.best_value[0], rtol=1e-6)
    np.testing.assert_allclose(driver.best_latent, state.best_latent[0], rtol=1e-6)
    np.testing.assert_array_equal(driver.best_step, state.best_step[0])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b[0], rtol=1e-6),
                 driver.state, state.strategy)


def test_host_driver_saves_and_resumes(tmp_path):
    strategy = registry.build({"name": "random_search", "population": 4})
    key = jax.random.key(1)
    full = _host_run(strategy, key, jnp.zeros(3), 4)
    half = _host_run(strategy, key, jnp.zeros(3), 2)
    half.save(str(tmp_path / "driver.npz"))
    resumed = host.HostDriver(strategy, key, jnp.zeros(3))
    resumed.load(str(tmp_path / "driver.npz"))
    assert resumed.iteration == 2
    for _ in range(2):
        x = jnp.asarray(resumed.ask())
        _, (values, aux) = candidate_values(runner.Problem(noisy_bowl), x, CTX, {},
                                            resumed.eval_key())
        resumed.tell(values, aux)
    np.testing.assert_array_equal(resumed.best_value, full.best_value)
    np.testing.assert_array_equal(resumed.best_latent, full.best_latent)


def test_host_driver_refuses_malformed_evaluations():
    driver = host.HostDriver(registry.build({"name": "random_search", "population": 4}),
                             jax.random.key(0), jnp.zeros(3))
    with pytest.raises(RuntimeError, match="before ask"):
        driver.tell(np.zeros(4))
    driver.ask()
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        driver.tell(np.zeros(5))


def test_problems_draw_their_own_keys_and_candidates_split_them():
    """A problem's result depends on its key only: problem g of a G-problem run equals a run of
    that problem alone with ``keys[g]``; the candidates of one ask get different keys."""
    strategy = registry.build({"name": "random_search", "population": 5})
    keys = jax.random.split(jax.random.key(3), 4)
    z0 = jnp.zeros((4, 3))
    together, rows = runner.run(strategy, runner.Problem(noisy_bowl), None, z0, CTX, keys=keys,
                                num_steps=5, chunk_size=5, progress=False)
    for g in (0, 3):
        alone, _ = runner.run(strategy, runner.Problem(noisy_bowl), None, z0[g:g + 1], CTX,
                              keys=keys[g:g + 1], num_steps=5, chunk_size=5, progress=False)
        np.testing.assert_array_equal(alone.best_value[0], together.best_value[g])
    assert len(set(np.asarray(together.best_value).ravel().tolist())) == 4
    same = jnp.zeros((5, 3))  # identical candidates, different noise
    _, (values, _) = candidate_values(runner.Problem(noisy_bowl), same, CTX, {}, keys[0])
    assert len(set(np.round(np.asarray(values), 6).tolist())) == 5


def test_population_best_is_the_argmin_of_everything_asked():
    strategy = registry.build({"name": "random_search", "population": 8})
    driver = host.HostDriver(strategy, jax.random.key(5), jnp.zeros(3))
    seen = []
    deterministic = lambda z, c, key=None: (jnp.sum((z - c["target"]) ** 2), {})  # noqa: E731
    for _ in range(5):
        x = driver.ask()
        values = np.sum((x - np.asarray(CTX["target"])) ** 2, axis=1)
        seen += list(zip(values, x))
        driver.tell(values)
    best_value, best_x = min(seen, key=lambda t: t[0])
    assert driver.best_value.shape == (1,)
    np.testing.assert_allclose(driver.best_value[0], best_value, rtol=1e-6)
    np.testing.assert_allclose(driver.best_latent[0], best_x, rtol=1e-6)
    state, _ = runner.run(strategy, runner.Problem(deterministic), None, jnp.zeros((1, 3)), CTX,
                          keys=jax.random.key(5)[None], num_steps=5, chunk_size=5,
                          progress=False)
    np.testing.assert_allclose(state.best_value[0, 0], best_value, rtol=1e-6)


def _minimal_config(name):
    if name == "cma_maega":
        return {"name": name, "archive": dict(dims=(4, 4), ranges=((-3, 3), (-3, 3)),
                                              learning_rate=0.1, threshold_min=-1e3),
                "emitter": dict(sigma0=0.5, lr=0.1, batch_size=4)}
    return {"name": name}


def _measured_bowl(z, ctx, *, key=None):
    return jnp.sum((z - 0.3) ** 2), {"measures": z[:2]}


@pytest.mark.parametrize("name", sorted(registry.STRATEGIES))
def test_every_registered_strategy_runs_through_the_runner(name):
    """The registry sweep: each strategy builds by name and improves a bowl in a few steps."""
    strategy = registry.build(_minimal_config(name))
    protocol.check_strategy(strategy)
    d = 4
    latent0 = jnp.full((2, 1, d) if strategy.tracks_slots else (2, d), 1.5)
    state, rows = runner.run(strategy, runner.Problem(_measured_bowl), jax.random.key(0),
                             latent0, {}, num_steps=6, chunk_size=3, progress=False)
    assert len(rows) == 6 and all(np.isfinite(r["value_mean"]) for r in rows)
    assert np.all(np.asarray(state.best_step) >= 0)
    start_value = float(_measured_bowl(jnp.full(d, 1.5), {})[0])
    assert float(np.max(state.best_value)) <= start_value  # never worse than the start's region


def test_new_hyper_parameter_values_reuse_the_compiled_program():
    import logging

    strategy = registry.build({"name": "adam", "learning_rate": 0.1})
    z0 = jnp.ones((2, 1, 3))
    problem = runner.Problem(lambda z, c, key=None: (jnp.sum(z**2), {}))
    runner.run(strategy, problem, jax.random.key(0), z0, {}, num_steps=4, chunk_size=2,
               progress=False)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("jax").addHandler(handler)
    try:
        with jax.log_compiles():
            a, _ = runner.run(strategy, problem, jax.random.key(0), z0, {}, num_steps=4,
                              chunk_size=2, progress=False,
                              params={"learning_rate": jnp.float32(0.3)})
    finally:
        logging.getLogger("jax").removeHandler(handler)
    names = [r.getMessage().split(" ")[1] for r in records if r.getMessage().startswith("Compiling")]
    assert not [n for n in names if n in ("jit(step)", "jit(init_all)", "jit(run_chunk)")]
    b, _ = runner.run(strategy, problem, jax.random.key(0), z0, {}, num_steps=4, chunk_size=2,
                      progress=False)
    assert not np.allclose(a.strategy.latents, b.strategy.latents)  # the new rate was used


def test_cma_maega_keeps_its_archive_sentinels_without_tripping_the_nan_guard():
    cfg = qd.QDConfig(qd.ArchiveSpec((5, 5), ((-2, 2), (-2, 2)), 1.0),  # threshold_min -inf
                      qd.EmitterConfig(sigma0=0.3, lr=0.1, batch_size=4))
    state, rows = runner.run(qd.CmaMaega(cfg), runner.Problem(_measured_bowl), jax.random.key(0),
                             jnp.zeros((1, 4)), {}, num_steps=4, chunk_size=2, progress=False)
    # thresholds of empty cells are -inf with threshold_min -inf: non-finite, and not an error
    assert not np.all(np.isfinite(np.asarray(state.strategy.archive.thresholds)))
    assert rows[-1]["num_elites"] >= 1
