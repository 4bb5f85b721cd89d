"""Progressive GAN port: parity with a GAN-zoo-layout torch reference, converter, builders."""

from __future__ import annotations

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent.models.pgan import PRESETS, build_discriminator, build_generator
from jaxlatent.models.pgan import make_discriminator, make_generator
from jaxlatent.models.pgan import convert
from jaxlatent.models.pgan.layers import avg_pool2d, minibatch_stddev, pixel_norm
from jaxlatent.params import save_params

torch = pytest.importorskip("torch")
from tests.torch_refs_gan import pgan as ref  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
ATOL = 3e-5  # stated max-abs tolerance, float32, matmul precision "highest"


def _cfg(alpha=0.0, classes=0, scales=(16, 8)):
    return dict(dim_latent=12 + classes, category_dim=classes, depth_scale0=16,
                depth_other_scales=list(scales), dim_output=3, alpha=alpha, leak=0.2,
                equalized=True, mini_batch_std=True, tanh=False, size_decision_layer=1 + classes)


def _torch_pair(cfg, seed):
    torch.manual_seed(seed)
    g, d = ref.build(cfg["dim_latent"], cfg["depth_scale0"], cfg["depth_other_scales"],
                     cfg["mini_batch_std"], cfg["size_decision_layer"], cfg["dim_output"],
                     cfg["alpha"])
    with torch.no_grad():
        for name, t in list(g.state_dict().items()) + list(d.state_dict().items()):
            if name.endswith("bias"):
                t.normal_(0, 0.3)  # the zoo initialises biases to 0; make them count
    return g.eval(), d.eval()


def _state(m):
    return {k: v.numpy().copy() for k, v in m.state_dict().items()}


def _nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def _run(module, variables, x):
    fn = jax.jit(lambda v, x: module.apply(v, x, capture_intermediates=True,
                                           mutable=["intermediates"]))
    out, inter = fn(variables, x)
    return np.asarray(out), inter["intermediates"]


@pytest.mark.parity
@pytest.mark.parametrize("alpha,classes,batch", [(0.0, 0, 8), (0.3, 3, 6), (0.0, 0, 1)])
def test_generator_and_discriminator_parity(alpha, classes, batch):
    cfg = _cfg(alpha, classes)
    tg, td = _torch_pair(cfg, seed=batch)
    z = np.random.default_rng(batch).standard_normal((batch, cfg["dim_latent"]), np.float32)
    g_taps, d_taps = [], []
    with torch.no_grad():
        x_t = tg(torch.from_numpy(z), g_taps)
        s_t = td(x_t, d_taps)
    g_vars = convert.convert_generator(_state(tg), cfg)
    x, inter = _run(make_generator(cfg), g_vars, z)
    for s, tap in enumerate(g_taps):  # per scale: pixel_norm(lrelu(last conv))
        got = pixel_norm(jax.nn.leaky_relu(inter[f"scaleLayers_{s}_1"]["__call__"][0], 0.2))
        np.testing.assert_allclose(got, _nhwc(tap), atol=ATOL, err_msg=f"G scale {s}")
    np.testing.assert_allclose(x, _nhwc(x_t), atol=ATOL)
    assert float(np.std(x)) > 0.1
    d_vars = convert.convert_discriminator(_state(td), cfg)
    scores, inter = _run(make_discriminator(cfg), d_vars, _nhwc(x_t))
    n = len(cfg["depth_other_scales"])
    for k, tap in enumerate(d_taps):  # per scale, high to low: avgpool(lrelu(last conv))
        if alpha > 0 and k == 0:
            continue  # the reference taps after the alpha merge
        got = avg_pool2d(jax.nn.leaky_relu(inter[f"scaleLayers_{n - 1 - k}_1"]["__call__"][0],
                                           0.2))
        np.testing.assert_allclose(got, _nhwc(tap), atol=ATOL, err_msg=f"D scale {n - 1 - k}")
    chex.assert_shape(scores, (batch, 1 + classes))
    np.testing.assert_allclose(scores, s_t.numpy(), atol=ATOL, rtol=1e-5)


@pytest.mark.parametrize("n", [8, 6, 4, 3, 1])
def test_minibatch_stddev_matches_reference(n):
    x = np.random.default_rng(n).standard_normal((n, 4, 4, 5)).astype(np.float32)
    want = ref.minibatch_stddev(torch.from_numpy(x.transpose(0, 3, 1, 2)))
    got = minibatch_stddev(jnp.asarray(x))
    np.testing.assert_allclose(got, _nhwc(want), atol=1e-6)
    if n == 8:  # contiguous groups: samples 0-3 share a value, 4-7 another
        assert float(got[0, 0, 0, -1]) == float(got[3, 0, 0, -1]) != float(got[4, 0, 0, -1])


def _fixture(name):
    with open(os.path.join(FIXTURES, f"pgan_{name}_keys.json")) as f:
        return {k: tuple(v) for k, v in json.load(f).items()}


def test_official_key_sets():
    cfg = PRESETS["pgan-celebahq-256"]
    assert convert.expected_keys_g(cfg) == _fixture("celebahq_256_netG")
    assert convert.expected_keys_d(cfg) == _fixture("celebahq_256_netD")


def test_config_from_zoo():
    zoo = dict(latentVectorDim=512 + 4, categoryVectorDim=4, depthScale0=512,
               depthOtherScales=[512, 256], dimOutput=3, alpha=0, leakyReluLeak=0.2,
               equalizedlR=True, miniBatchStdDev=True, lossCriterion="DCGAN")
    cfg = convert.config_from_zoo(zoo)
    assert cfg["size_decision_layer"] == 5 and cfg["tanh"] and cfg["category_dim"] == 4


def test_wrong_keys_are_named():
    cfg = _cfg()
    tg, td = _torch_pair(cfg, 0)
    state = _state(tg)
    del state["scaleLayers.1.0.module.bias"]
    with pytest.raises(ValueError, match=r"missing keys \(1\): scaleLayers.1.0.module.bias"):
        convert.convert_generator(state, cfg)
    state = _state(td)
    state["decisionLayer.module.weight"] = np.zeros((2, 16), np.float32)
    with pytest.raises(ValueError, match="shape mismatch at decisionLayer.module.weight"):
        convert.convert_discriminator(state, cfg)


def test_builders_from_file_and_random(tmp_path, key):
    cfg = _cfg(classes=3)
    tg, td = _torch_pair(cfg, 1)
    save_params(str(tmp_path / "g.npz"), convert.convert_generator(_state(tg), cfg),
                config=cfg, net_kind="generator")
    save_params(str(tmp_path / "d.npz"), convert.convert_discriminator(_state(td), cfg),
                config=cfg, net_kind="discriminator")
    g = build_generator(str(tmp_path / "g.npz"))
    d = build_discriminator(str(tmp_path / "d.npz"))
    assert g.info["resolution"] == 16 and g.info["noise_dim"] == 12
    z = jax.random.normal(key, (4, cfg["dim_latent"]))
    scores = jax.jit(d.apply_fn)(d.params, jax.jit(g.apply_fn)(g.params, z))
    chex.assert_shape(scores, (4, 4))
    with pytest.raises(ValueError, match="holds a PGAN generator"):
        build_discriminator(str(tmp_path / "g.npz"))
    with pytest.raises(ValueError, match="weights_convert/pgan.py"):
        build_generator()
    tiny = build_generator(key=key, preset="pgan-tiny-cond")
    x = jax.jit(tiny.apply_fn)(tiny.params, jnp.zeros((2, 35)))
    chex.assert_shape(x, (2, 16, 16, 3))
    chex.assert_tree_all_finite(x)
