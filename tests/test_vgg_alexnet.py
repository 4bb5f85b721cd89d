"""VGG16 / VGG19 / AlexNet: per-layer parity with independent torch references, key sets, builders.

Parity runs small configs (channels x1/16 or x1/8, 64-unit classifier) at random init, with the
official key layout, converted by jaxlatent's converter; the full-size key sets come from the
fixtures. Tolerance: |err| <= 1e-5 * max(1, max|tap|) + 1e-4 * |ref| per element (see
`_close`); measured max-abs errors are <= 2e-6.
"""

import json
import os

import jax
import numpy as np
import pytest
import torch
from torch_refs import tv_alexnet, tv_vgg

from jaxlatent import params as P
from jaxlatent.models import alexnet, registry, vgg
from jaxlatent.models import torchvision_convert as tc

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
SMALL_VGG = dict(width=1 / 16, hidden=64, num_classes=10)
SMALL_ALEX = dict(width=1 / 8, hidden=64, num_classes=10)
RTOL, ATOL = 1e-4, 1e-5  # float32, matmul precision "highest" (tests/conftest.py)


def _state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def _close(got, want, name):
    """max |got - want| <= ATOL * max(1, max |want|) + RTOL * |want| elementwise."""
    want = want.numpy()
    if want.ndim == 4:
        want = want.transpose(0, 2, 3, 1)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(np.asarray(got), want, rtol=RTOL, atol=ATOL * scale, err_msg=name)
    return float(np.abs(np.asarray(got) - want).max())


def _torch_input(n, size, seed):
    x = np.random.default_rng(seed).normal(size=(n, size, size, 3)).astype(np.float32)
    return x, torch.from_numpy(x.transpose(0, 3, 1, 2))


@pytest.mark.parity
@pytest.mark.parametrize("arch,size", [("vgg16", 32), ("vgg19", 64)])
def test_vgg_per_layer_parity(arch, size):
    torch.manual_seed(0)
    ref = tv_vgg.VGG(arch, **SMALL_VGG).eval()
    params = tc.convert_vgg(_state(ref), arch, **SMALL_VGG)
    _, apply_fn = vgg.make_apply(arch, **SMALL_VGG)
    x, xt = _torch_input(2, size, seed=1)
    with torch.no_grad():
        want = tv_vgg.taps(ref, xt)
        want["texture"] = tv_vgg.texture(ref, xt)
    got = jax.jit(lambda p, x: apply_fn(p, x, outputs=tuple(want)))(params, x)
    assert set(got) == set(want)
    for k in want:
        _close(got[k], want[k], k)


@pytest.mark.parity
@pytest.mark.parametrize("size", [64, 256])  # 1x1 -> 6x6 and 7x7 -> 6x6 adaptive pooling
def test_alexnet_per_layer_parity(size):
    torch.manual_seed(0)
    ref = tv_alexnet.AlexNet(**SMALL_ALEX).eval()
    params = tc.convert_alexnet(_state(ref), **SMALL_ALEX)
    _, apply_fn = alexnet.make_apply(**SMALL_ALEX)
    x, xt = _torch_input(2, size, seed=2)
    with torch.no_grad():
        want = tv_alexnet.taps(ref, xt)
    got = jax.jit(lambda p, x: apply_fn(p, x, outputs=tuple(want)))(params, x)
    for k in want:
        _close(got[k], want[k], k)


@pytest.mark.parity
def test_vgg16_fc2_input_gradient_parity():
    torch.manual_seed(3)
    ref = tv_vgg.VGG("vgg16", **SMALL_VGG).eval()
    params = tc.convert_vgg(_state(ref), "vgg16", **SMALL_VGG)
    _, apply_fn = vgg.make_apply("vgg16", **SMALL_VGG)
    x, xt = _torch_input(2, 32, seed=4)
    xt.requires_grad_(True)
    (tv_vgg.taps(ref, xt)["fc2"] ** 2).sum().backward()
    grad = jax.jit(jax.grad(lambda x: (apply_fn(params, x)["fc2"] ** 2).sum()))(x)
    want = xt.grad.numpy().transpose(0, 2, 3, 1)
    # Random-init activations shrink with depth (|grad| ~ 1e-8 here): compare relative to scale.
    np.testing.assert_allclose(np.asarray(grad), want, rtol=1e-3, atol=1e-4 * np.abs(want).max())


def _fixture(name):
    with open(os.path.join(FIXTURES, f"{name}_keys.json")) as f:
        return {k: tuple(v) for k, v in json.load(f).items()}


@pytest.mark.parametrize("arch", ["vgg16", "vgg19", "alexnet"])
def test_full_size_key_set_and_conversion(arch):
    want = _fixture(arch)
    shapes = tc.alexnet_state_shapes() if arch == "alexnet" else tc.vgg_state_shapes(arch)
    assert shapes == want
    state = {k: np.zeros(s, np.float32) for k, s in want.items()}  # lazily zero pages
    params = tc.convert_alexnet(state) if arch == "alexnet" else tc.convert_vgg(state, arch)
    module = alexnet.make_apply()[0] if arch == "alexnet" else vgg.make_apply(arch)[0]
    x = np.zeros((1, 224, 224, 3), np.float32)
    model_shapes = vgg.expected_shapes(lambda k: module.init(k, x)["params"])
    P.check_params(model_shapes, params, f"converted full-size {arch}")
    params["features_0"]["bias"] = params["features_0"]["bias"][:3]  # and the check can fail
    with pytest.raises(ValueError, match="features_0/bias"):
        P.check_params(model_shapes, params, f"converted full-size {arch}")


def test_fc1_rows_follow_torch_flatten_order():
    # Torch flattens [C, H, W]; the port flattens [H, W, C]. Row (h, w, c) of the Flax kernel must
    # be torch column c*H*W + h*W + w.
    c, side = 3, 2
    w = np.arange(5 * c * side * side, dtype=np.float32).reshape(5, c * side * side)
    k = tc.linear_after_flatten(w, np.zeros(5, np.float32), c)["kernel"]
    for h in range(side):
        for ww in range(side):
            for ch in range(c):
                np.testing.assert_array_equal(k[(h * side + ww) * c + ch],
                                              w[:, ch * side * side + h * side + ww])


def test_wrong_state_dict_names_the_keys():
    state = {k: np.zeros(s, np.float32)
             for k, s in tc.vgg_state_shapes("vgg16", **SMALL_VGG).items()}
    del state["features.28.bias"]
    state["features.0.weight"] = np.zeros((4, 3, 5, 5), np.float32)
    state["features.1.weight"] = np.zeros((1,), np.float32)
    with pytest.raises(ValueError) as err:
        tc.convert_vgg(state, "vgg16", **SMALL_VGG)
    msg = str(err.value)
    assert "missing keys (1): features.28.bias" in msg
    assert "unexpected keys (1): features.1.weight" in msg
    assert "shape mismatch at features.0.weight: expected (4, 3, 3, 3), got (4, 3, 5, 5)" in msg


def test_builder_loads_npz_and_rejects_bad_files(tmp_path):
    torch.manual_seed(5)
    ref = tv_alexnet.AlexNet(**SMALL_ALEX).eval()
    params = tc.convert_alexnet(_state(ref), **SMALL_ALEX)
    path = str(tmp_path / "alex.npz")
    P.save_params(path, params, arch="alexnet")
    model = registry.load_model("alexnet", path, image_size=64, **SMALL_ALEX)
    assert model.info["meta"] == {"arch": "alexnet"}
    chex_equal = jax.tree.map(np.array_equal, model.params, params)
    assert all(jax.tree.leaves(chex_equal))
    with pytest.raises(ValueError, match="features_0/kernel"):
        registry.load_model("alexnet", path, width=1 / 4, hidden=64, num_classes=10)
    x = np.zeros((1, 64, 64, 3), np.float32)
    with pytest.raises(KeyError, match="unknown outputs .'fc9'.; known: conv1, relu1"):
        jax.eval_shape(lambda p, x: model.apply_fn(p, x, ("fc2", "fc9")), params, x)
    with pytest.raises(ValueError, match="weights_convert/alexnet.py"):
        alexnet.build()
    with pytest.raises(ValueError, match="weights_convert/vgg.py --arch vgg19"):
        vgg.build_vgg19()
