"""Grid archive (CMA-MAE thresholds) against pyribs 0.12.0 GridArchive on identical batches."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent.search import qd
from jaxlatent.search.qd import archive as qa

ribs_archives = pytest.importorskip("ribs.archives")

DIMS = (5, 4)
RANGES = ((-1.0, 1.0), (0.0, 2.0))


def _ribs(spec, solution_dim, dtype=np.float64):
    kw = {}
    if spec.learning_rate != 1.0 or spec.threshold_min != -math.inf:
        kw = dict(learning_rate=spec.learning_rate, threshold_min=spec.threshold_min)
    return ribs_archives.GridArchive(
        solution_dim=solution_dim, dims=spec.dims, ranges=spec.ranges, epsilon=spec.epsilon,
        qd_score_offset=spec.qd_score_offset, dtype=dtype, **kw)


def _ribs_contents(arch):
    """Dense [C] views of a pyribs archive."""
    c = arch.cells
    occ = np.zeros(c, bool)
    obj = np.zeros(c)
    thr = np.zeros(c)
    sol = np.zeros((c, arch.solution_dim))
    data = arch.data()
    occ[data["index"]] = True
    obj[data["index"]] = data["objective"]
    thr[data["index"]] = data["threshold"]
    sol[data["index"]] = data["solution"]
    return occ, obj, thr, sol


def test_index_of_matches_pyribs_including_boundaries():
    spec = qa.ArchiveSpec(DIMS, RANGES)
    rng = np.random.default_rng(0)
    edges0 = np.linspace(-1, 1, DIMS[0] + 1)
    edges1 = np.linspace(0, 2, DIMS[1] + 1)
    special = np.stack(np.meshgrid(
        np.concatenate([edges0, edges0 - 1e-7, edges0 - 1e-5, [-5.0, 7.0, -1.0 - 1e-9]]),
        np.concatenate([edges1, edges1 - 1e-7, edges1 + 1e-7, [-3.0, 9.0]])), -1).reshape(-1, 2)
    meas = np.concatenate([special, rng.uniform(-1.5, 2.5, (500, 2))])
    ref = _ribs(spec, 3).index_of(meas)
    with jax.enable_x64(True):
        ours = np.asarray(jax.jit(qa.index_of, static_argnums=0)(spec, jnp.asarray(meas)))
    np.testing.assert_array_equal(ours, ref)
    # float32 end to end against a float32 pyribs archive
    meas32 = meas.astype(np.float32)
    ref32 = _ribs(spec, 3, np.float32).index_of(meas32)
    np.testing.assert_array_equal(np.asarray(qa.index_of(spec, jnp.asarray(meas32))), ref32)


@pytest.mark.parametrize("lr,tmin", [(0.02, 0.0), (0.3, -0.5), (1.0, 0.0), (1.0, -math.inf)])
def test_add_matches_pyribs_with_duplicates_per_cell(lr, tmin):
    spec = qa.ArchiveSpec(DIMS, RANGES, learning_rate=lr, threshold_min=tmin,
                          qd_score_offset=-1.0)
    rng = np.random.default_rng(1)
    ref = _ribs(spec, 3)
    add = jax.jit(qa.add, static_argnums=0)
    max_err = 0.0
    with jax.enable_x64(True):
        ours = qa.init_archive(spec, 3, jnp.float64)
        for _ in range(12):
            b = 40  # 40 solutions into 20 cells: several per cell in every batch
            sol = rng.normal(size=(b, 3))
            obj = rng.normal(size=b) + 0.5
            meas = np.stack([rng.uniform(-1, 1, b), rng.uniform(0, 2, b)], 1)
            info_ref = ref.add(sol, obj, meas)
            ours, info = add(spec, ours, jnp.asarray(sol), jnp.asarray(obj), jnp.asarray(meas))
            np.testing.assert_array_equal(np.asarray(info.status), info_ref["status"])
            np.testing.assert_allclose(np.asarray(info.value), info_ref["value"], atol=1e-12)
            occ, obj_r, thr, sol_r = _ribs_contents(ref)
            np.testing.assert_array_equal(np.asarray(ours.occupied), occ)
            np.testing.assert_allclose(np.where(occ, ours.objectives, 0), obj_r, atol=1e-12)
            np.testing.assert_allclose(np.where(occ, ours.solutions.T, 0).T, sol_r, atol=1e-12)
            t_ours = np.where(occ, np.asarray(ours.thresholds), 0)
            max_err = max(max_err, np.max(np.abs(t_ours - thr)))
            np.testing.assert_allclose(t_ours, thr, atol=1e-12)
            st = qa.stats(spec, ours)
            np.testing.assert_allclose(st.norm_qd_score, ref.stats.norm_qd_score, rtol=1e-12)
            np.testing.assert_allclose(st.coverage, ref.stats.coverage, rtol=1e-12)
            np.testing.assert_allclose(st.obj_max, ref.stats.obj_max, rtol=1e-12)
    assert max_err < 1e-12


def test_threshold_batch_rule_closed_form():
    """k solutions into one empty cell: t = (1-a)^k tmin + (1-(1-a)^k) mean(f)."""
    alpha, tmin = 0.1, 0.0
    spec = qa.ArchiveSpec((1,), ((0.0, 1.0),), learning_rate=alpha, threshold_min=tmin)
    f = jnp.asarray([1.0, 3.0, 2.0, -1.0])  # -1 does not pass, so k = 3
    arch, info = jax.jit(qa.add, static_argnums=0)(
        spec, qa.init_archive(spec, 2), jnp.zeros((4, 2)) + f[:, None], f, jnp.full((4, 1), 0.5))
    ratio = (1 - alpha) ** 3
    np.testing.assert_allclose(arch.thresholds[0], ratio * tmin + (1 - ratio) * 2.0, rtol=1e-6)
    np.testing.assert_array_equal(info.status, [2, 2, 2, 0])
    np.testing.assert_allclose(arch.solutions[0], [3.0, 3.0])  # argmax is stored


def test_tie_keeps_first_and_sample_elite_only_occupied(key):
    spec = qa.ArchiveSpec((3,), ((0.0, 3.0),))
    sol = jnp.arange(8.0).reshape(4, 2)
    arch, _ = jax.jit(qa.add, static_argnums=0)(
        spec, qa.init_archive(spec, 2), sol, jnp.asarray([1.0, 1.0, 0.5, 2.0]),
        jnp.asarray([[0.5], [0.6], [0.7], [2.5]]))
    np.testing.assert_allclose(arch.solutions[0], sol[0])
    assert not bool(arch.occupied[1])
    picks = jax.jit(jax.vmap(lambda k: qa.sample_elite(k, arch)[0]))(jax.random.split(key, 64))
    rows = {tuple(np.asarray(p)) for p in picks}
    assert rows == {tuple(np.asarray(sol[0])), tuple(np.asarray(sol[3]))}
    _, found = qa.sample_elite(key, qa.init_archive(spec, 2))
    assert not bool(found)


def test_qdgs_transform_values_and_one_pass_jacobian(key):
    """f = 100 - 50 * loss and the Jacobian of (f, measures) on a toy objective, as the runner
    evaluates CMA-MAEGA's two phases."""
    from jaxlatent.search import protocol, runner
    from jaxlatent.search.evaluate import evaluate

    a = jnp.asarray([[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]])

    def objective(z, ctx, *, key=None):
        noise = jax.random.normal(key, ()) * ctx["noise"]
        return jnp.sum(jnp.sin(z)) + noise, {"measures": a @ z**2}

    spec = qd.QDConfig(qd.ArchiveSpec((5, 5), ((-1, 1), (-1, 1)), 0.1, -10.0),
                       qd.EmitterConfig(sigma0=0.1, lr=0.1, batch_size=4))
    strategy = qd.CmaMaega(spec, offset=100.0, scale=50.0)
    x = jax.random.normal(key, (4, 3))

    def phases(noise):
        problem, ctx = runner.Problem(objective), {"noise": noise}
        ev_j, _ = jax.jit(lambda z: evaluate(strategy, problem, protocol.JACOBIAN, z, ctx, {}, {},
                                             None, key))(x)
        ev_v, _ = jax.jit(lambda z: evaluate(strategy, problem, protocol.VALUE, z, ctx, {}, {},
                                             None, key))(x)
        return ev_j, ev_v

    ev_j, ev_v = phases(0.0)
    f, m, j = ev_j.outputs[:, 0], ev_j.outputs[:, 1:], ev_j.jacobians
    f2 = strategy.offset - strategy.scale * ev_v.values
    np.testing.assert_allclose(f, 100 - 50 * np.sum(np.sin(x), 1), rtol=1e-6)
    np.testing.assert_allclose(m, np.asarray(x) ** 2 @ np.asarray(a).T, rtol=1e-6)
    np.testing.assert_allclose(f2, f, rtol=1e-6)
    np.testing.assert_allclose(ev_v.aux["measures"], m, rtol=1e-6)
    np.testing.assert_allclose(j[:, 0], -50 * np.cos(x), rtol=1e-6)
    np.testing.assert_allclose(j[:, 1:], 2 * np.asarray(a)[None] * np.asarray(x)[:, None],
                               rtol=1e-6)
    # stochastic objectives: per-solution keys, shared by both phases' evaluations
    ev_j, ev_v = phases(1.0)
    np.testing.assert_allclose(ev_v.values, -(ev_j.outputs[:, 0] - 100) / 50, rtol=1e-5)
    assert len(set(np.round(np.asarray(ev_v.values) - np.sum(np.sin(x), 1), 4))) > 1
