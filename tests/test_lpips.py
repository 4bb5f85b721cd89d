"""LPIPS v0.1 (alex, vgg): parity with an independent torch LPIPS, real heads, converter CLI."""

import importlib.util
import json
import os

import jax
import numpy as np
import pytest
import torch
from torch_refs import lpips_ref

from jaxlatent import params as P
from jaxlatent.metrics import lpips as lpips_metric
from jaxlatent.models import lpips, registry
from jaxlatent.models import torchvision_convert as tc

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
HEADS_DIR = os.path.join(importlib.util.find_spec("lpips").submodule_search_locations[0],
                         "weights", "v0.1")
# Per-layer sums of the official v0.1 heads (reference study, metrics.md section 4.2).
HEAD_SUMS = {"alex": [2.34953, 16.143, 39.2684, 27.1972, 20.3172],
             "vgg": [6.92599, 8.85833, 17.515, 51.5213, 47.0349]}
ATOL = 1e-5  # distances are O(0.1-1); float32 with matmul precision "highest"


def _np(state):
    return {k: v.detach().numpy() for k, v in state.items()}


def _ref(net, width, seed):
    torch.manual_seed(seed)
    ref = lpips_ref.LPIPS(net, width).eval()
    with torch.no_grad():
        for lin in ref.lins:  # official heads are non-negative
            lin.model[1].weight.abs_()
    return ref


def _images(n, size, seed):
    x = np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)).astype(np.float32)
    return x, torch.from_numpy(x.transpose(0, 3, 1, 2))


@pytest.mark.parity
@pytest.mark.parametrize("net,size,width", [("alex", 64, 1 / 8), ("vgg", 32, 1 / 16)])
def test_lpips_per_layer_parity(net, size, width):
    ref = _ref(net, width, seed=0)
    params = tc.convert_lpips(_np(ref.backbone.state_dict()), _np(ref.head_state_dict()), net,
                              width)
    x0, t0 = _images(3, size, 1)
    x1, t1 = _images(3, size, 2)
    with torch.no_grad():
        want_taps = ref.taps(t0)
        want, want_layers = ref(t0, t1)
    got_taps = jax.jit(lpips.taps_fn(net, width))(params, x0)
    for i, (g, w) in enumerate(zip(got_taps, want_taps)):
        w = w.numpy().transpose(0, 2, 3, 1)
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-4, atol=1e-4 * np.abs(w).max(),
                                   err_msg=f"tap {i}")
    module = lpips.LPIPS(net, width)
    dist, layers = jax.jit(lambda p, a, b: module.apply({"params": p}, a, b))(params, x0, x1)
    for i, (g, w) in enumerate(zip(layers, want_layers)):
        np.testing.assert_allclose(np.asarray(g), w.numpy().ravel(), atol=ATOL, err_msg=f"l{i}")
    np.testing.assert_allclose(np.asarray(dist), want.numpy().ravel(), atol=ATOL)


def test_real_v01_heads_convert_with_cli_and_match_torch(tmp_path):
    from weights_convert import lpips as cli

    torch.manual_seed(1)
    ref = lpips_ref.LPIPS("alex").eval()  # full-size AlexNet backbone, random weights
    heads = torch.load(os.path.join(HEADS_DIR, "alex.pth"), map_location="cpu",
                       weights_only=True)
    ref.lins.load_state_dict({k.replace("lin", "", 1): v for k, v in heads.items()})
    backbone = str(tmp_path / "alexnet-features.pth")
    torch.save({k: v for k, v in ref.backbone.state_dict().items()
                if k.startswith("features.")}, backbone)
    out = str(tmp_path / "lpips_alex.npz")
    cli.main(["--net", "alex", "--backbone", backbone, "--output", out])
    model = registry.load_model("lpips_alex", out)
    assert model.info["meta"]["version"] == "0.1"
    sums = [float(model.params[f"lin{i}"]["model_1"]["kernel"].sum()) for i in range(5)]
    np.testing.assert_allclose(sums, HEAD_SUMS["alex"], rtol=1e-5)
    x0, t0 = _images(2, 64, 3)
    x1, t1 = _images(2, 64, 4)
    with torch.no_grad():
        want = ref(t0, t1)[0].numpy().ravel()
    fn = jax.jit(lambda a, b, r: lpips_metric.lpips(model, a, b, input_range=r),
                 static_argnums=2)
    np.testing.assert_allclose(np.asarray(fn(x0, x1, "[-1,1]")), want, atol=ATOL)
    u0, u1 = (x0 + 1) / 2, (x1 + 1) / 2  # the [0,1] path maps back to [-1,1]
    np.testing.assert_allclose(np.asarray(fn(u0, u1, "[0,1]")), want, atol=ATOL)


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_key_sets_and_real_heads(net):
    with open(os.path.join(FIXTURES, f"lpips_{net}_keys.json")) as f:
        fixture = json.load(f)
    assert {k: tuple(v) for k, v in fixture["heads"].items()} == tc.lpips_head_shapes(net)
    full = tc.alexnet_state_shapes() if net == "alex" else tc.vgg_state_shapes("vgg16")
    assert {k: tuple(v) for k, v in fixture["backbone"].items()} == {
        k: v for k, v in full.items() if k.startswith("features.")}
    heads = _np(torch.load(os.path.join(HEADS_DIR, f"{net}.pth"), map_location="cpu",
                           weights_only=True))
    backbone = {k: np.zeros(s, np.float32) for k, s in fixture["backbone"].items()}
    params = tc.convert_lpips(backbone, heads, net)
    kernels = [params[f"lin{i}"]["model_1"]["kernel"] for i in range(5)]
    assert all(k.min() >= 0 for k in kernels)
    np.testing.assert_allclose([k.sum() for k in kernels], HEAD_SUMS[net], rtol=1e-5)
    del heads["lin4.model.1.weight"]
    heads["lin0.model.1.weight"] = heads["lin0.model.1.weight"][:, :8]
    with pytest.raises(ValueError) as err:
        tc.convert_lpips(backbone, heads, net)
    assert "missing keys (1): lin4.model.1.weight" in str(err.value)
    assert "shape mismatch at lin0.model.1.weight" in str(err.value)


def test_diversity_pairs_and_builder_contract():
    model = lpips.build_alex(key=jax.random.key(0), width=1 / 8)
    x, _ = _images(4, 64, 5)
    pairs = lpips_metric.all_pairs(4)
    assert pairs.tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    div = lpips_metric.lpips_diversity(model, x, pairs, batch=4)
    fn = jax.jit(lambda a, b: lpips_metric.lpips(model, a, b))
    d = np.asarray(fn(x[pairs[:, 0]], x[pairs[:, 1]]))
    assert div["n_pairs"] == 6 and np.isclose(div["mean"], d.mean(), atol=1e-6)
    assert d.min() > 0
    np.testing.assert_allclose(fn(x[pairs[:, 0]], x[pairs[:, 0]]), 0.0, atol=1e-6)
    rp = np.asarray(lpips_metric.random_pairs(jax.random.key(1), 4, 50))
    assert (rp[:, 0] != rp[:, 1]).all() and rp.min() >= 0 and rp.max() < 4
    with pytest.raises(ValueError, match="weights_convert/lpips.py --net vgg"):
        lpips.build_vgg()
    path_err = pytest.raises(ValueError, match="lin0/model_1/kernel")
    with path_err:
        P.check_params(model.params, {**model.params, "lin0": {}}, "lpips")
