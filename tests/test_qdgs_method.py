"""QDGS on the embedded domain end-to-end (smoke), and its measures."""

import os

import jax.numpy as jnp
import numpy as np
import pytest

from conftest import load_config, use_random_embedded
from jaxlatent import experiment
from jaxlatent.data import shapes
from jaxlatent.objectives import qdgs_shapes


def test_colour_measure_separates_red_and_blue():
    labels = shapes.ShapeLabels(*(jnp.asarray(v) for v in ([0, 0], [0, 1], [0.0, 0.0], [1.0, 1.0],
                                                           [[64.0, 64.0], [64.0, 64.0]])))
    red, blue = shapes.render(labels)
    assert float(qdgs_shapes.colour_measure(red)) == pytest.approx(shapes.RED[0] - shapes.RED[2], abs=1e-4)
    assert float(qdgs_shapes.colour_measure(blue)) == pytest.approx(shapes.BLUE[0] - shapes.BLUE[2], abs=1e-4)


def test_qdgs_smoke_end_to_end(tmp_path, random_embedded):
    config = use_random_embedded(load_config("qdgs", "smoke"), random_embedded)
    summary = experiment.run(config, str(tmp_path))
    for name in ["archive.npz", "heatmap.png", "curves.png", "dataset.npz", "summary.json"]:
        assert os.path.exists(tmp_path / name), name
    with np.load(tmp_path / "archive.npz") as f:
        assert f["solutions"].shape == (2500, 6)
        assert int(f["occupied"].sum()) == summary["num_elites"] >= 1
    assert 0 < summary["coverage"] <= 1
