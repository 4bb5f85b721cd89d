"""FID Inception port: key layout, converter, parity with an independent torch model, metrics."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent import params as params_lib
from jaxlatent.metrics import fid as fid_lib
from jaxlatent.models import inception

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "inception_fid_keys.json")
# Max-abs tolerances, measured on CPU under "highest" precision (see docs/metrics_nets.md).
ATOL_BLOCK = 1e-5  # per block activations (values O(1)); measured <= 1e-6
ATOL_POOL3 = 1e-5
ATOL_LOGITS = 1e-5
SIZE = 139  # Mixed_7b/7c then run at 3x3, so their pool branches (avg vs max) matter


def _fixture():
    with open(FIXTURE) as f:
        return {k: tuple(v) for k, v in json.load(f).items()}


def test_expected_keys_match_fixture():
    assert inception.expected_state_shapes() == _fixture()


def test_builder_without_path_or_key_names_converter():
    with pytest.raises(ValueError, match="weights_convert/inception.py"):
        inception.build()


def test_convert_rejects_wrong_key_and_shape():
    state = {k: np.zeros(s, np.float32) for k, s in _fixture().items()}
    state["Mixed_5b.branch1x1.conv.weights"] = state.pop("Mixed_5b.branch1x1.conv.weight")
    state["fc.bias"] = np.zeros(1000, np.float32)
    with pytest.raises(ValueError) as err:
        inception.convert(state)
    msg = str(err.value)
    assert "missing keys (1): Mixed_5b.branch1x1.conv.weight" in msg
    assert "unexpected keys (1): Mixed_5b.branch1x1.conv.weights" in msg
    assert "shape mismatch at fc.bias: expected (1008,), got (1000,)" in msg


def test_preprocess_matches_pytorch_fid_resize():
    torch = pytest.importorskip("torch")
    from tests.torch_refs_b import inception_ref

    images = np.random.default_rng(0).uniform(size=(2, 3, 40, 53)).astype(np.float32)
    want = inception_ref.preprocess(torch.from_numpy(images), size=299).numpy()
    got = inception.preprocess(jnp.asarray(images.transpose(0, 2, 3, 1)), 299)
    np.testing.assert_allclose(np.asarray(got).transpose(0, 3, 1, 2), want, atol=1e-5)
    big = np.random.default_rng(1).uniform(size=(1, 3, 512, 400)).astype(np.float32)
    want = inception_ref.preprocess(torch.from_numpy(big), size=299).numpy()
    got = inception.preprocess(jnp.asarray(big.transpose(0, 2, 3, 1)), 299)
    np.testing.assert_allclose(np.asarray(got).transpose(0, 3, 1, 2), want, atol=1e-5)


@pytest.mark.parity
def test_parity_with_torch_reference(tmp_path):
    torch = pytest.importorskip("torch")
    from tests.torch_refs_b import inception_ref

    model_t = inception_ref.random_model(seed=0)
    state = {k: v.numpy() for k, v in model_t.state_dict().items()}
    path = str(tmp_path / "inception.npz")
    params_lib.save_params(path, inception.convert(state))
    model = inception.build(path)

    images = np.random.default_rng(0).uniform(size=(2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        x = inception_ref.preprocess(torch.from_numpy(images), size=SIZE)
        want = {k: v.numpy() for k, v in model_t(x).items()}

    @jax.jit
    def run(variables, images):
        # Whole pipeline: resize + [-1, 1] scaling inside apply_fn, per-block activations out.
        return model.apply_fn(variables, images, size=SIZE, capture_intermediates=True,
                              mutable=["intermediates"])

    with jax.default_matmul_precision("highest"):
        out, state_j = run(model.params, jnp.asarray(images.transpose(0, 2, 3, 1)))
    inter = state_j["intermediates"]
    errors = {}
    for name in [k for k in want if k not in ("pool3", "logits")]:
        got = np.asarray(inter[name]["__call__"][0]).transpose(0, 3, 1, 2)
        errors[name] = float(np.max(np.abs(got - want[name])))
        np.testing.assert_allclose(got, want[name], atol=ATOL_BLOCK, rtol=0, err_msg=name)
    for name in ("pool3", "logits"):
        errors[name] = float(np.max(np.abs(np.asarray(out[name]) - want[name])))
    print("inception max-abs errors:", {k: f"{v:.1e}" for k, v in errors.items()})
    chex.assert_shape(out["pool3"], (2, 2048))
    np.testing.assert_allclose(out["pool3"], want["pool3"], atol=ATOL_POOL3, rtol=0)
    np.testing.assert_allclose(out["logits"], want["logits"], atol=ATOL_LOGITS, rtol=0)
    bias = state["fc.bias"]
    np.testing.assert_allclose(out["logits_unbiased"], want["logits"] - bias, atol=ATOL_LOGITS)
    # The comparison is meaningful only if activations are not degenerate.
    assert np.std(want["pool3"]) > 1e-2


# ----------------------------------------------------------------------------------------------
# Metrics against independent NumPy/SciPy formulations.


def _relu_features(seed, n, d, shift=0.0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return np.maximum(rng.normal(size=(n, d)) @ mix + shift, 0).astype(np.float32)


@pytest.mark.parametrize("n", [300, 40])  # full rank, and rank-deficient (N < D)
def test_fid_matches_scipy_sqrtm(n):
    scipy_linalg = pytest.importorskip("scipy.linalg")
    f1, f2 = _relu_features(0, n, 64), _relu_features(1, n, 64, shift=0.3)
    x1, x2 = f1.astype(np.float64), f2.astype(np.float64)
    mu1, mu2 = x1.mean(0), x2.mean(0)
    s1, s2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
    covmean = np.real(scipy_linalg.sqrtm(s1 @ s2))
    want = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    got = fid_lib.fid_from_features(f1, f2)
    np.testing.assert_allclose(got, want, rtol=1e-7 if n > 64 else 1e-5)
    assert got > 0.1


def test_fid_unit_gaussians():
    # pytorch-fid's own test: mu1 = 0, mu2 = 1, sigma = I gives FID = D.
    d = 128
    stats1 = fid_lib.Statistics(np.zeros(d), np.eye(d))
    stats2 = fid_lib.Statistics(np.ones(d), np.eye(d))
    assert fid_lib.frechet_distance(stats1, stats2) == pytest.approx(d, abs=1e-9)
    assert fid_lib.frechet_distance(stats1, stats1) == pytest.approx(0.0, abs=1e-9)


def test_kid_matches_loop_reference():
    f1, f2 = _relu_features(2, 120, 32), _relu_features(3, 90, 32, shift=0.2)
    mean, std = fid_lib.kid_from_features(f1, f2, num_subsets=7, subset_size=50, seed=5)
    rng = np.random.RandomState(5)
    x_all, y_all = f1.astype(np.float64), f2.astype(np.float64)
    vals = []
    for _ in range(7):
        x = x_all[rng.choice(120, 50, replace=False)]
        y = y_all[rng.choice(90, 50, replace=False)]
        k = lambda a, b: (np.dot(a, b) / 32 + 1) ** 3  # noqa: E731
        kxx = sum(k(x[i], x[j]) for i in range(50) for j in range(50) if i != j)
        kyy = sum(k(y[i], y[j]) for i in range(50) for j in range(50) if i != j)
        kxy = sum(k(x[i], y[j]) for i in range(50) for j in range(50))
        vals.append((kxx + kyy) / (50 * 49) - 2 * kxy / 2500)
    np.testing.assert_allclose([mean, std], [np.mean(vals), np.std(vals)], rtol=1e-9)
    assert mean > 1e-2  # the shifted sets differ clearly


def test_inception_score_matches_reference():
    logits = np.random.default_rng(4).normal(scale=3.0, size=(103, 1008))
    mean, std = fid_lib.inception_score(logits.astype(np.float32), splits=10)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    scores = []
    for i in range(10):  # OpenAI improved-gan inception_score, splits in order
        part = probs[(i * 103 // 10):((i + 1) * 103 // 10)]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        scores.append(np.exp(np.mean(np.sum(kl, 1))))
    np.testing.assert_allclose([mean, std], [np.mean(scores), np.std(scores)], rtol=1e-6)
    uniform, _ = fid_lib.inception_score(np.zeros((20, 1008)), splits=2)
    assert uniform == pytest.approx(1.0)


def test_extract_features_keeps_last_partial_batch():
    calls = []

    def apply_fn(params, x):
        calls.append(x.shape[0])
        return {"pool3": x.reshape(x.shape[0], -1) * params, "logits_unbiased": x[:, 0, 0]}

    images = np.random.default_rng(0).uniform(size=(7, 2, 2, 3)).astype(np.float32)
    out = fid_lib.extract_features(apply_fn, 2.0, images, batch_size=3)
    np.testing.assert_allclose(out["pool3"], images.reshape(7, -1) * 2.0)
    chex.assert_shape(out["logits_unbiased"], (7, 3))
    assert sorted(set(calls), reverse=True) == [3, 1]  # two full batches, then the last one
