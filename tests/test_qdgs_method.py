"""QDGS on the embedded domain end-to-end (smoke), and its measures."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import load_config, use_random_embedded
from jaxlatent import experiment
from jaxlatent.data import shapes
from jaxlatent.methods import qdgs
from jaxlatent.objectives import qdgs_shapes


def test_colour_measure_separates_red_and_blue():
    labels = shapes.ShapeLabels(*(jnp.asarray(v) for v in ([0, 0], [0, 1], [0.0, 0.0], [1.0, 1.0],
                                                           [[64.0, 64.0], [64.0, 64.0]])))
    red, blue = shapes.render(labels)
    assert float(qdgs_shapes.colour_measure(red)) == pytest.approx(shapes.RED[0] - shapes.RED[2], abs=1e-4)
    assert float(qdgs_shapes.colour_measure(blue)) == pytest.approx(shapes.BLUE[0] - shapes.BLUE[2], abs=1e-4)


def test_shape_measure_separates_rendered_triangles_and_squares(key):
    images, labels = shapes.sample_jit(key, 200, 0.5)
    square = np.asarray(jax.vmap(qdgs_shapes.shape_measure)(images))
    is_square = np.asarray(labels.shape) == shapes.SQUARE
    assert square[is_square].min() > 0.3 and square[~is_square].max() < -0.5
    assert qdgs_shapes.shape_measure_accuracy(key, n=100) == 1.0


def test_realism_penalty_is_zero_on_real_shapes_and_positive_on_empty_or_splattered(key):
    bounds = qdgs_shapes.fit_realism_bounds(key, n=200)
    images, _ = shapes.sample_jit(jax.random.fold_in(key, 1), 50, 0.5)
    inside = jax.vmap(lambda x: qdgs_shapes.realism_penalty(x, bounds))(images)
    assert float(jnp.max(inside)) < 0.05  # fresh shapes may fall just outside the fitted range
    empty = jnp.ones((128, 128, 3)).at[60:62, 60:62].set(0.0)
    splatter = jnp.ones((128, 128, 3)).at[::16, ::16].set(0.0)
    assert float(qdgs_shapes.realism_penalty(empty, bounds)) > 1.0
    assert float(qdgs_shapes.realism_penalty(splatter, bounds)) > 1.0


def test_label_by_shape_drops_the_margin():
    keep, labels = qdgs.label_by_shape(np.array([-0.5, -0.005, 0.0, 0.3]), 0.01)
    assert keep.tolist() == [True, False, True, True] and labels.tolist() == [0, 1, 1]


def test_qdgs_smoke_end_to_end(tmp_path, random_embedded):
    config = use_random_embedded(load_config("qdgs", "smoke"), random_embedded)
    summary = experiment.run(config, str(tmp_path))
    for name in ["archive.npz", "heatmap.png", "curves.png", "dataset.npz", "summary.json"]:
        assert os.path.exists(tmp_path / name), name
    with np.load(tmp_path / "archive.npz") as f:
        assert f["solutions"].shape == (2500, 6)
        assert int(f["occupied"].sum()) == summary["num_elites"] >= 1
    assert 0 < summary["coverage"] <= 1
