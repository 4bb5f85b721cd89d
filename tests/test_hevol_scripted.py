"""Scripted HEVOL user: picking the 5 closest images (pixel RMSE) moves the parent to the target;
picking at random (what ignored picks would look like) does not."""

import numpy as np
import pytest

from jaxlatent.hevol import scripted
from jaxlatent.hevol.render import load_renderer
from jaxlatent.search.population.hevol import PRESETS, Hevol

SEEDS, ROUNDS = range(4), 8


@pytest.fixture(scope="module")
def pgan():
    return load_renderer({"name": "shapes_pgan_generator"})


@pytest.mark.parametrize("preset", ["paper", "fashion"])
def test_closest_picks_approach_the_target_and_random_picks_do_not(pgan, preset):
    curves = scripted.curves(Hevol(**PRESETS[preset]), pgan, seeds=SEEDS, rounds=ROUNDS,
                             class_index=2)
    closest, random = curves["closest"], curves["random"]
    assert closest.shape == random.shape == (len(SEEDS), ROUNDS + 1)
    np.testing.assert_array_equal(closest[:, 0], random[:, 0])  # both start at G(ẑ₀ = 0)
    assert np.all(closest[:, -1] < 0.75 * closest[:, 0]), closest  # every run moves closer
    assert np.all(closest[:, -1] < random[:, -1]), (closest[:, -1], random[:, -1])
    assert closest[:, -1].mean() < 0.6 * random[:, -1].mean()


def test_scripted_user_rejects_an_unknown_picker(pgan):
    target = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="picker must be one of"):
        scripted.simulate(Hevol(), pgan, target, 0, rounds=1, seed=0, picker="best")
