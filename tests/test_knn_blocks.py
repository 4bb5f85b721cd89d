"""k-NN blocking with blocks that do not divide M or N: same results, no padded work, no copies."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend import core as jcore

from jaxlatent.metrics import knn

N, M, D, K = 1000, 700, 24, 4
# (row_block, col_block): 384 ∤ 1000 (remainder 232); 100 | 700 and 300 ∤ 700 (remainder 100).
BLOCKS = [(100, 384), (300, 384)]
SINGLE = dict(row_block=10**6, col_block=10**6)  # one block per axis (clipped to M and N)


def _dist(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


@pytest.fixture(scope="module")
def gauss():
    rng = np.random.default_rng(3)
    return (rng.normal(size=(N, D)).astype(np.float32),
            (rng.normal(size=(M, D)) * 1.1 + 0.2).astype(np.float32))


@pytest.fixture(scope="module")
def lattice():
    """Small integers: every distance is exact in float32, ties and duplicates abound."""
    rng = np.random.default_rng(4)
    return (rng.integers(0, 5, size=(N, 6)).astype(np.float32),
            rng.integers(-1, 6, size=(M, 6)).astype(np.float32))


def _all_outputs(real, fake, blocks):
    radii = np.asarray(knn.knn_radii(real, K, **blocks))  # self_is_zero=True
    d_self = np.asarray(knn.knn_distances(real, real, K, self_is_zero=True, **blocks))
    d_fake = np.asarray(knn.knn_distances(fake, real, K, **blocks))  # self_is_zero=False
    c_lt, m_lt = knn.ball_membership(fake, real, radii, strict=True, **blocks)
    c_le, m_le = knn.ball_membership(fake, real, radii, strict=False, **blocks)
    return dict(radii=radii, d_self=d_self, d_fake=d_fake, c_lt=np.asarray(c_lt),
                m_lt=np.asarray(m_lt), c_le=np.asarray(c_le), m_le=np.asarray(m_le))


def _brute(real, fake):
    dr, df = _dist(real, real), _dist(fake, real)
    np.fill_diagonal(dr, 0.0)
    radii = np.sort(dr, 1)[:, K]
    out = dict(radii=radii, d_self=np.sort(dr, 1)[:, :K], d_fake=np.sort(df, 1)[:, :K])
    for name, inside in (("lt", df < radii[None]), ("le", df <= radii[None])):
        out["c_" + name] = inside.sum(1)
        out["m_" + name] = np.where(inside, radii[None], np.inf).min(1)
    return out


@pytest.mark.parametrize("rb,cb", BLOCKS)
def test_non_dividing_blocks_exact_on_lattice(lattice, rb, cb):
    """Exact arithmetic: non-dividing blocks == one block == float64 brute force, bit for bit."""
    real, fake = lattice
    got = _all_outputs(real, fake, dict(row_block=rb, col_block=cb))
    one = _all_outputs(real, fake, SINGLE)
    want = _brute(real, fake)
    assert 0 < (want["c_lt"] > 0).sum() < M and (want["c_le"] > want["c_lt"]).any()  # ties
    for name in got:
        np.testing.assert_array_equal(got[name], one[name], err_msg=name)
        np.testing.assert_array_equal(got[name], want[name].astype(got[name].dtype),
                                      err_msg=name)


@pytest.mark.parametrize("rb,cb", BLOCKS)
def test_non_dividing_blocks_match_single_block_and_float64(gauss, rb, cb):
    """Generic float32 data: counts identical; distances within 1e-6 of one block (XLA's matmul
    summation order depends on the tile shape) and 2e-6 of a float64 brute force."""
    real, fake = gauss
    got = _all_outputs(real, fake, dict(row_block=rb, col_block=cb))
    one = _all_outputs(real, fake, SINGLE)
    want = _brute(real, fake)
    assert 0 < (want["c_lt"] > 0).sum() < M
    for name in ("c_lt", "c_le"):
        np.testing.assert_array_equal(got[name], one[name], err_msg=name)
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    for name in ("radii", "d_self", "d_fake", "m_lt", "m_le"):
        np.testing.assert_allclose(got[name], one[name], rtol=1e-6, atol=0, err_msg=name)
        np.testing.assert_allclose(got[name], want[name], rtol=2e-6, atol=0, err_msg=name)
    np.testing.assert_array_equal(got["d_self"][:, 0], 0.0)


def test_non_dividing_blocks_float64(gauss):
    real, fake = gauss
    want = _brute(real, fake)
    got = knn.knn_distances(fake, real, K, dtype=np.float64, row_block=300, col_block=384)
    np.testing.assert_allclose(got, want["d_fake"], rtol=1e-12)
    radii = knn.knn_radii(real, K, dtype=np.float64, row_block=300, col_block=384)
    np.testing.assert_allclose(radii, want["radii"], rtol=1e-12)


def _walk(jaxpr, mult=1):
    """Yields ``(eqn, multiplicity)`` over a jaxpr and its sub-jaxprs; scan bodies count
    ``length`` times. Refuses control flow whose trip count it cannot see."""
    for eqn in jaxpr.eqns:
        assert eqn.primitive.name not in ("while", "cond"), eqn.primitive.name
        yield eqn, mult
        inner = mult * eqn.params["length"] if eqn.primitive.name == "scan" else mult
        for v in eqn.params.values():
            for sub in v if isinstance(v, (tuple, list)) else (v,):
                if isinstance(sub, jcore.ClosedJaxpr):
                    sub = sub.jaxpr
                if isinstance(sub, jcore.Jaxpr):
                    yield from _walk(sub, inner)


def _work_and_dims(fn, *args):
    jaxpr = jax.make_jaxpr(fn)(*args).jaxpr
    work, dims = 0, set()
    for eqn, mult in _walk(jaxpr):
        if eqn.primitive.name == "dot_general":
            work += mult * math.prod(eqn.outvars[0].aval.shape)
        for v in list(eqn.invars) + list(eqn.outvars):
            dims.update(getattr(v.aval, "shape", ()))
    return work, dims


@pytest.mark.parametrize("rb,cb", BLOCKS + [(256, 4096), (7, 13)])
def test_no_padded_work(rb, cb):
    """Exactly M·N distances are computed, and no array has a padded length."""
    q = jax.ShapeDtypeStruct((M, D), jnp.float32)
    r = jax.ShapeDtypeStruct((N, D), jnp.float32)
    radii = jax.ShapeDtypeStruct((N,), jnp.float32)
    fns = [
        (lambda a, b: knn.knn_distances_jit(a, b, K, row_block=rb, col_block=cb), (q, r), M),
        (lambda a: knn.knn_distances_jit(a, a, K, self_is_zero=True, row_block=rb,
                                         col_block=cb), (r,), N),
        (lambda a, b, c: knn.ball_membership_jit(a, b, c, row_block=rb, col_block=cb),
         (q, r, radii), M),
    ]
    for fn, args, rows in fns:
        work, dims = _work_and_dims(fn, *args)
        padded = {-(-rows // rb) * rb, -(-N // cb) * cb} - {rows, N}  # today's padded lengths
        assert work == rows * N, (work, rows * N, work / (rows * N))
        assert not dims & padded, f"padded length {dims & padded} in the jaxpr"


def test_inputs_not_copied():
    """XLA's temporaries stay at tile size: no padded or sliced copy of the [N, D] inputs
    (the self_is_zero path passes one array as both operands)."""
    n, d, rb, cb = 3000, 512, 128, 700  # neither block divides n
    x = jax.ShapeDtypeStruct((n, d), jnp.float32)
    radii = jax.ShapeDtypeStruct((n,), jnp.float32)
    in_bytes = n * d * 4
    tile = (cb * d + rb * d + 4 * rb * (cb + K)) * 4  # ref block, query block, distance tiles
    for lowered in (
            knn.knn_distances_jit.lower(x, x, K, self_is_zero=True, row_block=rb, col_block=cb),
            knn.ball_membership_jit.lower(x, x, radii, row_block=rb, col_block=cb)):
        temp = lowered.compile().memory_analysis().temp_size_in_bytes
        assert temp < min(in_bytes // 2, 2 * tile), (temp, in_bytes, tile)
