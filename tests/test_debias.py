"""The shapes debiasing experiment: augmentation, the QDGS shape classifier, the report, end-to-end."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import load_config, use_random_embedded
from jaxlatent import experiment
from jaxlatent.data import augment
from jaxlatent.methods import debias_report
from jaxlatent.models import shape_cnn
from jaxlatent.training import shape_cnn as trainer


def test_rotate_by_90_degrees_is_rot90_and_fills_outside():
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(augment.rotate(jnp.asarray(x), 90.0), np.rot90(x, 1, axes=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(augment.rotate(jnp.asarray(x), 0.0), x, atol=1e-6)
    corner = augment.rotate(jnp.zeros((1, 9, 9, 1)), 45.0, fill=0.7)[0, 0, 0, 0]
    assert float(corner) == pytest.approx(0.7)


def test_area_downsample_averages_blocks_and_rejects_bad_sizes():
    x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    np.testing.assert_allclose(augment.area_downsample(x, 2)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    with pytest.raises(ValueError, match="cannot area-downsample"):
        augment.area_downsample(jnp.zeros((1, 10, 10, 3)), 3)


def test_shape_cnn_has_the_official_layer_sizes_at_128_px():
    params = jax.eval_shape(lambda: shape_cnn.init_params(jax.random.key(0), 128))
    assert params["fc1"]["kernel"].shape == (16384, 128)
    assert params["fc2"]["kernel"].shape == (128, 1)
    assert [params[f"conv{i}"]["kernel"].shape[-1] for i in (1, 2, 3)] == [16, 32, 64]


def test_evaluate_reports_group_accuracies():
    params = jax.tree.map(jnp.zeros_like, shape_cnn.init_params(jax.random.key(0), 32))
    params["fc2"]["bias"] = jnp.ones(1)  # always "square"
    images, shape, group = trainer.render_eval_set(jax.random.key(1), 40, 32)
    out = trainer.evaluate(params, images, shape, group)
    assert out["per_group"] == [0.0, 0.0, 1.0, 1.0]
    assert out["balanced"] == 0.5 and out["worst_group"] == 0.0


def test_training_lowers_the_loss_on_balanced_shapes():
    images, shape, _ = trainer.render_eval_set(jax.random.key(2), 256, 32)
    params = shape_cnn.init_params(jax.random.key(3), 32)
    _, losses = trainer.train(params, images, shape, trainer.TrainSpec(epochs=6, batch_size=64), jax.random.key(4))
    assert losses[-1] < losses[0] - 0.05, losses


def test_mean_and_standard_error():
    assert debias_report.mean_se([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0 / np.sqrt(3)))
    assert debias_report.mean_se([0.7]) == (0.7, 0.0)


def test_debias_smoke_end_to_end_and_resume(tmp_path, random_embedded):
    config = load_config("debias", "smoke")
    use_random_embedded(config.qdgs, random_embedded)
    summary = experiment.run(config, str(tmp_path))
    rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert {(r["bias"], r["seed"]) for r in rows} == {(b, s) for b in (0.98, 0.8) for s in (0, 1)}
    for r in rows:
        for c in ("none", "qdgs", "random"):
            assert 0.0 <= r[c]["worst_group"] <= r[c]["balanced"] <= 1.0
    assert set(summary["table"]) == {"0.98", "0.80"}
    assert summary["synthetic_datasets"]["random"]["size"] == summary["synthetic_datasets"]["qdgs"]["size"]
    for name in ("table.md", "accuracy.png", "random_dataset.npz", "qdgs/dataset.npz"):
        assert (tmp_path / name).exists(), name
    again = experiment.run(config, str(tmp_path))  # resumes: no trial is trained twice
    assert len(open(tmp_path / "metrics.jsonl").readlines()) == len(rows)
    assert json.dumps(again["table"]) == json.dumps(summary["table"])
