"""Tiny GANs (configs/train_gan.py): losses, spectral norm, batch-statistics BN, a smoke run of
every arch whose exported G and D load back through their build functions, and shipping."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import load_config
from jaxlatent import experiment, loop
from jaxlatent import params as params_io
from jaxlatent.models import biggan, embedded, shapes_gans
from jaxlatent.models.registry import load_model
from jaxlatent.training import gan, gan_archs, gan_losses, spectral_norm

BUILDERS = {  # arch -> (G builder, D builder), registry contract build(path, *, key)
    "pgan": (shapes_gans.build_shapes_pgan_generator, shapes_gans.build_shapes_pgan_discriminator),
    "biggan": (shapes_gans.build_shapes_biggan_generator, shapes_gans.build_shapes_biggan_discriminator),
    "stylegan2": (shapes_gans.build_shapes_stylegan2_generator, shapes_gans.build_shapes_stylegan2_discriminator),
}


def _keys(tree):
    return sorted(params_io.flatten(jax.tree.map(np.asarray, tree)))


def _all_leaves_changed(before, after):
    return all(bool(np.any(np.asarray(a) != np.asarray(b)))
               for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after)))


@pytest.mark.parametrize("arch", sorted(gan_archs.ARCHS))
def test_smoke_steps_change_params_and_export_loads_back(tmp_path, arch):
    cfg = load_config("train_gan", f"arch={arch},smoke").train
    task = gan.make_task(cfg, jax.random.key(0))
    initial = task.init(None)
    state, rows = loop.run_loop(initial, task.step, num_steps=cfg.num_steps,
                                chunk_size=cfg.chunk_size, progress=False)
    assert len(rows) == cfg.num_steps
    assert all(np.isfinite(v) for row in rows for v in row.values())
    assert _all_leaves_changed(initial["g"]["params"], state["g"]["params"])
    assert _all_leaves_changed(initial["d"]["params"], state["d"]["params"])

    summary = {"num_steps": cfg.num_steps}
    task.export(state, str(tmp_path / "params.npz"), summary)
    assert os.path.exists(tmp_path / "samples.png") and "exported_discriminator_to" not in summary
    build_g, build_d = BUILDERS[arch]
    # loading checks the exact key set and shapes of the port's module (check_params raises)
    g, d = build_g(str(tmp_path / "params.npz")), build_d(str(tmp_path / "discriminator.npz"))
    trained = {k for k in state["g"] if k != "sn"}  # spectral-norm vectors are folded away
    assert set(g.params) == trained and _keys(g.params["params"]) == _keys(state["g"]["params"])
    assert _keys(d.params["params"]) == _keys(state["d"]["params"])


def test_pgan_run_ships_g_and_d_and_load_model_finds_them(tmp_path, monkeypatch):
    shipped = embedded.weights_path  # the classifier and feature net still load from the package
    monkeypatch.setattr(embedded, "weights_path", lambda name: str(tmp_path / f"{name}.npz")
                        if name.startswith("shapes_pgan") else shipped(name))
    config = load_config("train_gan", "smoke")  # arch defaults to pgan
    config.export = True  # as --config.export=True; the task sees it through a field reference
    summary = experiment.run(config, str(tmp_path / "run"))
    assert summary["exported_discriminator_to"].startswith(str(tmp_path))
    rows = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    assert [r["step"] for r in rows] == list(range(1, config.train.num_steps + 1))
    g, d = load_model("shapes_pgan_generator"), load_model("shapes_pgan_discriminator")
    assert g.info["category_dim"] == 4 and g.info["resolution"] == 32
    z = jnp.concatenate([jnp.zeros((4, g.info["noise_dim"])), jnp.eye(4)], axis=1)
    x = g.apply_fn(g.params, z)
    assert x.shape == (4, 32, 32, 3) and d.apply_fn(d.params, x).shape == (4, 5)
    assert 0.0 <= summary["eval_class_consistency"] <= 1.0


def test_missing_shipped_weights_name_the_training_command(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train_gan.py:arch=biggan"):
        shapes_gans.build_shapes_biggan_generator()


def test_unknown_arch_is_an_error():
    with pytest.raises(ValueError, match="unknown GAN arch 'dcgan'"):
        load_config("train_gan", "arch=dcgan")


def test_spectral_norm_matches_svd_after_power_iterations_and_the_converter_fold():
    w = jax.random.normal(jax.random.key(0), (3, 3, 4, 6))
    params = {"conv": {"kernel": w, "bias": jnp.zeros(6)}, "shared": {"embedding": w[0, 0]}}
    sn = spectral_norm.sn_init(params, jax.random.key(1))
    assert set(sn) == {"conv"}  # G's shared embedding is not normalised
    for _ in range(100):
        sn = spectral_norm.sn_refresh(params, sn)
    normed = spectral_norm.sn_apply(params, sn)["conv"]["kernel"]
    top = np.linalg.svd(np.asarray(normed).reshape(-1, 6), compute_uv=False)[0]
    np.testing.assert_allclose(top, 1.0, atol=1e-5)
    # the fold is one non-updating iteration from u, as jaxlatent.models.biggan.sn folds torch's
    from jaxlatent.models.biggan.sn import fold_biggan_pytorch_sn

    u = np.asarray(sn["conv"]["kernel"]["u"])
    torch_weight = np.asarray(w).transpose(3, 2, 0, 1)  # OIHW
    folded = fold_biggan_pytorch_sn(torch_weight, u, 1e-8).transpose(2, 3, 1, 0)
    np.testing.assert_allclose(spectral_norm.sn_fold(params, sn)["conv"]["kernel"], folded, atol=1e-5)


def test_train_mode_batch_norm_uses_batch_statistics():
    gcfg = shapes_gans.biggan_config(shapes_gans.MODELS["biggan"])[0]
    model = biggan.build(key=jax.random.key(0), **gcfg)
    z = jax.random.normal(jax.random.key(1), (8, model.info["z_dim"]))
    y = model.info["embed"](jnp.arange(8) % 4)
    module = biggan.make_module(model.info["config"])
    import flax.linen as nn

    with nn.intercept_methods(gan_archs._train_bn):
        out, inter = module.apply(model.params, z, y, mutable=["intermediates"])
    stats = jax.tree.map(lambda x: x, model.params["batch_stats"])
    for path, value in jax.tree_util.tree_flatten_with_path(inter["intermediates"])[0]:
        names = [p.key for p in path[:-2]]
        node = stats
        for part in names:
            node = node[part]
        node["stored_mean" if path[-2].key == "batch_mean" else "stored_var"] = value
    # eval mode with the batch's own statistics stored reproduces the training-mode output
    np.testing.assert_allclose(module.apply({**model.params, "batch_stats": stats}, z, y), out,
                               atol=1e-4)


def test_losses_match_their_formulas():
    s_real, s_fake = jnp.array([2.0, -0.5]), jnp.array([0.5, -3.0])
    D = lambda x, c: (x.reshape(x.shape[0], -1).sum(1), None)  # noqa: E731
    real, fake = s_real.reshape(2, 1, 1, 1), s_fake.reshape(2, 1, 1, 1)
    loss, _ = gan_losses.hinge_d_loss(D, real, None, fake, None, None)
    assert np.isclose(loss, (0 + 1.5) / 2 + (1.5 + 0) / 2)
    loss, aux = gan_losses.logistic_r1_d_loss(D, real, None, fake, None, None, r1_gamma=2.0)
    assert np.isclose(aux["d_r1"], 1.0)  # ∂ΣD/∂x = 1 per sample
    softplus = lambda v: np.log1p(np.exp(v))  # noqa: E731
    assert np.isclose(loss, np.mean(softplus(s_fake)) + np.mean(softplus(-s_real)) + 1.0)
    Dc = lambda x, c: (x.reshape(x.shape[0], -1).sum(1), jnp.zeros((x.shape[0], 4)))  # noqa: E731
    loss, aux = gan_losses.wgan_gp_d_loss(Dc, real, jnp.array([0, 1]), fake, jnp.array([0, 1]),
                                   jax.random.key(0), lambda_gp=10.0, epsilon_drift=0.001,
                                   class_weight=1.0)
    assert np.isclose(aux["d_gp"], 0.0)  # a linear critic has unit input gradients
    assert np.isclose(aux["d_drift"], 0.001 * (4 + 0.25))
    assert np.isclose(loss, -(1.5 - (-2.5)) + aux["d_drift"] + np.log(4))


@pytest.mark.parametrize("arch", sorted(gan_archs.ARCHS))
def test_config_model_is_the_registered_architecture(arch):
    assert load_config("train_gan", f"arch={arch}").train.model.to_dict() == shapes_gans.MODELS[arch]


def _shipped_samples(arch, classes):
    g = load_model(f"shapes_{arch}_generator")
    d = load_model(f"shapes_{arch}_discriminator")
    if arch == "pgan":
        noise = jax.random.normal(jax.random.key(0), (classes.shape[0], g.info["noise_dim"]))
        x = g.apply_fn(g.params, jnp.concatenate([noise, jax.nn.one_hot(classes, 4)], axis=1))
        return x, d.apply_fn(d.params, x)
    z = jax.random.normal(jax.random.key(0), (classes.shape[0], g.info["z_dim"]))
    x = g.apply_fn(g.params, z, g.info["embed"](classes))
    return x, d.apply_fn(d.params, x, classes)


@pytest.mark.parametrize("arch", ["pgan", "biggan"])
def test_shipped_gan_loads_and_follows_the_colour_of_its_class(arch):
    classes = jnp.arange(32) % 4  # 0 red tri, 1 blue tri, 2 red sq, 3 blue sq
    x, scores = _shipped_samples(arch, classes)
    assert x.shape == (32, 32, 32, 3) and scores.shape == ((32, 5) if arch == "pgan" else (32,))
    assert np.all(np.isfinite(np.asarray(x))) and np.all(np.isfinite(np.asarray(scores)))
    ink = jnp.clip(1.0 - x.mean(-1, keepdims=True), 0.0, None)  # weight dark (shape) pixels
    redness = jnp.sum(ink * (x[..., 0] - x[..., 2])[..., None], axis=(1, 2, 3))
    blue = (classes % 2) == 1
    assert np.median(np.asarray(redness[~blue])) > 0 > np.median(np.asarray(redness[blue]))
