"""The embedded shapes domain: determinism, exact bias counts, label/pixel agreement."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent.data import shapes


def test_same_key_same_images_and_different_key_differs():
    a, la = shapes.sample_jit(jax.random.key(3), 16, 0.9)
    b, lb = shapes.sample_jit(jax.random.key(3), 16, 0.9)
    c, _ = shapes.sample_jit(jax.random.key(4), 16, 0.9)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la.rotation, lb.rotation)
    assert np.abs(np.asarray(a) - np.asarray(c)).max() > 0.5


@pytest.mark.parametrize("bias", [0.98, 0.8, 0.5])
def test_bias_gives_exact_group_counts(bias):
    n = 200
    _, labels = shapes.sample_jit(jax.random.key(0), n, bias)
    counts = np.bincount(np.asarray(shapes.group(labels)), minlength=4)
    n_major = round(bias * n // 2)
    # groups: 0 red triangle, 1 blue triangle, 2 red square, 3 blue square
    assert counts.tolist() == [n_major, n // 2 - n_major, n // 2 - n_major, n_major]
    assert float(np.mean(shapes.majority(labels))) == pytest.approx(2 * n_major / n)


def test_pixels_agree_with_labels():
    images, labels = shapes.sample_jit(jax.random.key(1), 64, 0.5)
    images = np.asarray(images)
    for i in range(64):
        fg = np.any(images[i] < 0.99, axis=-1)
        colour = images[i][fg].mean(0)
        want = shapes.RED if int(labels.colour[i]) == shapes.COLOUR_RED else shapes.BLUE
        np.testing.assert_allclose(colour, want, atol=1e-4)  # one flat colour, the labelled one
        # Area: equilateral triangle 3√3/4·R², square 2·R², both times scale².
        r = shapes.CIRCUMRADIUS * float(labels.scale[i])
        area = 2 * r * r if int(labels.shape[i]) == shapes.SQUARE else 3 * np.sqrt(3) / 4 * r * r
        assert fg.sum() == pytest.approx(area, rel=0.08, abs=12)
        # Centroid at the labelled position; the shape stays inside the canvas.
        ys, xs = np.nonzero(fg)
        np.testing.assert_allclose([xs.mean() + 0.5, ys.mean() + 0.5], labels.position[i], atol=1.0)
        assert fg[0].sum() + fg[-1].sum() + fg[:, 0].sum() + fg[:, -1].sum() == 0


def test_rotation_and_scale_ranges():
    _, labels = shapes.sample_jit(jax.random.key(2), 1000, 0.5)
    assert 0.0 <= float(labels.rotation.min()) and float(labels.rotation.max()) < 360.0
    assert 0.5 <= float(labels.scale.min()) and float(labels.scale.max()) <= 2.0
    assert float(labels.rotation.max() - labels.rotation.min()) > 300


def test_rotating_a_square_by_90_degrees_gives_the_same_image():
    labels = shapes.ShapeLabels(*(jnp.asarray(v) for v in (1, 1, 10.0, 1.3, [60.0, 70.0])))
    turned = labels._replace(rotation=jnp.asarray(100.0))
    a = shapes.render_one(*labels)
    b = shapes.render_one(*turned)
    assert float(jnp.mean(jnp.abs(a - b) > 0)) < 0.003  # only boundary pixels may differ
