"""Runner invariants: vmap equals a loop over starts, no retrace, determinism, best tracking."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent import loop
from jaxlatent.objectives.base import weighted_sum
from jaxlatent.search import gradient, runner


def quadratic(z, ctx, *, key=None):
    noise = 0.0 if key is None else 0.1 * jnp.dot(jax.random.normal(key, z.shape), z)
    return jnp.sum((z - ctx["target"]) ** 2) + noise, {"norm": jnp.sum(z**2)}


ADAM = gradient.adam(0.05)  # one object: a new optimizer is a new program


def run(latents0, steps=30, key=0, problem=None, **kw):
    return runner.run(
        ADAM, problem or runner.Problem(quadratic), jax.random.key(key), latents0,
        {"target": jnp.arange(3.0)}, num_steps=steps, chunk_size=10, progress=False, **kw,
    )


def test_vmapped_runner_equals_a_loop_over_starts():
    z0 = jax.random.normal(jax.random.key(1), (4, 1, 3))
    # Per-start randomness depends on the start's index, so compare a deterministic objective.
    problem = runner.Problem(lambda z, c, key=None: quadratic(z, c))
    batched, _ = run(z0, problem=problem)
    singles = [run(z0[i : i + 1], problem=problem)[0] for i in range(4)]
    for i, s in enumerate(singles):
        np.testing.assert_allclose(batched.strategy.latents[i], s.strategy.latents[0], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(batched.best_value[i], s.best_value[0], rtol=1e-6)


def test_same_seed_is_identical_and_other_seed_differs():
    z0 = jnp.zeros((3, 2, 3))
    a, rows_a = run(z0, key=5)
    b, rows_b = run(z0, key=5)
    c, _ = run(z0, key=6)
    np.testing.assert_array_equal(a.strategy.latents, b.strategy.latents)
    assert rows_a == rows_b
    assert not np.array_equal(a.strategy.latents, c.strategy.latents)


def test_second_run_does_not_recompile():
    z0 = jnp.ones((2, 1, 3))
    problem = runner.Problem(quadratic)
    run(z0, problem=problem)
    with jax.log_compiles():
        import logging

        records = []
        handler = logging.Handler()
        handler.emit = records.append
        logging.getLogger("jax").addHandler(handler)
        try:
            run(z0 + 1.0, problem=problem)
        finally:
            logging.getLogger("jax").removeHandler(handler)
    names = [r.getMessage().split(" ")[1] for r in records if r.getMessage().startswith("Compiling")]
    ours = ("jit(step)", "jit(init_all)", "jit(run_chunk)", "jit(check)")
    assert [n for n in names if n in ours] == []
    assert any(n == "jit(add)" for n in names)  # the log capture works: z0 + 1.0 was compiled


def test_adam_converges_and_best_tracks_minimum():
    z0 = jax.random.normal(jax.random.key(2), (5, 1, 3)) * 3
    problem = runner.Problem(lambda z, c, key=None: quadratic(z, c))
    state, rows = run(z0, steps=600, problem=problem)
    np.testing.assert_allclose(state.best_latent[:, 0], np.tile(np.arange(3.0), (5, 1)), atol=1e-2)
    assert rows[-1]["best_mean"] <= min(r["value_min"] for r in rows) + 1e-6
    assert np.all(np.asarray(state.best_step) >= 0)


def test_accept_predicate_gates_best_tracking():
    def only_positive_first_coord(z, ctx, *, key=None):
        value, aux = quadratic(z, ctx)
        return value, {**aux, "accept": z[0] > 0.5}

    z0 = jnp.full((1, 1, 3), 2.0)  # the path crosses z[0] = 0.5 on the way to the target 0
    state, rows = run(z0, steps=200, problem=runner.Problem(only_positive_first_coord))
    assert int(state.best_step[0, 0]) >= 0  # an accepted step was reached
    assert 0.5 < float(state.best_latent[0, 0, 0]) < 0.6  # the best accepted, not the optimum
    assert any(r["accept_frac"] == 0 for r in rows)  # ... although the run ends rejected
    assert float(state.strategy.latents[0, 0, 0]) < 0.5


def test_group_term_couples_starts():
    def spread(latents, aux, ctx):
        return -0.4 * jnp.sum((latents[:, None] - latents[None]) ** 2), {}

    z0 = jnp.zeros((1, 3, 3)) + jnp.arange(3.0)[None, :, None] * 1e-3
    problem = runner.Problem(lambda z, c, key=None: quadratic(z, c), group_term=spread)
    coupled, rows = run(z0, steps=20, problem=problem)
    alone, _ = run(z0, steps=20, problem=runner.Problem(lambda z, c, key=None: quadratic(z, c)))
    spread_c = np.ptp(np.asarray(coupled.strategy.latents[0]), axis=0).sum()
    spread_a = np.ptp(np.asarray(alone.strategy.latents[0]), axis=0).sum()
    assert spread_c > 2 * spread_a
    assert "group_term" in rows[0]


def test_nan_initial_latents_are_refused():
    with pytest.raises(ValueError, match="NaN or inf"):
        run(jnp.full((1, 1, 3), jnp.nan))


def test_diverging_search_raises_naming_the_problem():
    blow_up = runner.Problem(lambda z, c, key=None: (jnp.sum(z**4), {}))
    with pytest.raises(FloatingPointError, match="non-finite.*no checkpoint was written"):
        runner.run(gradient.GradientSearch("sgd", 1e3), blow_up,
                   jax.random.key(0), jnp.ones((1, 1, 2)), {}, num_steps=10, chunk_size=5,
                   progress=False)


def test_nan_message_names_the_kept_checkpoint(tmp_path):
    from jaxlatent.workdir import Workdir

    late = runner.Problem(lambda z, c, key=None: (jnp.sum(z**2) + jnp.where(z[0] > 10, jnp.nan, 0.0), {}))
    with pytest.raises(FloatingPointError, match="steps 4..6; the checkpoint at step 3 is kept"):
        runner.run(gradient.GradientSearch("sgd", -1.0), late, jax.random.key(0),
                   jnp.ones((1, 1, 2)), {}, num_steps=9, chunk_size=3, progress=False,
                   workdir=Workdir(str(tmp_path)))


def test_weighted_sum_logs_every_term():
    f = weighted_sum(("a", 2.0, quadratic), ("b", 0.5, lambda z, c, key=None: (jnp.sum(z), {})))
    value, aux = f(jnp.ones(3), {"target": jnp.zeros(3)})
    assert float(value) == pytest.approx(2 * 3 + 0.5 * 3)
    assert set(aux) == {"a", "a/norm", "b"}


def test_scan_chunk_equals_unrolled_chunk():
    """The accelerator path (one lax.scan per chunk), forced on CPU, equals the CPU path."""
    z0 = jax.random.normal(jax.random.key(3), (2, 2, 3))
    scanned, rows_s = run(z0, steps=20, scan=True)
    unrolled, rows_u = run(z0, steps=20, scan=False)
    np.testing.assert_allclose(scanned.strategy.latents, unrolled.strategy.latents, rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(scanned.best_value, unrolled.best_value, rtol=1e-6)
    np.testing.assert_array_equal(scanned.best_step, unrolled.best_step)
    assert [r["step"] for r in rows_s] == [r["step"] for r in rows_u] == list(range(1, 21))
    np.testing.assert_allclose([r["loss"] for r in rows_s], [r["loss"] for r in rows_u], rtol=1e-5)


@pytest.mark.parametrize("name", ["adam", "sgd", "nesterov", "lbfgs"])
def test_every_gradient_search_converges_on_a_quadratic(name):
    import ml_collections

    search = gradient.build(ml_collections.ConfigDict(dict(name=name, learning_rate=0.1)))
    problem = runner.Problem(lambda z, c, key=None: quadratic(z, c))
    state, _ = runner.run(search, problem, jax.random.key(0), jnp.zeros((2, 1, 3)),
                          {"target": jnp.arange(3.0)}, num_steps=150, chunk_size=50,
                          progress=False)
    np.testing.assert_allclose(state.best_latent[:, 0], np.tile(np.arange(3.0), (2, 1)), atol=2e-2)


def test_unknown_search_name_is_an_error():
    import ml_collections

    with pytest.raises(KeyError, match="unknown gradient search 'adamw'"):
        gradient.build(ml_collections.ConfigDict(dict(name="adamw", learning_rate=0.1)))
