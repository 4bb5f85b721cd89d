"""HEVOL strategy (Algorithm 1 with a person as selection) and its persisted session."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent.hevol.render import Renderer, load_renderer
from jaxlatent.hevol.session import RequestError, Session
from jaxlatent.models import embedded
from jaxlatent.models.registry import Model
from jaxlatent.search import registry
from jaxlatent.search.host import HostDriver
from jaxlatent.search.population import hevol
from jaxlatent.search.population.hevol import Hevol


def _driver(preset="paper", d=32, seed=0):
    return HostDriver(Hevol(**hevol.PRESETS[preset]), jax.random.key(seed), jnp.zeros(d))


def test_paper_preset_shows_parent_and_27_one_coordinate_mutants():
    d = 32
    driver = _driver("paper", d)
    x = driver.ask()
    assert x.shape == (28, d)
    np.testing.assert_array_equal(x[0], 0.0)  # ẑ₀ = 0 is candidate 0
    changed = (x[1:] != 0).sum(1)
    assert changed.min() >= 1  # an empty mask is redrawn


def test_mutation_replaces_coordinates_at_rate_one_over_d():
    """E[#changed | ≥ 1] = 1/d·d / (1 - (1 - 1/d)^d) for Binomial(d, 1/d) conditioned on ≥ 1."""
    d = 16
    parent = jnp.full((d,), 7.0)
    keys = jax.random.split(jax.random.key(1), 4000)
    mut = np.asarray(jax.vmap(hevol.discrete_mutation, (0, None, None))(keys, parent, 1.0 / d))
    changed = mut != 7.0
    assert changed.sum(1).min() >= 1
    expected = 1.0 / (1.0 - (1.0 - 1.0 / d) ** d)
    assert abs(changed.sum(1).mean() - expected) < 0.06
    fresh = mut[changed]  # replaced by N(0, 1), not added to the parent
    assert abs(fresh.mean()) < 0.1 and abs(fresh.std() - 1.0) < 0.1


def test_new_parent_is_the_multiset_mean_of_the_picks():
    driver = _driver("paper")
    x = driver.ask()
    counts = np.zeros(28, np.float32)
    counts[[3, 3, 7, 9, 20]] = [2, 2, 1, 1, 1]
    counts[3] = 2
    driver.tell(-counts)
    expected = (2 * x[3] + x[7] + x[9] + x[20]) / 5
    np.testing.assert_allclose(driver.ask()[0], expected, rtol=1e-6)


def test_no_clicks_keep_the_parent():
    driver = _driver("paper")
    x0 = driver.ask()
    driver.tell(np.zeros(28))
    np.testing.assert_array_equal(driver.ask()[0], x0[0])


def test_notebook_keeps_the_picks_as_parents_most_clicked_first():
    driver = _driver("notebook", d=20)
    x = driver.ask()
    assert x.shape == (28, 20)
    counts = np.zeros(28, np.float32)
    counts[[10, 6, 12]] = [1, 3, 1]
    driver.tell(-counts)
    y = driver.ask()
    np.testing.assert_array_equal(y[:5], x[[6, 6, 6, 10, 12]])


def test_kept_parents_mutant_i_comes_from_parent_i_mod_mu():
    d = 20
    driver = HostDriver(Hevol(mu=5, lam=23, keep_parents=True), jax.random.key(3), jnp.zeros(d))
    x = driver.ask()
    counts = np.zeros(28, np.float32)
    counts[[8, 9, 10, 11, 12]] = 1
    driver.tell(-counts)
    y = driver.ask()
    for i in range(23):
        diff = (y[5 + i] != y[i % 5]).sum(1) if y.ndim == 3 else (y[5 + i] != y[i % 5]).sum()
        assert 1 <= diff <= 5, (i, diff)
    assert len({p.tobytes() for p in y[:5]}) == 5 and not np.array_equal(x[5:], y[5:])


def test_notebook_mixed_rates_change_more_coordinates_than_one_over_d():
    d = 64
    many = np.concatenate([_driver("notebook", d, seed=s).ask()[5:] for s in range(8)])
    few = np.concatenate([_driver("paper", d, seed=s).ask()[1:] for s in range(8)])
    # max(U(0,1), 1/d): on average about half the coordinates change; 1/d: about 1.6.
    assert (many != 0).sum(1).mean() > 20
    assert (few != 0).sum(1).mean() < 3


def test_fashion_preset_is_one_of_16():
    s = registry.build({"name": "hevol", "preset": "fashion"})
    assert (s.mu, s.population) == (1, 16)
    driver = HostDriver(s, jax.random.key(0), jnp.zeros(8))
    x = driver.ask()
    counts = np.zeros(16)
    counts[5] = 1
    driver.tell(-counts)
    np.testing.assert_array_equal(driver.ask()[0], x[5])


def test_build_overrides_and_errors():
    s = registry.build({"name": "hevol", "preset": "paper", "mu": 3, "lam": 9,
                        "mutation_rate": 0.5})
    assert (s.mu, s.lam, s.mutation_rate, s.population) == (3, 9, 0.5, 10)
    assert registry.build({"name": "hevol", "mu": 0}).mu == 5  # 0 keeps the preset
    with pytest.raises(KeyError, match="unknown HEVOL preset 'nope'"):
        registry.build({"name": "hevol", "preset": "nope"})
    with pytest.raises(ValueError, match="mu >= 1"):
        Hevol(mu=-1)
    with pytest.raises(ValueError, match="mutation_rate"):
        Hevol(mutation_rate=1.5)


def test_driver_save_load_gives_the_same_next_screen(tmp_path):
    a = _driver("paper")
    a.ask()
    counts = np.zeros(28)
    counts[[1, 2, 3, 4, 5]] = 1
    a.tell(-counts)
    a.save(str(tmp_path / "d.npz"))
    b = _driver("paper")
    b.load(str(tmp_path / "d.npz"))
    np.testing.assert_array_equal(a.ask(), b.ask())


# -- session -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pgan():
    return load_renderer({"name": "shapes_pgan_generator", "class_names": "a,b,c,d"})


def _session(tmp_path, renderer, preset="paper", seed=0):
    return Session(Hevol(**hevol.PRESETS[preset]), renderer, str(tmp_path / "s"), seed=seed)


def test_session_rounds_undo_resume_restart(tmp_path, pgan):
    s = _session(tmp_path, pgan)
    assert s.renderer.class_names == ("a", "b", "c", "d")
    screen0 = s.candidates()
    s.submit([4, 4, 1, 2, 3], 0)
    screen1 = s.candidates()
    s.set_class(2)
    s.submit([0, 5, 6, 7, 8], 1)
    assert s.round == 2 and [r["picks"] for r in s.rounds] == [[4, 4, 1, 2, 3], [0, 5, 6, 7, 8]]
    s.undo(2)
    assert s.round == 1
    np.testing.assert_array_equal(s.candidates(), screen1)  # the same screen as before
    assert not os.path.exists(tmp_path / "s" / "driver" / "r0_round2.npz")
    resumed = _session(tmp_path, pgan)  # a new process on the same files
    assert (resumed.round, resumed.class_index, resumed.rounds) == (1, 2, s.rounds)
    np.testing.assert_array_equal(resumed.candidates(), screen1)
    np.testing.assert_allclose(resumed.history()[0][0], screen0[0])
    resumed.restart()
    assert resumed.round == 0 and resumed.rounds == [] and resumed.restart_count == 1
    assert not np.array_equal(resumed.candidates(), screen0)  # a fresh key
    assert sorted(os.listdir(tmp_path / "s" / "driver")) == ["r1_round0.npz"]
    with np.load(tmp_path / "s" / "latents.npz") as f:
        assert f["parents"].shape == (1, 32) and f["candidates"].shape == (28, 32)


def test_session_refuses_bad_requests(tmp_path, pgan):
    s = _session(tmp_path, pgan)
    cases = [([1, 2, 3, 4], 0, 400, "exactly 5"), ([1, 2, 3, 4, 28], 0, 400, r"\[0, 28\)"),
             ([1, 2, 3, 4, -1], 0, 400, "integers"), ([1, 2, 3, 4, True], 0, 400, "integers"),
             ([1, 2, 3, 4, 1.5], 0, 400, "integers"), ("12345", 0, 400, "list"),
             ([1, 2, 3, 4, 5], 3, 409, "round 3"), ([1, 2, 3, 4, 5], "0", 400, "integer")]
    for picks, rnd, status, message in cases:
        with pytest.raises(RequestError, match=message) as err:
            s.submit(picks, rnd)
        assert err.value.status == status
    with pytest.raises(RequestError, match="nothing to undo") as err:
        s.undo(0)
    assert err.value.status == 409
    for bad in (4, -1, "1", None, 1.0):
        with pytest.raises(RequestError, match="class_index"):
            s.set_class(bad)
    assert s.round == 0 and s.class_index == 0


def test_session_json_is_written_after_the_driver_file(tmp_path, pgan):
    """A kill after the driver file of round 1 but before session.json resumes at round 0."""
    s = _session(tmp_path, pgan)
    screen0 = s.candidates()
    with open(tmp_path / "s" / "session.json") as f:
        doc = json.load(f)
    s.submit([1, 2, 3, 4, 5], 0)
    with open(tmp_path / "s" / "session.json", "w") as f:  # as if the json write never happened
        json.dump(doc, f)
    resumed = _session(tmp_path, pgan)
    assert resumed.round == 0
    np.testing.assert_array_equal(resumed.candidates(), screen0)


def test_session_of_another_shape_is_refused(tmp_path, pgan):
    _session(tmp_path, pgan)
    with pytest.raises(ValueError, match="holds a session of 28 images"):
        _session(tmp_path, pgan, preset="fashion")


def test_renderer_families_and_classes():
    pgan = load_renderer({"name": "shapes_pgan_generator"})
    z = np.random.default_rng(0).normal(size=(3, pgan.latent_dim)).astype(np.float32)
    per_class = pgan.render(np.repeat(z[:1], 4, 0), np.arange(4))
    assert per_class.shape == (4, 32, 32, 3) and per_class.dtype == np.uint8
    assert len({x.tobytes() for x in per_class}) == 4  # the class input matters
    # A converted checkpoint by path: the shipped PGAN file through the generic pgan_generator.
    by_path = load_renderer({"name": "pgan_generator",
                             "path": embedded.weights_path("shapes_pgan_generator")})
    np.testing.assert_array_equal(by_path.render(z, 1), pgan.render(z, 1))
    vae = load_renderer({"name": "shapes_vae"})
    assert (vae.latent_dim, vae.num_classes, vae.resolution) == (6, 0, 128)


def test_renderer_stylegan2_family_and_unknown_models():
    def apply_fn(params, z):  # stands in for a StyleGAN2 G (z space, output in [-1, 1])
        return jnp.tanh(params["w"] * z[:, :1, None, None] * jnp.ones((1, 4, 4, 3)))

    sg2 = Renderer(Model(apply_fn, {"w": jnp.float32(1.0)}, {"z_dim": 8, "w_dim": 8}))
    out = sg2.render(np.stack([np.full(8, -9.0), np.zeros(8), np.full(8, 9.0)]), 0)
    assert (sg2.latent_dim, sg2.num_classes, out.shape) == (8, 0, (3, 4, 4, 3))
    assert (out[0].max(), out[1].min(), out[2].min()) == (0, 128, 255)  # [-1, 1] -> 0..255
    with pytest.raises(ValueError, match="cannot render"):
        Renderer(Model(apply_fn, {}, {"name": "shapes_features"}))
