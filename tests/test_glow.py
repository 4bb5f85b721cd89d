"""Vector Glow: invertibility, log-dets vs autodiff Jacobians, normalisation, training, builder."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent.models import glow
from jaxlatent.models.glow_layers import ActNorm, AffineCoupling, Flow, InvConv1dLU
from jaxlatent.training import flow as flow_training

TINY = dict(n_features=16, n_block=2, n_flow=1, group=4, hidden=8)


def _randomize(tree, key, scale=0.1):
    """Perturbs every float leaf, so zero-initialised layers are not the identity."""
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(key, len(leaves))
    new = [l + scale * jax.random.normal(k, l.shape) if l.dtype == jnp.float32 else l
           for l, k in zip(leaves, keys)]
    return jax.tree.unflatten(treedef, new)


def _random_glow(key, **cfg):
    model = glow.Glow(**cfg)
    v = model.init(key, jnp.zeros((2, cfg["n_features"])))
    return model, {**v, "params": _randomize(v["params"], jax.random.fold_in(key, 1))}


def _slogdet_jac(fn, x):
    """log|det ∂fn/∂x| for one sample of any shape, from jax.jacfwd."""
    flat = lambda v: fn(v.reshape(x.shape)).reshape(-1)  # noqa: E731
    return jax.jit(lambda v: jnp.linalg.slogdet(jax.jacfwd(flat)(v))[1])(x.reshape(-1))


@pytest.mark.parametrize("layer", [ActNorm(4), InvConv1dLU(4), AffineCoupling(4, 8), Flow(4, 8)])
def test_layer_logdet_and_inverse(layer, key):
    x = jax.random.normal(key, (3, 5, 4))  # [B, L, C]
    fwd = lambda m, x: m.bijector().forward_and_log_det(x)  # noqa: E731
    v = layer.init(key, x, method=fwd)
    v = {**v, "params": _randomize(v["params"], jax.random.fold_in(key, 7))}
    apply_fwd = jax.jit(lambda v, x: layer.apply(v, x, method=fwd))
    y, logdet = apply_fwd(v, x)
    x_back = jax.jit(lambda v, y: layer.apply(v, y, method=lambda m, y: m.bijector().inverse(y)))(
        v, y)
    np.testing.assert_allclose(x_back, x, atol=2e-5)
    jac_logdet = jax.vmap(lambda s: _slogdet_jac(lambda t: apply_fwd(v, t[None])[0][0], s))(x)
    np.testing.assert_allclose(logdet, jac_logdet, rtol=1e-4, atol=1e-4)
    assert abs(float(logdet[0])) > 0.1  # a non-trivial layer


def test_whole_flow_logdet_inverse_and_change_of_variables(key):
    model, v = _random_glow(key, **TINY)
    x = jax.random.uniform(jax.random.fold_in(key, 2), (3, 16))
    forward = jax.jit(lambda v, x: model.apply(v, x, method="forward"))
    zs, logdet, log_p = forward(v, x)
    x_back = jax.jit(lambda v, zs: model.apply(v, zs, method="inverse"))(v, zs)
    np.testing.assert_allclose(x_back, x, atol=1e-5)
    z_of_x = lambda s: glow.flatten_z(forward(v, s[None])[0])[0]  # noqa: E731
    jac_logdet = jax.vmap(lambda s: _slogdet_jac(z_of_x, s))(x)
    np.testing.assert_allclose(logdet, jac_logdet, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(jax.jit(model.apply)(v, x), log_p + logdet, rtol=1e-6)
    z_back = glow.unflatten_z(model, glow.flatten_z(zs))
    for a, b in zip(z_back, zs):
        np.testing.assert_array_equal(a, b)


def test_2d_flow_density_integrates_to_one(key):
    """A randomised 2-D flow: ∫ p = 1 on a grid, and log p = log N(f(x); μ, σ) + log|det J_f|."""
    model, v = _random_glow(key, n_features=2, n_block=1, n_flow=2, group=2, hidden=8)
    g = jnp.linspace(-9.0, 9.0, 241)
    grid = jnp.stack(jnp.meshgrid(g, g), -1).reshape(-1, 2)
    p = jnp.exp(jax.jit(model.apply)(v, grid))
    integral = float(jnp.sum(p) * (g[1] - g[0]) ** 2)
    assert abs(integral - 1.0) < 2e-3, integral
    # Direct change of variables with the last block's prior (a ZeroConv of zeros).
    pv = v["params"]["blocks_0"]["prior"]
    prior = glow.ZeroConv1d(4).apply({"params": pv}, jnp.zeros((1, 1, 2)))
    mean, log_sd = jnp.split(prior.reshape(-1), 2)
    forward = jax.jit(lambda v, x: model.apply(v, x, method="forward"))
    f = lambda s: glow.flatten_z(forward(v, s[None])[0])[0]  # noqa: E731

    @jax.jit
    @jax.vmap
    def direct(x):
        z = f(x)
        log_n = -0.5 * math.log(2 * math.pi) - log_sd - 0.5 * ((z - mean) / jnp.exp(log_sd)) ** 2
        return jnp.sum(log_n) + jnp.linalg.slogdet(jax.jacfwd(f)(x))[1]

    xs = grid[::997]
    np.testing.assert_allclose(jax.jit(model.apply)(v, xs), direct(xs), rtol=1e-4, atol=1e-4)


def test_zero_init_coupling_is_scaled_identity(key):
    x = jax.random.normal(key, (2, 5, 4))
    layer = AffineCoupling(4, 8)
    fwd = lambda m, x: m.bijector().forward_and_log_det(x)  # noqa: E731
    v = layer.init(key, x, method=fwd)
    y, logdet = jax.jit(lambda v, x: layer.apply(v, x, method=fwd))(v, x)
    s = jax.nn.sigmoid(2.0)
    np.testing.assert_allclose(y, jnp.concatenate([x[..., :2], x[..., 2:] * s], -1), rtol=1e-6)
    np.testing.assert_allclose(logdet, 5 * 2 * math.log(s), rtol=1e-6)
    assert not np.any(np.asarray(v["params"]["net_0"]["kernel"]) == 0)


def test_official_parameter_count():
    n = glow.count_params(glow.make_glow("official"))  # jax.eval_shape: nothing allocated
    assert abs(n - 74.0e6) / 74.0e6 < 0.01, n


def test_actnorm_data_dependent_init(key):
    model = glow.Glow(**TINY)
    x = jax.random.uniform(key, (64, 16)) * 3.0 + 1.0
    v = flow_training.init_variables(model, key, x)
    an = v["params"]["blocks_0"]["flows_0"]["actnorm"]
    h = jax.jit(lambda v, x: model.apply(v, x, method=lambda m, x: m.blocks[0].initial_permute
                                         .bijector().forward(x[:, None, :])))(v, x)
    h = h.reshape(64, 4, 4).transpose(0, 2, 1).reshape(-1, 4)  # squeeze: channels-last rows
    out = an["scale"] * (h + an["loc"])
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(0, ddof=1), 1.0, rtol=1e-4)


def _curved_data(key, n):
    u = jax.random.normal(key, (n, 2))
    a = jax.random.normal(jax.random.key(99), (4, 16))
    h = jnp.stack([u[:, 0], u[:, 0] ** 2, jnp.sin(2.0 * u[:, 1]), jnp.sign(u[:, 1])], -1)
    return np.asarray(h @ a + 0.05 * jax.random.normal(jax.random.fold_in(key, 1), (n, 16)))


def test_training_beats_diagonal_gaussian(key):
    data = _curved_data(key, 3000)
    train, val = flow_training.train_val_split(data)
    assert len(train) == 2100 and np.array_equal(val, data[:900])
    scaler = flow_training.fit_minmax(train)
    train, val = (glow.minmax_scale(d, **scaler) for d in (train, val))
    model = glow.Glow(n_features=16, n_block=2, n_flow=2, group=4, hidden=16)
    trainer = flow_training.make_trainer(model, flow_training.make_optimizer(2e-3, 10**6))
    rng = np.random.default_rng(0)
    state = trainer.init(key, jnp.asarray(train[rng.choice(len(train), 256)]))
    for _ in range(200):
        state, metrics = trainer.train_step(state, jnp.asarray(train[rng.choice(len(train), 64)]))
    assert int(state["step"]) == 200 and np.isfinite(float(metrics["loss_bpd"]))
    flow_ll = trainer.log_likelihood(state, val)
    mu, var = train.mean(0), train.var(0)
    diag_ll = np.mean(np.sum(-0.5 * np.log(2 * np.pi * var) - 0.5 * (val - mu) ** 2 / var, 1))
    print(f"held-out log-likelihood: flow {flow_ll:.2f} nats, diagonal Gaussian {diag_ll:.2f}")
    assert flow_ll > diag_ll + 5.0


def test_schedule_minmax_and_builder(tmp_path, monkeypatch, key):
    opt = flow_training.make_optimizer()  # Adam 1e-4, lr ×0.1 every 500 updates (StepLR)

    def step(state, _):  # constant gradient 1: each Adam update has magnitude lr_t
        updates, state = opt.update(jnp.ones(()), state)
        return state, updates

    _, updates = jax.lax.scan(step, opt.init(jnp.zeros(())), None, length=1001)
    np.testing.assert_allclose(-updates[np.array([0, 499, 500, 999, 1000])],
                               [1e-4, 1e-4, 1e-5, 1e-5, 1e-6], rtol=1e-3)
    f = np.array([[0.0, 5.0, 1.0], [2.0, 5.0, 3.0], [4.0, 5.0, -1.0]], np.float32)
    sc = flow_training.fit_minmax(f)
    np.testing.assert_array_equal(sc["data_range"], [4.0, 1.0, 4.0])  # zero range -> 1
    model = glow.build_shapes_flow(key=key, **TINY)
    xb = jax.random.uniform(key, (5, 16))
    lp = model.apply_fn(model.params, xb)
    assert lp.shape == (5,)
    np.testing.assert_allclose(model.apply_fn(model.params, xb[2]), lp[2], rtol=1e-6)  # one vector
    tiny = glow.Glow(**TINY)
    z, _, _ = glow.forward(tiny, model.params, xb)
    np.testing.assert_allclose(glow.inverse(tiny, model.params, z), xb, atol=1e-5)
    path = str(tmp_path / "flow.npz")
    scaler16 = {"data_min": np.zeros(16, np.float32), "data_range": np.full(16, 2.0, np.float32)}
    glow.save_flow(path, glow.Glow(**TINY), model.params, scaler16)
    loaded = glow.build_shapes_flow(path)
    x = jax.random.uniform(key, (4, 16))
    np.testing.assert_array_equal(loaded.apply_fn(loaded.params, x), model.apply_fn(model.params, x))
    assert loaded.info["config"]["n_features"] == 16
    np.testing.assert_array_equal(loaded.info["scaler"]["data_range"], scaler16["data_range"])
    monkeypatch.setattr(glow, "WEIGHTS", str(tmp_path / "missing.npz"))
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        glow.build_shapes_flow()
