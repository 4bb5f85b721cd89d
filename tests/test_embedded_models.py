"""Embedded models: shapes, shipped weights, clear errors, and that training lowers the loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent import params as params_io
from jaxlatent.models.registry import MODELS, load_model
from jaxlatent.training import tasks

EMBEDDED = ["shapes_vae", "shapes_generator", "shapes_features", "shapes_classifier", "shapes_flow"]


@pytest.mark.parametrize("name", EMBEDDED)
def test_shipped_weights_load_and_give_finite_outputs(name):
    model = load_model(name)
    assert model.info["trained"]
    x = {"shapes_generator": jnp.zeros((2, 6)), "shapes_flow": jnp.full((2, 64), 0.5)}.get(
        name, jnp.ones((2, 128, 128, 3)))
    out = model.apply_fn(model.params, x, jax.random.key(0)) if name == "shapes_vae" else (
        model.apply_fn(model.params, x))
    assert all(np.all(np.isfinite(np.asarray(o))) for o in jax.tree.leaves(out))


def test_shapes():
    g = load_model("shapes_generator", key=jax.random.key(0))
    assert g.apply_fn(g.params, jnp.zeros((3, 6))).shape == (3, 128, 128, 3)
    f = load_model("shapes_features", key=jax.random.key(0))
    assert f.apply_fn(f.params, jnp.zeros((3, 128, 128, 3))).shape == (3, 64)
    c = load_model("shapes_classifier", key=jax.random.key(0))
    out = c.apply_fn(c.params, jnp.zeros((3, 128, 128, 3)))
    assert out["shape"].shape == (3,) and out["colour"].shape == (3,)


def test_shipped_files_are_small():
    import glob
    import os

    from jaxlatent.models.embedded import WEIGHTS_DIR

    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(WEIGHTS_DIR, "*.npz")))
    assert total < 20e6


def test_wrong_weights_file_names_the_mismatch(tmp_path):
    params = load_model("shapes_classifier", key=jax.random.key(0)).params
    params = dict(params)
    params["fc"] = {"kernel": np.zeros((3, 128), np.float32), "bias": params["fc"]["bias"]}
    del params["colour"]
    params_io.save_params(str(tmp_path / "bad.npz"), params)
    with pytest.raises(ValueError) as err:
        load_model("shapes_classifier", str(tmp_path / "bad.npz"))
    assert "colour/kernel" in str(err.value) and "fc/kernel" in str(err.value)


def test_missing_file_and_unknown_name_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_model("shapes_vae", str(tmp_path / "nope.npz"))
    with pytest.raises(KeyError, match="unknown model 'shapes_vea'"):
        load_model("shapes_vea")
    assert "stylegan2_generator" in MODELS


def test_a_short_training_run_lowers_the_loss():
    import ml_collections

    cfg = ml_collections.ConfigDict(dict(batch_size=16, learning_rate=1e-3, eval_size=8,
                                         data=dict(bias=0.5)))
    task = tasks.classifier_task(cfg, jax.random.key(0))
    state, step = task.init(None), jax.jit(task.step)
    losses = []
    for t in range(40):
        state, metrics = step(state, t, None)
        losses.append(float(metrics["loss"]))
    assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:8])
