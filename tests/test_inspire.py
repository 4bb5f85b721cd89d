"""Inspirational generation: criteria against direct computations (C_S against torch on the same
random VGG19), the reset-to-best schedule, the class-part strategies, targets, outputs, resume."""

import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from conftest import load_config
from torch_refs import tv_vgg

from jaxlatent import experiment
from jaxlatent import workdir as wd
from jaxlatent.methods import inspire_search, inspire_setup, inspire_targets
from jaxlatent.models import torchvision_convert as tc
from jaxlatent.models import vgg
from jaxlatent.models.registry import Model, load_model
from jaxlatent.objectives import inspire as crit
from jaxlatent.search import gradient_reset, protocol, runner

ADAM = dict(name="gradient_reset", optimizer="adam", learning_rate=1.0, schedule="paper")
SMALL_VGG = dict(width=1 / 16, hidden=64, num_classes=10)
IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def _images(n, size, seed):
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)).astype(np.float32)


def test_pixel_l2_is_mean_over_pixels_of_squared_rgb_distance():
    x, t = _images(2, 8, 0)
    want = sum(np.sum((x[i, j] - t[i, j]) ** 2) for i in range(8) for j in range(8)) / 64
    np.testing.assert_allclose(float(crit.pixel_l2(x, t)), want, rtol=1e-5)


def test_latent_norm_and_realism_terms():
    z = jnp.asarray(np.random.default_rng(1).normal(size=36).astype(np.float32) * 1.3)
    d = load_model("pgan_discriminator", key=jax.random.key(1), **_tiny_pgan())
    g = load_model("pgan_generator", key=jax.random.key(2), **_tiny_pgan())
    obj = crit.make_objective(g.apply_fn, d.apply_fn, None,
                              dict(latent_norm=1.0, realism=0.1), class_mode="continuous")
    ctx = {"g_params": g.params, "d_params": d.params}
    total, aux = obj(z, ctx)
    image = g.apply_fn(g.params, z[None])
    np.testing.assert_allclose(float(aux["latent_norm"]), (np.mean(np.asarray(z) ** 2) - 1) ** 2,
                               rtol=1e-5)
    np.testing.assert_allclose(float(aux["realism"]), -float(d.apply_fn(d.params, image)[0, 0]),
                               rtol=1e-5)
    np.testing.assert_allclose(float(total), float(aux["latent_norm"] + 0.1 * aux["realism"]),
                               rtol=1e-5)


def _tiny_pgan():
    return dict(dim_latent=36, category_dim=4, depth_scale0=8, depth_other_scales=[8, 8, 8],
                size_decision_layer=5)


def _torch_style(model, x, t, layers, form):
    """C_S by torch: 128 px bilinear (no antialias), FeatureTransform normalisation, taps."""
    def feats(a):
        a = torch.from_numpy(a.transpose(0, 3, 1, 2))
        a = F.interpolate(a, size=(128, 128), mode="bilinear", align_corners=False)
        m = torch.tensor(2 * IMAGENET_MEAN - 1, dtype=torch.float32).view(1, 3, 1, 1)
        s = torch.tensor(2 * IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1)
        taps = tv_vgg.taps(model, (a - m) / s)
        out = []
        for name in layers:
            f = taps[name].flatten(2)[0]
            mean = f.mean(-1)
            out.append((mean, (f * f).mean(-1) - mean * mean))
        return out

    with torch.no_grad():
        g, r = feats(x), feats(t)
        if form == "code":
            flat = lambda s: torch.cat([v for pair in s for v in pair])  # noqa: E731
            return float(((flat(g) - flat(r)) ** 2).mean())
        return float(sum(((a[0] - b[0]) ** 2).sum() + torch.linalg.norm(a[1] - b[1])
                         for a, b in zip(g, r)))


@pytest.mark.parity
@pytest.mark.parametrize("form", ["code", "paper"])
def test_style_term_matches_torch_on_the_same_random_vgg19(form):
    torch.manual_seed(0)
    ref = tv_vgg.VGG("vgg19", **SMALL_VGG).eval()
    params = tc.convert_vgg({k: v.detach().numpy() for k, v in ref.state_dict().items()},
                            "vgg19", **SMALL_VGG)
    _, apply_fn = vgg.make_apply("vgg19", **SMALL_VGG)
    layers = crit.VGG_LAYERS[form]
    maps = inspire_setup.vgg_feature_maps(Model(apply_fn, params, {}), layers)
    x, t = _images(1, 32, 3), _images(1, 32, 4)
    want = _torch_style(ref, x, t, layers, form)
    image = jnp.asarray(x)
    obj = crit.make_objective(lambda p, z: image, None, maps, dict(style=1.0), style_form=form)
    ctx = {"g_params": None, "f_params": params, "target": t[0],
           "target_stats": crit.target_stats(maps, params, jnp.asarray(t[0]))}
    _, aux = jax.jit(lambda z: obj(z, ctx))(jnp.zeros(4))
    np.testing.assert_allclose(float(aux["style"]), want, rtol=2e-4)


def test_style_forms_against_direct_numpy():
    rng = np.random.default_rng(5)
    stats = [(rng.normal(size=c), rng.normal(size=c)) for c in (3, 5)]
    target = [(rng.normal(size=c), rng.normal(size=c)) for c in (3, 5)]
    paper = sum(np.sum((a[0] - b[0]) ** 2) + np.sqrt(np.sum((a[1] - b[1]) ** 2))
                for a, b in zip(stats, target))
    flat = lambda s: np.concatenate([v for p in s for v in p])  # noqa: E731
    code = np.mean((flat(stats) - flat(target)) ** 2)
    np.testing.assert_allclose(float(crit.style_distance(stats, target, "paper")), paper, rtol=1e-5)
    np.testing.assert_allclose(float(crit.style_distance(stats, target, "code")), code, rtol=1e-5)
    maps = rng.normal(size=(4, 6, 3)).astype(np.float32)
    mean, var = crit.channel_stats(jnp.asarray(maps))
    np.testing.assert_allclose(np.asarray(var), maps.reshape(-1, 3).var(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(mean), maps.reshape(-1, 3).mean(0), rtol=1e-5)


def test_shapes_feature_maps_are_the_encoder_stages():
    f = load_model("shapes_features", key=jax.random.key(3))
    x = jnp.asarray(_images(2, 32, 6))
    maps = inspire_setup.shapes_feature_maps(f.params, x)
    from jaxlatent.models.shapes_features import FeatureEncoder
    from jaxlatent.preprocess import resize_bilinear_torch

    x128 = (resize_bilinear_torch(x, (128, 128)) + 1) / 2
    _, inter = FeatureEncoder().apply({"params": f.params["encoder"]}, x128,
                                      capture_intermediates=True, mutable=["intermediates"])
    for i, m in enumerate(maps):
        want = jax.nn.relu(inter["intermediates"][f"conv{i}"]["__call__"][0])
        np.testing.assert_allclose(np.asarray(m), np.asarray(want), atol=1e-5)


def test_weights_and_modes_are_checked():
    with pytest.raises(ValueError, match="unknown criterion weights"):
        crit.check_weights({"pixels": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        crit.check_weights({"pixel": -1.0})
    with pytest.raises(ValueError, match="needs a discriminator"):
        crit.make_objective(lambda p, z: z, None, None, dict(realism=0.1))
    with pytest.raises(ValueError, match="unknown class mode"):
        crit.make_objective(lambda p, z: z, None, None, dict(pixel=1.0), class_mode="soft")


# -- the reset-to-best schedule ---------------------------------------------------------------

def _quadratic(z, ctx, *, key=None):
    return jnp.sum(z**2), {}


def _drive(strategy, z0, steps):
    """Runs init/ask/tell by hand on the quadratic; returns the states after each tell."""
    params = strategy.default_params()
    state, states = strategy.init(jax.random.key(0), z0, params), []
    for _ in range(steps):
        cand, state = strategy.ask(None, state, params)
        values = jnp.sum(cand**2, axis=1)
        ev = protocol.Evaluation(values, {}, grads=2 * cand)
        state, info = strategy.tell(None, cand, ev, state, params)
        states.append((state, info))
    return states


def test_reset_jumps_to_the_best_point_and_decays_the_step():
    z0 = jnp.asarray([[2.5]])
    paper = _drive(gradient_reset.GradientReset("adam", budget=9), z0, 9)
    assert paper[0][0].lr == 1.0 and paper[2][0].lr == pytest.approx(0.1)
    assert paper[5][0].lr == pytest.approx(0.01)
    # After iteration 3 the latents are the best point evaluated so far, not the Adam iterate.
    state3 = paper[2][0]
    np.testing.assert_array_equal(np.asarray(state3.latents), np.asarray(state3.best_latent))
    decay_only = _drive(gradient_reset.GradientReset("adam", budget=9, schedule="decay_only"),
                        z0, 9)
    assert not np.allclose(np.asarray(decay_only[2][0].latents), np.asarray(state3.latents))
    noop = _drive(gradient_reset.GradientReset("adam", budget=9, schedule="official_noop"), z0, 9)
    assert all(float(s.lr) == 1.0 for s, _ in noop)


def test_reset_changes_the_result_of_a_runner_run():
    def run(schedule):
        strategy = gradient_reset.GradientReset("adam", budget=30, schedule=schedule)
        state, _ = runner.run(strategy, runner.Problem(_quadratic), jax.random.key(0),
                              jnp.full((1, 1, 3), 2.5), {}, num_steps=30, progress=False)
        return float(state.best_value[0, 0])

    paper, decay_only, noop = run("paper"), run("decay_only"), run("official_noop")
    assert paper != decay_only and paper != noop  # the reset (and the decays) change the run


def test_gradient_reset_lbfgs_and_nesterov_run_and_count_evaluations():
    for name, search, one_call in (("lbfgs", "none", True), ("lbfgs", "zoom", False),
                                   ("nesterov", "none", True)):
        strategy = gradient_reset.GradientReset(name, budget=6, learning_rate=0.1,
                                                linesearch=search)
        state, rows = runner.run(strategy, runner.Problem(_quadratic), jax.random.key(0),
                                 jnp.full((2, 1, 3), 1.5), {}, num_steps=6, progress=False)
        assert np.all(np.asarray(state.best_value) < 3 * 1.5**2)
        assert all(r["evals"] >= 1 for r in rows)
        assert all(r["evals"] == 1 for r in rows) == one_call
    with pytest.raises(KeyError, match="unknown optimizer"):
        gradient_reset.GradientReset("rmsprop")


def test_restart_guard_returns_to_the_best_point_instead_of_diverging():
    def bumpy(z, ctx, *, key=None):
        return jnp.sum(z**2) - jnp.sum(jnp.cos(3 * z)), {}

    strategy = gradient_reset.GradientReset("lbfgs", budget=20, learning_rate=10.0,
                                            restart_norm=5.0)
    state, rows = runner.run(strategy, runner.Problem(bumpy), jax.random.key(0),
                             jnp.full((1, 1, 3), 1.5), {}, num_steps=20, progress=False)
    assert sum(r["restarts"] for r in rows) > 0
    assert float(np.mean(np.asarray(state.strategy.latents) ** 2)) <= 5.0
    assert float(state.best_value[0, 0]) < float(bumpy(jnp.full(3, 1.5), None)[0])


# -- class part, targets, barycenter -----------------------------------------------------------

def test_fixed_class_mode_appends_the_class_code():
    g = load_model("pgan_generator", key=jax.random.key(2), **_tiny_pgan())
    target = jnp.zeros((32, 32, 3))
    fixed = crit.make_objective(g.apply_fn, None, None, dict(pixel=1.0), class_mode="fixed")
    cont = crit.make_objective(g.apply_fn, None, None, dict(pixel=1.0), class_mode="continuous")
    z, code = jnp.ones(32) * 0.3, jax.nn.one_hot(2, 4)
    ctx = {"g_params": g.params, "target": target, "class_code": code}
    _, a = fixed(z, ctx)
    _, b = cont(jnp.concatenate([z, code]), ctx)
    np.testing.assert_allclose(float(a["pixel"]), float(b["pixel"]), rtol=1e-6)
    assert float(a["latent_norm"]) != pytest.approx(float(b["latent_norm"]))  # C_v on z only
    _, other = fixed(z, {**ctx, "class_code": jax.nn.one_hot(0, 4)})
    assert float(other["pixel"]) != pytest.approx(float(a["pixel"]))


def test_targets_pil_bilinear_and_nearest_classes():
    img = np.random.default_rng(0).uniform(0, 1, (1, 128, 128, 3)).astype(np.float32)
    got = inspire_targets.pil_bilinear(img, 32)
    u8 = Image.fromarray(np.round(img[0] * 255).astype(np.uint8)).resize((32, 32), Image.BILINEAR)
    np.testing.assert_allclose(got[0], np.asarray(u8) / 127.5 - 1, atol=1e-6)
    images, classes, names = inspire_targets.render_off_domain(jax.random.key(0), 10)
    assert images.shape == (10, 128, 128, 3) and len(set(names)) == 10
    assert names[0] == "green triangle" and classes[0] == 1  # green is nearer blue than red
    green = images[0][np.all(images[0] < 0.99, axis=-1)]
    np.testing.assert_allclose(green.mean(0), inspire_targets.GREEN, atol=1e-4)


def test_barycenter_statistics_as_the_official_code():
    v = np.random.default_rng(0).normal(size=(4, 10))
    got = inspire_search.barycenter_stats(v)
    t = torch.tensor(v)
    t = t * torch.rsqrt((t**2).mean(dim=1, keepdim=True))
    b = t.mean(0)
    b = b * torch.rsqrt((b**2).mean())
    angles = (t * b).mean(1)
    assert got["meanAngles"] == pytest.approx(float(angles.mean()))
    assert got["stdAngles"] == pytest.approx(float(angles.std()))
    assert got["meanDist"] == pytest.approx(float(torch.sqrt(((b - t) ** 2).mean(1)).mean()))
    same = inspire_search.barycenter_stats(np.ones((3, 5)))
    assert same["meanDist"] == pytest.approx(0) and same["meanAngles"] == pytest.approx(1)


def test_celebahq_config_names_each_missing_file_and_its_convert_command():
    config = load_config("inspire", "celebahq")
    with pytest.raises(FileNotFoundError) as err:
        inspire_setup.load_networks(config)
    text = str(err.value)
    for field in ("generator.path", "features.path", "discriminator.path", "targets.images"):
        assert field in text
    assert "weights_convert/pgan.py" in text and "weights_convert/vgg.py --arch vgg19" in text


# -- end to end --------------------------------------------------------------------------------

def _small(arg="smoke", **over):
    config = load_config("inspire", arg)
    config.update(over)
    return config


@pytest.mark.slow
def test_method_writes_outputs_for_both_class_modes(tmp_path):
    summary = experiment.run(_small(), str(tmp_path))
    with np.load(tmp_path / "latents.npz") as f:
        assert f["continuous/best_latent"].shape == (3, 2, 36)
        assert f["fixed/best_latent"].shape == (3, 2, 32)
        assert f["fixed/images"].shape == (3, 2, 32, 32, 3)
        for mode in ("continuous", "fixed"):
            terms = {k: f[f"{mode}/term_{k}"] for k in crit.TERMS + ("total",)}
            w = crit.WEIGHT_PRESETS["l2_vgg"]
            np.testing.assert_allclose(sum(w[k] * terms[k] for k in crit.TERMS),
                                       terms["total"], rtol=1e-5)
            np.testing.assert_allclose(terms["total"], f[f"{mode}/best_value"], rtol=1e-4)
    for name in ("continuous.png", "fixed.png", "curves_continuous.png", "report.md"):
        assert os.path.getsize(tmp_path / name) > 0
    entry = summary["modes"]["fixed"]["targets"][0]
    assert set(entry["barycenter"]) == {"meanDist", "stdAngles", "meanAngles"}
    assert json.load(open(tmp_path / "summary.json"))["budget"] == 6


@pytest.mark.slow
def test_killed_search_resumes_to_the_same_result(tmp_path, monkeypatch):
    over = dict(class_modes=("continuous",), criterion=dict(
        preset="l2", weights={}, style_form="code", layers="code", realism_column=0))
    full = tmp_path / "full"
    experiment.run(_small(**over), str(full))
    real_save, calls = wd.save_checkpoint, []

    def save_then_die(*args):
        real_save(*args)
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(wd, "save_checkpoint", save_then_die)
    killed = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        experiment.run(_small(**over), str(killed))
    assert not (killed / "summary.json").exists() and calls == [1]
    monkeypatch.setattr(wd, "save_checkpoint", real_save)
    experiment.run(_small(**over), str(killed))
    with np.load(full / "latents.npz") as a, np.load(killed / "latents.npz") as b:
        np.testing.assert_array_equal(a["continuous/best_latent"], b["continuous/best_latent"])
    rows = lambda p: [json.loads(x) for x in open(p / "continuous" / "metrics.jsonl")]  # noqa
    assert rows(full) == rows(killed)


@pytest.mark.slow
def test_table2_rows_missing_rows_and_outputs(tmp_path):
    config = _small("table2,smoke,per_kind=2")
    config.strategies = [dict(label="Adam", search=dict(ADAM)),
                         dict(label="RS", search=dict(name="random_search", population=2)),
                         dict(label="Nope", search=dict(name="no_such_strategy"))]
    summary = experiment.run(config, str(tmp_path))
    assert set(summary["table"]) == {"Adam", "RS"}
    assert summary["missing_rows"] == ["Nope (no_such_strategy)"]
    assert summary["iterations"] == {"Adam": 6, "RS": 3}
    table = open(tmp_path / "table.md").read()
    assert "| Adam |" in table and "Missing rows" in table
    assert os.path.getsize(tmp_path / "curves.png") > 0 and os.path.getsize(tmp_path / "grid.png")
    mean, se = summary["table"]["RS"]["semi"]
    with np.load(tmp_path / "table2" / "rs" / "result.npz") as f:
        np.testing.assert_allclose(mean, f["best_value"][2:4].mean(), rtol=1e-6)
