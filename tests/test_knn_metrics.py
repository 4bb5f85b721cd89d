"""k-NN manifold metrics: prdc package parity, brute-force references, block invariance, NaN mask."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent.metrics import knn, prdc, rarity

BLOCKS = [(256, 4096), (7, 13), (32, 5)]


def _dist(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def _brute_radii(x, k):
    return np.sort(_dist(x, x), axis=1)[:, k]  # index 0 is self


def _brute_rarity(real, fake, k):
    """The official MANIFOLD.rarity semantics, with NaN instead of 0 outside."""
    r = _brute_radii(real, k)
    inside = (r[:, None] - _dist(real, fake)) > 0
    score = np.array([r[inside[:, j]].min() if inside[:, j].any() else np.nan
                      for j in range(fake.shape[0])])
    return score, inside.any(0), inside.sum(0)


@pytest.fixture
def gauss():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(300, 16)).astype(np.float32),
            (rng.normal(size=(250, 16)) * 1.2 + 0.3).astype(np.float32))


@pytest.fixture
def lattice():
    """Integer points with duplicates and many equal distances (exact in float32)."""
    rng = np.random.default_rng(1)
    real = rng.integers(0, 4, size=(120, 3)).astype(np.float32)
    fake = rng.integers(-1, 5, size=(60, 3)).astype(np.float32)
    return real, fake


@pytest.fixture(scope="module")
def prdc_reference():
    """The prdc package's values (k=5 and k=3), computed once; n_jobs=1 (same values, no pool)."""
    import sklearn.metrics
    from prdc import prdc as reference

    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 16)).astype(np.float32)
    fake = (rng.normal(size=(250, 16)) * 1.2 + 0.3).astype(np.float32)
    orig = sklearn.metrics.pairwise_distances
    sklearn.metrics.pairwise_distances = lambda *a, **kw: orig(*a, **{**kw, "n_jobs": 1})
    try:
        want = {k: reference.compute_prdc(real.astype(np.float64), fake.astype(np.float64), k)
                for k in (5, 3)}
    finally:
        sklearn.metrics.pairwise_distances = orig
    return real, fake, want


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_prdc_matches_package(prdc_reference, dtype):
    real, fake, want = prdc_reference
    got = prdc.compute_prdc(real, fake, 5, dtype=dtype)
    for name in want[5]:
        np.testing.assert_allclose(got[name], want[5][name], atol=1e-6, err_msg=name)
    # Strict P&R at k=3 equals prdc's precision/recall at k=3.
    ipr = prdc.improved_precision_recall(real, fake, 3, strict=True, dtype=dtype)
    np.testing.assert_allclose([ipr["precision"], ipr["recall"]],
                               [want[3]["precision"], want[3]["recall"]], atol=1e-6)
    assert 0.05 < want[5]["precision"] < 0.95 and 0.05 < want[5]["coverage"] < 0.95


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_radii_membership_rarity_bruteforce_with_ties(lattice, dtype):
    real, fake = lattice
    k = 3
    np.testing.assert_array_equal(np.asarray(knn.knn_radii(real, k, dtype=dtype)),
                                  _brute_radii(real, k).astype(dtype))
    want_score, want_inside, want_count = _brute_rarity(real, fake, k)
    m = rarity.real_manifold(real, k, dtype=dtype)
    res = rarity.rarity_score(m, fake, row_block=16, col_block=32)
    assert 0 < want_inside.sum() < len(fake)  # the fixture has both cases
    np.testing.assert_array_equal(np.asarray(res.inside), want_inside)
    np.testing.assert_array_equal(np.asarray(res.score), want_score.astype(dtype))
    count, _ = knn.ball_membership(fake, real, m.radii, dtype=dtype)
    np.testing.assert_array_equal(np.asarray(count), want_count)
    # Non-strict (Kynkäänniemi) membership against the brute force `<=`.
    le = (_dist(real, fake) <= _brute_radii(real, k)[:, None]).sum(0)
    count_le, _ = knn.ball_membership(fake, real, m.radii, strict=False, dtype=dtype)
    np.testing.assert_array_equal(np.asarray(count_le), le)
    assert (le > want_count).any()  # ties on the sphere exist, so strictness matters here


def test_strict_inequality_edge():
    # Reals on a line at 0..4; radius of x=0 with k=1 is 1. A fake exactly at distance 1 from
    # x=0 and x=2 (i.e. at 1) is strictly inside ball(1) only (radius 1, distance 0).
    real = np.arange(5, dtype=np.float32)[:, None] * np.array([[1.0, 0.0]], np.float32)
    fake = np.array([[-1.0, 0.0], [0.5, 0.0], [-1.5, 0.0]], np.float32)
    m = rarity.real_manifold(real, k=1)
    np.testing.assert_array_equal(np.asarray(m.radii), np.ones(5))
    res = rarity.rarity_score(m, fake)
    # [-1, 0] sits exactly on the sphere of ball(0): outside with strict `<`.
    np.testing.assert_array_equal(np.asarray(res.inside), [False, True, False])
    count_le, _ = knn.ball_membership(fake, real, m.radii, strict=False)
    np.testing.assert_array_equal(np.asarray(count_le), [1, 2, 0])


def test_block_size_invariance(gauss, lattice):
    """Counts and memberships are identical for every block size; distances too when the
    arithmetic is exact (lattice). On generic float32 data XLA's matmul summation order depends
    on the operand shapes, so distances may differ in the last bit (checked to rtol 1e-6, ~4 ulp)."""
    real, fake = gauss
    lat_real, lat_fake = lattice
    ref = None
    for rb, cb in BLOCKS:
        radii = np.asarray(knn.knn_radii(real, 3, row_block=rb, col_block=cb))
        count, min_r = knn.ball_membership(fake, real, radii, row_block=rb, col_block=cb)
        d5 = np.asarray(knn.knn_distances(fake, real, 5, row_block=rb, col_block=cb))
        lat_r = np.asarray(knn.knn_radii(lat_real, 3, row_block=rb, col_block=cb))
        lat_c, lat_m = knn.ball_membership(lat_fake, lat_real, lat_r, row_block=rb, col_block=cb)
        out = [np.asarray(count), lat_r, np.asarray(lat_c), np.asarray(lat_m), radii, d5,
               np.asarray(min_r)]
        if ref is None:
            ref = out
        for a, b in zip(out[:4], ref[:4]):
            np.testing.assert_array_equal(a, b, err_msg=f"blocks {rb}x{cb}")
        for a, b in zip(out[4:], ref[4:]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=0, err_msg=f"blocks {rb}x{cb}")
    np.testing.assert_allclose(ref[4], _brute_radii(real, 3), rtol=2e-6)
    np.testing.assert_allclose(ref[5], np.sort(_dist(fake, real), 1)[:, :5], rtol=2e-6)


def test_nan_masking_and_zero_option(gauss):
    real, fake = gauss
    far = np.full((2, 16), 100.0, np.float32)
    samples = np.concatenate([real[:3] + 1e-3, far])
    m = rarity.real_manifold(real)
    res = rarity.rarity_score(m, samples)
    np.testing.assert_array_equal(np.asarray(res.inside), [True, True, True, False, False])
    assert np.isnan(np.asarray(res.score)[3:]).all()
    assert np.isfinite(np.asarray(res.score)[:3]).all()
    np.testing.assert_allclose(rarity.masked_mean(res), np.asarray(res.score)[:3].mean())
    zero = rarity.rarity_score(m, samples, outside="zero")
    np.testing.assert_array_equal(np.asarray(zero.score)[3:], 0.0)
    assert np.isnan(rarity.masked_mean(rarity.rarity_score(m, far)))


def test_kth_neighbour_distance(gauss):
    real, fake = gauss
    bank = fake
    d = np.sort(_dist(real[:20], bank), 1)
    got = knn.kth_neighbour_distance(real[:20], bank, 4, dtype=np.float64)
    np.testing.assert_allclose(got, d[:, 3], rtol=1e-12)
    refs = bank[:10]
    d_self = np.sort(_dist(refs, bank), 1)
    got = knn.kth_neighbour_distance(refs, bank, 4, queries_in_bank=True, dtype=np.float64)
    np.testing.assert_allclose(got, d_self[:, 4], rtol=1e-12)


def test_jittable_inside_user_function(gauss):
    real, fake = gauss
    radii = knn.knn_radii(real, 3)

    @jax.jit
    def in_manifold(samples):
        count, min_r = knn.ball_membership_jit(samples, jnp.asarray(real), radii, col_block=64)
        return count > 0, min_r

    inside, _ = in_manifold(jnp.asarray(fake))
    _, want_inside, _ = _brute_rarity(real, fake, 3)
    np.testing.assert_array_equal(np.asarray(inside), want_inside)
