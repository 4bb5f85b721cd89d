"""StyleGAN2 port: per-layer parity with an independent torch reference, converters, builders.

Small config: size 32, style_dim 32, n_mlp 2, channels {4: 32, 8: 32, 16: 24, 32: 16}, random
weights with random biases / noise strengths. Tolerances are max-abs errors (float32, CPU,
matmul precision "highest" from conftest).
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent.models import load_model
from jaxlatent.models.stylegan2 import builders, layers, presets
from jaxlatent.models.stylegan2 import convert_nvlabs as nvc
from jaxlatent.models.stylegan2 import convert_rosinality as rosc
from jaxlatent.models.stylegan2.synthesis import Generator

torch = pytest.importorskip("torch")
from tests.torch_refs_sg2 import randomize_  # noqa: E402
from tests.torch_refs_sg2 import model as tmodel  # noqa: E402
from tests.torch_refs_sg2 import networks as tnet  # noqa: E402
from tests.torch_refs_sg2 import nvlabs_layout  # noqa: E402

SIZE, STYLE, N_MLP = 32, 32, 2
CHANNELS = {4: 32, 8: 32, 16: 24, 32: 16}
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
TOL_LAYER = 1e-4  # per-layer activations and image (measured ~1e-6, see report)
TOL_MAP = 1e-5  # mapping output


def _np(t):
    return t.detach().cpu().numpy()


def _nhwc(t):
    return _np(t).transpose(0, 2, 3, 1)


def _torch_g(clamp=None, seed=0):
    torch.manual_seed(seed)
    g = tnet.Generator(SIZE, STYLE, N_MLP, CHANNELS, conv_clamp=clamp)
    return randomize_(g, seed + 1)


def _torch_d(group=4, clamp=None, seed=10):
    torch.manual_seed(seed)
    return randomize_(tnet.Discriminator(SIZE, CHANNELS, mbstd_group=group, conv_clamp=clamp), seed + 1)


def _state(module):
    return {k: _np(v) for k, v in module.state_dict().items()}


def _g_cfg(clamp=None):
    return presets.generator_config(SIZE, STYLE, N_MLP, channels=CHANNELS, conv_clamp=clamp)


def _d_cfg(group=4, clamp=None):
    return presets.discriminator_config(SIZE, channels=CHANNELS, mbstd_group=group, conv_clamp=clamp)


def _flax_layers(variables, cfg, ws, noise):
    module = builders.generator_module(cfg)
    fn = jax.jit(lambda v, ws: module.apply(v, ws, noise, method=Generator.synthesize,
                                            capture_intermediates=True, mutable=["intermediates"]))
    img, state = fn(variables, jnp.asarray(ws))
    acts = {k: v["__call__"][0] for k, v in state["intermediates"].items() if k != "noises"}
    return np.asarray(img), acts


def _compare_generator(tg, variables, cfg, z, noise_t=None, noise_j="const", tol=TOL_LAYER):
    """Mapping, every StyledConv / ToRGB output and the image; returns the max errors."""
    with torch.no_grad():
        w_t = tg.style(torch.from_numpy(z))
        ws_t = w_t[:, None].repeat(1, tg.n_latent, 1)
        img_t, acts_t = tg(ws_t, noise_t)
    module = builders.generator_module(cfg)
    w_j = jax.jit(lambda v, z: module.apply(v, z, method=Generator.map))(variables, jnp.asarray(z))
    errs = {"mapping": float(np.max(np.abs(np.asarray(w_j) - _np(w_t))))}
    img_j, acts_j = _flax_layers(variables, cfg, _np(ws_t), noise_j)
    assert set(acts_j) >= set(acts_t)
    for name, a in acts_t.items():
        errs[name] = float(np.max(np.abs(np.asarray(acts_j[name]) - _nhwc(a))))
    errs["image"] = float(np.max(np.abs(img_j - _nhwc(img_t))))
    assert errs["mapping"] < TOL_MAP, errs
    assert max(errs.values()) < tol, errs
    return errs


@pytest.mark.parity
@pytest.mark.parametrize("up,down,pad", [(1, 1, (1, 1)), (2, 1, (2, 1)), (1, 2, (1, 1)),
                                         (2, 1, (-1, 2)), (1, 2, (2, 2)), (3, 2, (0, -1))])
def test_upfirdn2d_matches_torch(up, down, pad):
    x = np.random.default_rng(0).standard_normal((2, 5, 9, 7)).astype(np.float32)
    k = np.random.default_rng(1).standard_normal((4, 4)).astype(np.float32)  # asymmetric
    want = tmodel.upfirdn(torch.from_numpy(x), torch.from_numpy(k), up, down, pad)
    got = layers.upfirdn2d(jnp.asarray(x.transpose(0, 2, 3, 1)), k, up, down, pad)
    np.testing.assert_allclose(np.asarray(got), _nhwc(want), atol=1e-5)


@pytest.mark.parity
def test_generator_parity_rosinality_const_noise():
    tg = _torch_g()
    variables, meta = rosc.convert_generator(_state(tg), latent_avg=np.zeros(STYLE, np.float32))
    assert meta["size"] == SIZE and meta["channels"] == _g_cfg()["channels"]
    z = np.random.default_rng(0).standard_normal((2, STYLE)).astype(np.float32)
    errs = _compare_generator(tg, variables, meta, z)
    print("rosinality G max-abs errors:", errs)


@pytest.mark.parity
def test_generator_parity_explicit_noise_and_truncation():
    tg = _torch_g(seed=3)
    w_avg = np.random.default_rng(5).standard_normal(STYLE).astype(np.float32)
    variables, meta = rosc.convert_generator(_state(tg), _g_cfg(), latent_avg=w_avg)
    rng = np.random.default_rng(1)
    noise = [rng.standard_normal((2, 1, r, r)).astype(np.float32)
             for r in [4, 8, 8, 16, 16, 32, 32]]
    z = rng.standard_normal((2, STYLE)).astype(np.float32)
    psi, cutoff = 0.7, 4
    with torch.no_grad():
        w = tg.style(torch.from_numpy(z))[:, None].repeat(1, tg.n_latent, 1)
        wa = torch.from_numpy(w_avg)
        w[:, :cutoff] = wa + psi * (w[:, :cutoff] - wa)
        img_t, _ = tg(w, [torch.from_numpy(n) for n in noise])
    module = builders.generator_module(meta)
    fn = jax.jit(lambda v, z, n: module.apply(v, z, truncation=psi, truncation_cutoff=cutoff, noise=n))
    img_j = fn(variables, jnp.asarray(z), [jnp.asarray(n.transpose(0, 2, 3, 1)) for n in noise])
    err = float(np.max(np.abs(np.asarray(img_j) - _nhwc(img_t))))
    print("explicit noise + truncation image max-abs error:", err)
    assert err < TOL_LAYER


@pytest.mark.parity
def test_generator_gradient_parity():
    """d/dz of <image, r> through mapping and synthesis matches torch autograd."""
    tg = _torch_g(seed=7)
    variables, meta = rosc.convert_generator(_state(tg), latent_avg=np.zeros(STYLE, np.float32))
    rng = np.random.default_rng(2)
    z = rng.standard_normal((2, STYLE)).astype(np.float32)
    r = rng.standard_normal((2, SIZE, SIZE, 3)).astype(np.float32)
    zt = torch.from_numpy(z).requires_grad_(True)
    img_t, _ = tg(tg.style(zt)[:, None].repeat(1, tg.n_latent, 1))
    (img_t.permute(0, 2, 3, 1) * torch.from_numpy(r)).sum().backward()
    module = builders.generator_module(meta)
    g = jax.jit(jax.grad(lambda z: jnp.sum(module.apply(variables, z) * r)))(jnp.asarray(z))
    err = float(np.max(np.abs(np.asarray(g) - _np(zt.grad))))
    print("grad wrt z max-abs error:", err, "grad scale:", float(np.max(np.abs(_np(zt.grad)))))
    assert err < 1e-4


@pytest.mark.parity
@pytest.mark.parametrize("group", [4, 2])
def test_discriminator_parity_rosinality(group):
    td = _torch_d(group)
    variables, meta = rosc.convert_discriminator(_state(td), _d_cfg(group))
    x = np.random.default_rng(3).uniform(-1, 1, (4, 3, SIZE, SIZE)).astype(np.float32)
    with torch.no_grad():
        score_t, acts_t = td(torch.from_numpy(x))
    module = builders.discriminator_module(meta)
    fn = jax.jit(lambda v, x: module.apply(v, x, capture_intermediates=True, mutable=["intermediates"]))
    score_j, state = fn(variables, jnp.asarray(x.transpose(0, 2, 3, 1)))
    inter = state["intermediates"]
    errs = {k: float(np.max(np.abs(np.asarray(inter[k]["__call__"][0]) - _nhwc(a))))
            for k, a in acts_t.items()}
    errs["score"] = float(np.max(np.abs(np.asarray(score_j) - _np(score_t))))
    print(f"rosinality D (group {group}) max-abs errors:", errs)
    assert max(errs.values()) < TOL_LAYER, errs


@pytest.mark.parity
def test_nvlabs_layout_with_conv_clamp():
    """NVlabs state dicts (renamed from the reference) convert to the same network, clamp on."""
    clamp = 0.6  # small enough that clamping is active in several layers
    tg, td = _torch_g(clamp=clamp, seed=11), _torch_d(clamp=clamp)
    w_avg = torch.randn(STYLE)
    nv_g = {k: _np(v) for k, v in nvlabs_layout.generator_to_nvlabs(tg.state_dict(), SIZE, N_MLP, w_avg).items()}
    variables, meta = nvc.convert_generator(nv_g, _g_cfg(clamp))
    ref_vars, _ = rosc.convert_generator(_state(tg), _g_cfg(clamp), latent_avg=_np(w_avg))
    chex_close = jax.tree_util.tree_map(lambda a, b: float(np.max(np.abs(a - b))), variables, ref_vars)
    assert max(jax.tree_util.tree_leaves(chex_close)) < 1e-5
    z = np.random.default_rng(4).standard_normal((2, STYLE)).astype(np.float32)
    errs = _compare_generator(tg, variables, meta, z)
    nv_d = {k: _np(v) for k, v in nvlabs_layout.discriminator_to_nvlabs(td.state_dict(), SIZE).items()}
    d_vars, d_meta = nvc.convert_discriminator(nv_d, _d_cfg(4, clamp))
    x = np.random.default_rng(3).uniform(-1, 1, (4, 3, SIZE, SIZE)).astype(np.float32)
    with torch.no_grad():
        score_t, _ = td(torch.from_numpy(x))
    score_j = jax.jit(builders.discriminator_module(d_meta).apply)(d_vars, jnp.asarray(x.transpose(0, 2, 3, 1)))
    errs["D score"] = float(np.max(np.abs(np.asarray(score_j) - _np(score_t))))
    print("NVlabs layout (clamp) max-abs errors:", errs)
    assert errs["D score"] < TOL_LAYER
    with torch.no_grad():  # the clamp really fires, so this test can tell clamp from no clamp
        _, acts = tg(tg.style(torch.from_numpy(z))[:, None].repeat(1, tg.n_latent, 1))
    assert any(float(a.abs().max()) >= clamp - 1e-6 for a in acts.values())


def test_nvlabs_config_inference_and_init_kwargs():
    nv_g = {k: _np(v) for k, v in nvlabs_layout.generator_to_nvlabs(
        _torch_g().state_dict(), SIZE, N_MLP, torch.zeros(STYLE)).items()}
    assert nvc.infer_generator_config(nv_g) == _g_cfg()
    kw = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
              mapping_kwargs=dict(num_layers=8),
              synthesis_kwargs=dict(channel_base=16384, channel_max=512, conv_clamp=256))
    assert nvc.generator_config_from_init_kwargs(kw) == presets.preset("ffhq256_nvlabs")[0]
    dkw = dict(c_dim=0, img_resolution=256, img_channels=3, channel_base=16384, channel_max=512,
               conv_clamp=256, epilogue_kwargs=dict(mbstd_group_size=8))
    assert nvc.discriminator_config_from_init_kwargs(dkw) == presets.preset("ffhq256_nvlabs")[1]
    with pytest.raises(NotImplementedError):
        nvc.generator_config_from_init_kwargs({**kw, "c_dim": 10})


@pytest.mark.parametrize("fmt,net", [("rosinality", "g"), ("rosinality", "d"),
                                     ("nvlabs", "g"), ("nvlabs", "d")])
def test_ffhq1024_key_fixtures(fmt, net):
    """Generated key sets equal the official FFHQ-1024 ones (fixtures made from official code)."""
    with open(os.path.join(FIXTURES, f"stylegan2_{fmt}_ffhq1024_{net}_keys.json")) as f:
        fixture = {k: tuple(v) for k, v in json.load(f).items()}
    conv = rosc if fmt == "rosinality" else nvc
    g, d = presets.preset("ffhq1024")
    entries = conv.generator_entries(g) if net == "g" else conv.discriminator_entries(d)
    assert rosc.expected_keys(entries) == fixture


def test_torch_reference_has_rosinality_keys():
    with open(os.path.join(FIXTURES, "stylegan2_rosinality_ffhq1024_g_keys.json")) as f:
        fixture = {k: tuple(v) for k, v in json.load(f).items()}
    with torch.device("meta"):
        ref = tnet.Generator(1024, 512, 8, presets.rosinality_channels(1024, 2))
    assert {k: tuple(v.shape) for k, v in ref.state_dict().items()} == fixture


def test_wrong_keys_are_named():
    state = _state(_torch_g())
    del state["convs.1.noise.weight"]
    state["convs.1.extra"] = np.zeros(3, np.float32)
    state["to_rgbs.0.bias"] = np.zeros((3,), np.float32)
    with pytest.raises(ValueError) as err:
        rosc.convert_generator(state, _g_cfg(), latent_avg=np.zeros(STYLE))
    msg = str(err.value)
    assert "convs.1.noise.weight" in msg and "convs.1.extra" in msg and "to_rgbs.0.bias" in msg
    state = _state(_torch_g())
    state["convs.0.conv.blur.kernel"] = state["convs.0.conv.blur.kernel"] * 2
    with pytest.raises(ValueError, match="FIR filter"):
        rosc.convert_generator(state, _g_cfg(), latent_avg=np.zeros(STYLE))
    d = _state(_torch_d())
    with pytest.raises(ValueError, match=r"unexpected keys \(29\): convs.0.0.weight"):
        nvc.convert_discriminator(d, _d_cfg())  # rosinality keys fed to the NVlabs converter


def test_w_avg_estimated_when_missing():
    tg = _torch_g()
    variables, meta = rosc.convert_generator(_state(tg))
    assert meta["w_avg_source"].startswith("estimated")
    with torch.no_grad():
        w = tg.style(torch.randn(20000, STYLE, generator=torch.Generator().manual_seed(0)))
    np.testing.assert_allclose(variables["buffers"]["w_avg"], _np(w.mean(0)), atol=0.05)


def test_random_checkpoint_roundtrip_and_registry(tmp_path, key):
    gp, dp = str(tmp_path / "g.npz"), str(tmp_path / "d.npz")
    cfg = builders.make_random_checkpoint(gp, key, discriminator_path=dp, size=16, style_dim=16,
                                          n_mlp=2, channels={4: 16, 8: 16, 16: 8})
    g = load_model("stylegan2_generator", path=gp)
    d = load_model("stylegan2_discriminator", path=dp)
    assert g.info["num_ws"] == 6 and g.info["resolution"] == 16 and g.info["config"] == cfg
    z = jax.random.normal(key, (4, 16))
    img = jax.jit(g.apply_fn)(g.params, z)
    assert img.shape == (4, 16, 16, 3) and jax.jit(d.apply_fn)(d.params, img).shape == (4,)
    # Same params as a fresh random build with the same key (the file is exactly the init).
    fresh = builders.build_generator(key=key, size=16, style_dim=16, n_mlp=2,
                                     channels={4: 16, 8: 16, 16: 8})
    jax.tree_util.tree_map(np.testing.assert_array_equal, fresh.params, g.params)
    with pytest.raises(ValueError, match="contradict"):
        load_model("stylegan2_generator", path=gp, size=32)
    with pytest.raises(ValueError, match="stylegan2_discriminator"):
        load_model("stylegan2_generator", path=dp)
    with pytest.raises(ValueError, match="weights_convert/stylegan2.py"):
        load_model("stylegan2_generator")


def test_latent_spaces_and_noise(key):
    g = builders.build_generator(key=key, size=8, style_dim=8, n_mlp=2, channels={4: 8, 8: 8})
    # Random init has zero noise strengths (as rosinality / NVlabs); make noise matter.
    p = jax.tree_util.tree_map_with_path(
        lambda path, x: x + 0.5 if "noise" in jax.tree_util.keystr(path) and x.shape == (1,) else x,
        g.params)
    f = jax.jit(g.apply_fn, static_argnames=("space", "noise", "truncation"))
    z = jax.random.normal(key, (3, 8))
    w = g.info["map_fn"](p, z)
    ws = jnp.repeat(w[:, None], g.info["num_ws"], axis=1)
    np.testing.assert_allclose(f(p, z), f(p, w, space="w"), atol=1e-6)
    np.testing.assert_allclose(f(p, z), f(p, ws, space="w+"), atol=1e-6)
    mean, std = builders.estimate_w_stats(g, key, n=1000, batch=500)
    zz = jnp.concatenate([jax.random.normal(jax.random.fold_in(key, i), (500, 8)) for i in (0, 500)])
    np.testing.assert_allclose(std[0], np.std(np.asarray(g.info["map_fn"](p, zz)), 0, ddof=1), rtol=1e-4)
    q = (ws - p["buffers"]["w_avg"]) / std
    np.testing.assert_allclose(f(p, q, space="q", w_std=std), f(p, ws, space="w+"), atol=1e-5)
    r1 = f(p, z, noise="random", key=jax.random.key(1))
    assert np.array_equal(r1, f(p, z, noise="random", key=jax.random.key(1)))
    assert not np.allclose(r1, f(p, z, noise="random", key=jax.random.key(2)))
    with pytest.raises(ValueError, match="key"):
        f(p, z, noise="random")
    np.testing.assert_allclose(f(p, z, truncation=0.0)[0], f(p, z, truncation=0.0)[1], atol=1e-6)


def test_presets_channels():
    g, d = presets.preset("ffhq1024")
    assert g["num_ws"] == 18 and presets.channels_of(g)[1024] == 32 and presets.channels_of(g)[64] == 512
    assert presets.rosinality_channels(1024, 2) == presets.nvlabs_channels(1024, 32768, 512)
    g, d = presets.preset("ffhq256_nvlabs")
    assert presets.channels_of(g)[256] == 64 and g["num_ws"] == 14 and d["mbstd_group"] == 8


@pytest.mark.parity
@pytest.mark.skipif(not os.environ.get("STYLEGAN2_ADA_REPO"),
                    reason="set STYLEGAN2_ADA_REPO to a stylegan2-ada-pytorch checkout")
def test_against_official_nvlabs_code():
    import sys

    sys.path.insert(0, os.environ["STYLEGAN2_ADA_REPO"])
    from training import networks

    torch.manual_seed(0)
    G = networks.Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=32, img_channels=3,
                           mapping_kwargs=dict(num_layers=2),
                           synthesis_kwargs=dict(channel_base=256, channel_max=32, conv_clamp=0.6))
    D = networks.Discriminator(c_dim=0, img_resolution=32, img_channels=3, channel_base=256,
                               channel_max=32, conv_clamp=0.6, epilogue_kwargs=dict(mbstd_group_size=2))
    for net in (G, D):
        randomize_(net, 1)
        for name, p in net.named_parameters():
            if name.endswith("noise_strength"):
                p.data.fill_(0.3)
    G.mapping.w_avg.normal_()
    gv, gm = nvc.convert_generator({k: _np(v) for k, v in G.state_dict().items()},
                                   nvc.generator_config_from_init_kwargs(G.init_kwargs))
    dv, dm = nvc.convert_discriminator({k: _np(v) for k, v in D.state_dict().items()},
                                       nvc.discriminator_config_from_init_kwargs(D.init_kwargs))
    z = torch.randn(4, 16)
    with torch.no_grad():
        img = G(z, None, truncation_psi=0.7, noise_mode="const", force_fp32=True)
        score = D(img, None)
    img_j = builders.generator_module(gm).apply(gv, jnp.asarray(_np(z)), truncation=0.7)
    score_j = builders.discriminator_module(dm).apply(dv, img_j)
    errs = (float(np.max(np.abs(np.asarray(img_j) - _nhwc(img)))),
            float(np.max(np.abs(np.asarray(score_j) - _np(score)))))
    print("official NVlabs code: image / D score max-abs errors:", errs)
    assert max(errs) < TOL_LAYER


@pytest.mark.parametrize("fmt", ["rosinality", "nvlabs"])
def test_converter_cli(tmp_path, fmt):
    import weights_convert.stylegan2 as cli

    tg, td = _torch_g(), _torch_d()
    w_avg = torch.randn(STYLE)
    if fmt == "rosinality":
        ckpt = {"g_ema": tg.state_dict(), "d": td.state_dict(), "latent_avg": w_avg}
    else:
        ckpt = {"G_ema": nvlabs_layout.generator_to_nvlabs(tg.state_dict(), SIZE, N_MLP, w_avg),
                "D": nvlabs_layout.discriminator_to_nvlabs(td.state_dict(), SIZE)}
    src = str(tmp_path / "ckpt.pt")
    torch.save(ckpt, src)
    out, dout = str(tmp_path / "g.npz"), str(tmp_path / "d.npz")
    cli.main(["--format", fmt, "--input", src, "--output", out, "--d-output", dout])
    g = load_model("stylegan2_generator", path=out)
    d = load_model("stylegan2_discriminator", path=dout)
    want_g, _ = rosc.convert_generator(_state(tg), _g_cfg(), latent_avg=_np(w_avg))
    want_d, _ = rosc.convert_discriminator(_state(td), _d_cfg())
    for got, want in ((g.params, want_g), (d.params, want_d)):
        err = jax.tree_util.tree_map(lambda a, b: float(np.max(np.abs(np.asarray(a) - b))), got, want)
        assert max(jax.tree_util.tree_leaves(err)) < 1e-5
    assert g.info["config"]["source_format"] == fmt and g.info["config"]["source"] == "ckpt.pt"
