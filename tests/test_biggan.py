"""BigGAN ports: parity with torch references at random weights, converters, builders, key sets."""

from __future__ import annotations

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent.models.biggan import build, convert_biggan_pytorch, convert_hf, embed_classes
from jaxlatent.models.biggan import make_module, presets
from jaxlatent.models.biggan.generator import g_arch
from jaxlatent.params import save_params

torch = pytest.importorskip("torch")

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")

# Small configs: same code paths as the full models (hier z, attention, every layer kind).
PT_CFG = dict(arch="biggan", resolution=64, G_ch=8, dim_z=40, shared_dim=16, attention="32",
              hier=True, n_classes=10, bn_eps=1e-5)
DEEP_CFG = dict(arch="biggan_deep", output_dim=16, z_dim=16, class_embed_dim=16, channel_width=2,
                num_classes=10,
                layers=[[False, 16, 8], [True, 8, 4], [False, 4, 4], [False, 4, 2], [True, 2, 1]],
                attention_layer_position=2, eps=1e-4, n_stats=51)
BLOCK_ATOL = 2e-5  # stated tolerances (max-abs), float32, matmul precision "highest"
OUT_ATOL = 2e-5


def _randomise(model, seed: int) -> None:
    """Random weights, non-trivial BN statistics, SN vectors from one power step, gamma != 0."""
    g = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    with torch.no_grad():
        for name, t in state.items():
            r = torch.randn(t.shape, generator=g)
            if name.endswith(("stored_var", "running_vars")):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith(("stored_mean", "running_means", "bias")) and t.ndim <= 2:
                t.copy_(0.2 * r)
            elif name.endswith("gamma"):
                t.fill_(0.7)
            elif name.endswith("output_layer.0.gain") or name == "generator.bn.weight":
                t.copy_(1 + 0.2 * r)
            elif name.endswith("sv0"):
                t.fill_(123.0)  # a training-time log; must not be used at eval
            else:
                t.copy_(r)
        for name, t in state.items():  # torch spectral_norm: u, v after one power iteration
            if name.endswith("weight_u"):
                w = state[name[: -len("u")] + "orig"].reshape(t.shape[0], -1)
                v = torch.nn.functional.normalize(w.t() @ t, dim=0)
                state[name[: -len("u")] + "v"].copy_(v)
                t.copy_(torch.nn.functional.normalize(w @ v, dim=0))
    model.eval()


def _np_state(model) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def _nhwc(t) -> np.ndarray:
    return t.detach().numpy().transpose(0, 2, 3, 1)


def _inter(inter, *path) -> np.ndarray:
    node = inter["intermediates"]
    for p in path:
        node = node[p]
    return np.asarray(node["__call__"][0])


def _jit_apply(module, *static):
    """Jitted apply returning ``(output, intermediates)`` of every submodule."""
    def fn(variables, z, y):
        return module.apply(variables, z, y, *static, capture_intermediates=True,
                            mutable=["intermediates"])
    return jax.jit(fn)


@pytest.fixture(scope="module")
def pt_pair():
    from tests.torch_refs_gan.biggan_pytorch import Generator as TorchG

    tg = TorchG(**{k: PT_CFG[k] for k in ("resolution", "G_ch", "dim_z", "shared_dim",
                                           "attention", "n_classes", "bn_eps")})
    _randomise(tg, 0)
    return tg, convert_biggan_pytorch.convert(_np_state(tg), PT_CFG)


@pytest.fixture(scope="module")
def deep_pair():
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    tg = BigGAN(BigGANConfig(**{k: v for k, v in DEEP_CFG.items() if k != "arch"}))
    _randomise(tg, 1)
    return tg, convert_hf.convert(_np_state(tg), DEEP_CFG)


@pytest.mark.parity
def test_biggan_pytorch_parity_per_block(pt_pair):
    tg, variables = pt_pair
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 40)).astype(np.float32)
    labels = np.array([1, 7, 3])
    taps = []
    with torch.no_grad():
        y_t = tg.shared(torch.from_numpy(labels))
        want = tg(torch.from_numpy(z), y_t, taps)
    y = embed_classes(variables, jnp.asarray(labels))
    np.testing.assert_allclose(y, y_t.numpy(), atol=0)
    out, inter = _jit_apply(make_module(PT_CFG))(variables, z, y)
    arch = g_arch(PT_CFG["G_ch"], PT_CFG["resolution"], PT_CFG["attention"])
    assert [a for _, _, a in arch] == [False, False, True, False]
    names = [f"blocks_{i}_{int(attn)}" for i, (_, _, attn) in enumerate(arch)]
    for tap, name in zip(taps, names, strict=True):
        np.testing.assert_allclose(_inter(inter, name), _nhwc(tap), atol=BLOCK_ATOL, err_msg=name)
    np.testing.assert_allclose(out, _nhwc(want), atol=OUT_ATOL)
    assert float(np.abs(_nhwc(want)).std()) > 0.05  # not a saturated/constant image


@pytest.mark.parity
def test_biggan_pytorch_output_bn_eps_with_tfhub_bn_eps():
    """``bn_eps=1e-4`` (TF-Hub layout) reaches the block CCBNs only: upstream ``BigGAN.py`` builds
    the output ``layers.bn`` without ``eps=``, so it keeps 1e-5. A small output-BN variance
    (~5e-5) makes the two epsilons differ visibly in the image."""
    from tests.torch_refs_gan.biggan_pytorch import Generator as TorchG

    cfg = {**PT_CFG, "bn_eps": 1e-4}
    tg = TorchG(**{k: cfg[k] for k in ("resolution", "G_ch", "dim_z", "shared_dim", "attention",
                                        "n_classes", "bn_eps")})
    _randomise(tg, 2)
    out_bn = tg.output_layer[0]
    with torch.no_grad():
        out_bn.stored_var.uniform_(2e-5, 8e-5, generator=torch.Generator().manual_seed(3))
        out_bn.gain.mul_(0.01)  # keeps the image out of tanh saturation
    variables = convert_biggan_pytorch.convert(_np_state(tg), cfg)
    z = np.random.default_rng(2).standard_normal((3, 40)).astype(np.float32)
    labels = np.array([0, 4, 9])
    with torch.no_grad():
        y_t = tg.shared(torch.from_numpy(labels))
        want = _nhwc(tg(torch.from_numpy(z), y_t))
        out_bn.eps = 1e-4  # what the port did before: the image this test must tell apart
        wrong = _nhwc(tg(torch.from_numpy(z), y_t))
    y = embed_classes(variables, jnp.asarray(labels))
    out, _ = _jit_apply(make_module(cfg))(variables, z, y)
    np.testing.assert_allclose(out, want, atol=OUT_ATOL)
    assert float(np.max(np.abs(wrong - want))) > 100 * OUT_ATOL
    assert float(np.abs(want).std()) > 0.05


@pytest.mark.parity
@pytest.mark.parametrize("truncation", [1.0, 0.43])
def test_biggan_deep_parity_per_block(deep_pair, truncation):
    tg, variables = deep_pair
    rng = np.random.default_rng(1)
    z = rng.standard_normal((2, 16)).astype(np.float32)
    onehot = np.eye(10, dtype=np.float32)[[2, 9]]
    taps = [None] * len(tg.generator.layers)
    hooks = [layer.register_forward_hook(lambda m, i, o, k=k: taps.__setitem__(k, o))
             for k, layer in enumerate(tg.generator.layers)]
    with torch.no_grad():
        want = tg(torch.from_numpy(z), torch.from_numpy(onehot), truncation)
    for h in hooks:
        h.remove()
    y = embed_classes(variables, jnp.asarray(onehot))
    out, inter = _jit_apply(make_module(DEEP_CFG), truncation)(variables, z, y)
    for k, tap in enumerate(taps):
        got = _inter(inter, "generator", f"layers_{k}")
        np.testing.assert_allclose(got, _nhwc(tap), atol=BLOCK_ATOL, err_msg=f"layers_{k}")
    np.testing.assert_allclose(out, _nhwc(want), atol=OUT_ATOL)
    assert float(np.abs(_nhwc(want)).std()) > 0.05


def test_truncation_stats_follow_reference_weights():
    from jaxlatent.models.biggan.deep import truncation_stats

    means = jnp.arange(51.0)[:, None]
    # truncation 0.43 -> 21.5 steps: the reference weights the lower index by the fraction 0.5;
    # 0.5 -> index 25 (fraction 0) is taken as is.
    m, _ = truncation_stats(means, means, 0.43)
    assert float(m[0]) == pytest.approx(21 * 0.5 + 22 * 0.5, abs=1e-6)
    m, _ = truncation_stats(means, means, 0.41)
    assert float(m[0]) == pytest.approx(20 * 0.5 + 21 * 0.5, abs=1e-4)
    m, _ = truncation_stats(means, means, 0.404)
    frac = 0.404 / 0.02 - 20
    assert float(m[0]) == pytest.approx(20 * frac + 21 * (1 - frac), abs=1e-4)


def test_build_from_converted_file(tmp_path, pt_pair):
    _, variables = pt_pair
    path = str(tmp_path / "g.npz")
    save_params(path, variables, config=PT_CFG)
    model = build(path)
    z = jax.random.normal(jax.random.key(0), (2, model.info["z_dim"]))
    y = model.info["embed"](jnp.array([0, 5]))
    x = jax.jit(model.apply_fn)(model.params, z, y)
    chex.assert_shape(x, (2, 64, 64, 3))
    chex.assert_tree_all_finite(x)
    np.testing.assert_array_equal(model.info["embedding_table"],
                                  variables["params"]["shared"]["embedding"])
    assert model.info["embedding_table"].shape == (10, 16)


def test_build_random_and_errors(key):
    model = build(key=key, preset="biggan-deep-128", channel_width=4, num_classes=10, z_dim=8,
                  class_embed_dim=8,
                  layers=[[True, 16, 8], [False, 8, 4], [False, 4, 2], [False, 2, 1]],
                  attention_layer_position=0)
    y = embed_classes(model.params, jnp.array([1]))
    x = jax.jit(model.apply_fn, static_argnames="truncation")(model.params, jnp.zeros((1, 8)), y,
                                                              truncation=0.5)
    chex.assert_shape(x, (1, 8, 8, 3))
    with pytest.raises(ValueError, match="weights_convert/biggan.py"):
        build()
    with pytest.raises(ValueError, match="truncation"):
        model.apply_fn(model.params, jnp.zeros((1, 8)), y, truncation=0.0)


def test_build_rejects_wrong_file(tmp_path, pt_pair):
    _, variables = pt_pair
    bad = jax.tree.map(np.asarray, variables)
    bad["params"]["blocks_0_0"]["conv1"]["kernel"] = np.zeros((3, 3, 1, 1), np.float32)
    path = str(tmp_path / "bad.npz")
    save_params(path, bad, config=PT_CFG)
    with pytest.raises(ValueError, match="blocks_0_0/conv1/kernel"):
        build(path)


def test_converters_name_wrong_keys(pt_pair, deep_pair):
    state = _np_state(pt_pair[0])
    del state["blocks.2.1.gamma"]
    with pytest.raises(ValueError, match=r"missing keys \(1\): blocks.2.1.gamma"):
        convert_biggan_pytorch.convert(state, PT_CFG)
    state = _np_state(deep_pair[0])
    state["generator.gen_z.bias"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="shape mismatch at generator.gen_z.bias"):
        convert_hf.convert(state, DEEP_CFG)
    state["generator.extra"] = np.zeros(1, np.float32)
    with pytest.raises(ValueError, match="unexpected keys.*generator.extra"):
        convert_hf.convert(state, DEEP_CFG)


def test_tfhub_layout_without_sv0_and_infer_config(pt_pair):
    state = {k: v for k, v in _np_state(pt_pair[0]).items() if not k.endswith(".sv0")}
    cfg = convert_biggan_pytorch.infer_config(state)
    assert {k: cfg[k] for k in cfg} == {k: PT_CFG[k] for k in cfg}
    got = convert_biggan_pytorch.convert(state, PT_CFG)
    chex.assert_trees_all_equal(got, pt_pair[1])


def _fixture(name: str) -> dict:
    with open(os.path.join(FIXTURES, f"{name}_keys.json")) as f:
        return {k: tuple(v) for k, v in json.load(f).items()}


@pytest.mark.parametrize("preset,fixture", [
    ("biggan-128", "biggan_pytorch_128"),
    ("biggan-deep-128", "biggan_hf_deep_128"),
    ("biggan-deep-256", "biggan_hf_deep_256"),
    ("biggan-deep-512", "biggan_hf_deep_512"),
])
def test_official_key_sets(preset, fixture):
    cfg = presets.get(preset)
    conv = convert_biggan_pytorch if cfg["arch"] == "biggan" else convert_hf
    assert conv.expected_keys(cfg) == _fixture(fixture)


@pytest.mark.parametrize("preset", sorted(presets.PRESETS))
def test_presets_build_expected_shapes(preset):
    """Every preset's Flax tree has one leaf per converted torch weight (shape-only, no compute)."""
    cfg = presets.get(preset)
    module = make_module(cfg)
    z_dim = module.z_size if cfg["arch"] == "biggan" else cfg["z_dim"]
    shapes = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, z_dim)),
                            jnp.zeros((1, 128)))
    conv = convert_biggan_pytorch if cfg["arch"] == "biggan" else convert_hf
    n_torch = len([k for k in conv.expected_keys(cfg)
                   if not k.endswith(("u0", "sv0", "weight_u", "weight_v"))])
    assert len(jax.tree.leaves(shapes)) == n_torch
