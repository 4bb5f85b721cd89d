"""FID Inception-v3 (the TF 2015-12-05 graph as ported by pytorch-fid), Flax linen, NHWC.

Returns the 2048-d pool3 features used by FID and KID and the 1008-way logits used by the
Inception Score. Module and parameter names mirror pytorch-fid's state dict
(``pt_inception-2015-12-05-6726825d.pth``, torchvision ``Inception3`` layout with
``num_classes=1008`` and no aux head): torch ``Mixed_5b.branch1x1.conv.weight`` is
``params/Mixed_5b/branch1x1/conv/kernel`` here and ``...bn.running_mean`` is
``batch_stats/Mixed_5b/branch1x1/bn/mean``.

Differences from torchvision's Inception-v3 that this port reproduces (pytorch-fid "Patch"):
average-pool branches ignore padding (``count_include_pad=False``) in Mixed_5b-d, 6b-e and 7b;
Mixed_7c's pool branch is a 3x3/1 max pool; BatchNorm eps is 1e-3.

Input pipeline (`preprocess`, as in pytorch-fid's ``InceptionV3(resize_input=True,
normalize_input=True)``): images in [0, 1] are resized to 299x299 with half-pixel bilinear
interpolation and no antialiasing (torch ``F.interpolate(mode='bilinear', align_corners=False)``,
equal to ``jax.image.resize(method='bilinear', antialias=False)``), then mapped to [-1, 1].

References:
  Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016.
  Heusel et al., "GANs Trained by a Two Time-Scale Update Rule ...", NeurIPS 2017 (FID).
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent import params as params_lib
from jaxlatent.models.registry import Model

INPUT_SIZE = 299
NUM_CLASSES = 1008
CONVERTER = "python weights_convert/inception.py --input pt_inception-2015-12-05-6726825d.pth --output inception_fid.npz"


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BatchNorm(eps=1e-3, running stats) -> ReLU; torch ``BasicConv2d``."""

    features: int
    kernel_size: int | Sequence[int]
    strides: int | Sequence[int] = 1
    padding: int | Sequence[int] = 0

    @nn.compact
    def __call__(self, x):
        ph, pw = _pair(self.padding)
        x = nn.Conv(self.features, _pair(self.kernel_size), _pair(self.strides),
                    padding=((ph, ph), (pw, pw)), use_bias=False, name="conv")(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
        return nn.relu(x)


def avg_pool_3x3_same(x):
    """3x3/1 average pool, padding 1, padded zeros excluded from the mean (TF semantics)."""
    return nn.avg_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def max_pool_3x3_same(x):
    """3x3/1 max pool with padding 1 (padding acts as -inf, as in torch)."""
    return nn.max_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)))


def max_pool_3x3_s2(x):
    """3x3/2 max pool, VALID (floor)."""
    return nn.max_pool(x, (3, 3), (2, 2), padding="VALID")


class FIDInceptionA(nn.Module):
    """Mixed_5b/c/d: 1x1, 5x5, double 3x3 and (padding-free) average-pool branches."""

    pool_features: int

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv2d(64, 1, name="branch1x1")(x)
        b5 = BasicConv2d(48, 1, name="branch5x5_1")(x)
        b5 = BasicConv2d(64, 5, padding=2, name="branch5x5_2")(b5)
        b3 = BasicConv2d(64, 1, name="branch3x3dbl_1")(x)
        b3 = BasicConv2d(96, 3, padding=1, name="branch3x3dbl_2")(b3)
        b3 = BasicConv2d(96, 3, padding=1, name="branch3x3dbl_3")(b3)
        bp = BasicConv2d(self.pool_features, 1, name="branch_pool")(avg_pool_3x3_same(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    """Mixed_6a: grid reduction 35 -> 17."""

    @nn.compact
    def __call__(self, x):
        b3 = BasicConv2d(384, 3, strides=2, name="branch3x3")(x)
        bd = BasicConv2d(64, 1, name="branch3x3dbl_1")(x)
        bd = BasicConv2d(96, 3, padding=1, name="branch3x3dbl_2")(bd)
        bd = BasicConv2d(96, 3, strides=2, name="branch3x3dbl_3")(bd)
        return jnp.concatenate([b3, bd, max_pool_3x3_s2(x)], axis=-1)


class FIDInceptionC(nn.Module):
    """Mixed_6b-e: factorised 7x7 branches and a (padding-free) average-pool branch."""

    channels_7x7: int

    @nn.compact
    def __call__(self, x):
        c7 = self.channels_7x7
        b1 = BasicConv2d(192, 1, name="branch1x1")(x)
        b7 = BasicConv2d(c7, 1, name="branch7x7_1")(x)
        b7 = BasicConv2d(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
        b7 = BasicConv2d(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
        bd = BasicConv2d(c7, 1, name="branch7x7dbl_1")(x)
        bd = BasicConv2d(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
        bd = BasicConv2d(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
        bd = BasicConv2d(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
        bd = BasicConv2d(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
        bp = BasicConv2d(192, 1, name="branch_pool")(avg_pool_3x3_same(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    """Mixed_7a: grid reduction 17 -> 8."""

    @nn.compact
    def __call__(self, x):
        b3 = BasicConv2d(192, 1, name="branch3x3_1")(x)
        b3 = BasicConv2d(320, 3, strides=2, name="branch3x3_2")(b3)
        b7 = BasicConv2d(192, 1, name="branch7x7x3_1")(x)
        b7 = BasicConv2d(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
        b7 = BasicConv2d(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
        b7 = BasicConv2d(192, 3, strides=2, name="branch7x7x3_4")(b7)
        return jnp.concatenate([b3, b7, max_pool_3x3_s2(x)], axis=-1)


class FIDInceptionE(nn.Module):
    """Mixed_7b (``pool='avg'``, FIDInceptionE_1) and Mixed_7c (``pool='max'``, FIDInceptionE_2)."""

    pool: str = "avg"

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv2d(320, 1, name="branch1x1")(x)
        b3 = BasicConv2d(384, 1, name="branch3x3_1")(x)
        b3 = jnp.concatenate([
            BasicConv2d(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
            BasicConv2d(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3)], axis=-1)
        bd = BasicConv2d(448, 1, name="branch3x3dbl_1")(x)
        bd = BasicConv2d(384, 3, padding=1, name="branch3x3dbl_2")(bd)
        bd = jnp.concatenate([
            BasicConv2d(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
            BasicConv2d(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd)], axis=-1)
        pooled = avg_pool_3x3_same(x) if self.pool == "avg" else max_pool_3x3_same(x)
        bp = BasicConv2d(192, 1, name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
    """The FID Inception network on already preprocessed NHWC inputs in [-1, 1].

    Returns ``{"pool3": [N, 2048], "logits": [N, 1008], "logits_unbiased": [N, 1008]}``;
    ``logits_unbiased`` omits the fc bias, as OpenAI's Inception Score code does.
    """

    @nn.compact
    def __call__(self, x):
        x = BasicConv2d(32, 3, strides=2, name="Conv2d_1a_3x3")(x)
        x = BasicConv2d(32, 3, name="Conv2d_2a_3x3")(x)
        x = BasicConv2d(64, 3, padding=1, name="Conv2d_2b_3x3")(x)
        x = max_pool_3x3_s2(x)
        x = BasicConv2d(80, 1, name="Conv2d_3b_1x1")(x)
        x = BasicConv2d(192, 3, name="Conv2d_4a_3x3")(x)
        x = max_pool_3x3_s2(x)
        for name, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
            x = FIDInceptionA(pool_features, name=name)(x)
        x = InceptionB(name="Mixed_6a")(x)
        for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160),
                         ("Mixed_6e", 192)):
            x = FIDInceptionC(c7, name=name)(x)
        x = InceptionD(name="Mixed_7a")(x)
        x = FIDInceptionE("avg", name="Mixed_7b")(x)
        x = FIDInceptionE("max", name="Mixed_7c")(x)
        pool3 = jnp.mean(x, axis=(1, 2))
        fc = nn.Dense(NUM_CLASSES, name="fc")
        logits = fc(pool3)
        unbiased = logits - fc.variables["params"]["bias"]
        return {"pool3": pool3, "logits": logits, "logits_unbiased": unbiased}


def preprocess(images: jax.Array, size: int = INPUT_SIZE) -> jax.Array:
    """pytorch-fid's input pipeline: bilinear (half-pixel, no antialias) resize, then 2x - 1.

    Args:
      images: float32 ``[N, H, W, 3]`` in [0, 1].
      size: output side (299 for the real network; tests use smaller sizes).

    Returns:
      float32 ``[N, size, size, 3]`` in [-1, 1].
    """
    n, _, _, c = images.shape
    images = jax.image.resize(images, (n, size, size, c), method="bilinear", antialias=False)
    return 2.0 * images - 1.0


def make_apply_fn(module: nn.Module = FIDInceptionV3()):
    """Returns ``apply_fn(params, images, *, resize=True, size=299, **apply_kwargs)``.

    ``images`` are float32 ``[N, H, W, 3]`` in [0, 1]; with ``resize=False`` they must already be
    in [-1, 1] at the size the caller wants (the network is fully convolutional up to pool3,
    and needs H, W >= 75). ``apply_kwargs`` go to ``Module.apply`` (e.g.
    ``capture_intermediates=True, mutable=["intermediates"]`` for per-block activations).
    """

    def apply_fn(variables, images, *, resize: bool = True, size: int = INPUT_SIZE, **kw):
        x = preprocess(images, size) if resize else images
        return module.apply(variables, x, **kw)

    return apply_fn


def variable_shapes(size: int = 75):
    """The variables tree as ShapeDtypeStructs (no computation)."""
    x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
    return jax.eval_shape(lambda x: FIDInceptionV3().init(jax.random.key(0), x), x)


def random_params(key: jax.Array, shapes) -> dict:
    """Random float32 leaves for a shape tree, drawn in one vectorised call per distribution.

    Flax's own ``init`` is per-leaf and compiles or dispatches slowly for 24M parameters on CPU;
    this draws one normal and one uniform vector and slices it. Kernels get 1/sqrt(fan_in)
    scaling, embeddings 0.02, ``scale``/``var`` leaves U(0.5, 1.5) (non-trivial BatchNorm and
    LayerNorm statistics so that a wrong mapping shows in tests), everything else 0.1 * N(0, 1).
    """
    flat = params_lib.flatten(_shape_tree(shapes))
    total = sum(int(np.prod(v.shape)) for v in flat.values())
    k1, k2 = jax.random.split(key)
    normal = np.asarray(jax.random.normal(k1, (total,), jnp.float32))
    uniform = np.asarray(jax.random.uniform(k2, (total,), jnp.float32, 0.5, 1.5))
    out, offset = {}, 0
    for name, value in flat.items():
        size, leaf = int(np.prod(value.shape)), name.split("/")[-1]
        n = normal[offset:offset + size].reshape(value.shape)
        if leaf == "kernel":
            out[name] = n / np.sqrt(max(1, size // value.shape[-1]))
        elif leaf == "embedding":
            out[name] = 0.02 * n
        elif leaf in ("scale", "var"):
            out[name] = uniform[offset:offset + size].reshape(value.shape)
        else:
            out[name] = 0.1 * n
        offset += size
    return params_lib.unflatten(out)


def init_variables(key: jax.Array) -> dict:
    """Random variables (``params`` + ``batch_stats``) of the full-size network."""
    return random_params(key, variable_shapes())


def _shape_tree(tree):
    """ShapeDtypeStructs -> zero-stride numpy views (``params.flatten`` needs array shapes)."""
    return jax.tree_util.tree_map(lambda s: np.broadcast_to(np.zeros((), s.dtype), s.shape), tree)


def build(path: str | None = None, *, key: jax.Array | None = None) -> Model:
    """Builds the FID Inception network (registry name ``inception_fid``).

    Args:
      path: ``.npz`` made by ``weights_convert/inception.py`` from pytorch-fid's
        ``pt_inception-2015-12-05-6726825d.pth``.
      key: random initialisation when no path is given (tests).

    Returns:
      `Model` whose ``apply_fn(params, images)`` maps float32 ``[N, H, W, 3]`` images in [0, 1]
      to ``{"pool3", "logits", "logits_unbiased"}``.

    Raises:
      ValueError: neither ``path`` nor ``key``, naming the converter command.
    """
    if path is None and key is None:
        raise ValueError(f"inception_fid needs converted weights; run: {CONVERTER}")
    expected = _shape_tree(variable_shapes())
    if path is not None:
        variables, meta = params_lib.load_params(path)
        params_lib.check_params(expected, variables, f"inception_fid checkpoint {path!r}")
    else:
        variables, meta = init_variables(key), {}
    variables = jax.tree_util.tree_map(partial(jnp.asarray, dtype=jnp.float32), variables)
    info = {"name": "inception_fid", "input_range": (0.0, 1.0), "input_size": INPUT_SIZE,
            "resize": "bilinear, half-pixel, antialias=False (pytorch-fid)", "feature_dim": 2048,
            "num_classes": NUM_CLASSES, "meta": meta}
    return Model(make_apply_fn(), variables, info)


# ----------------------------------------------------------------------------------------------
# Conversion from the pytorch-fid state dict (pure numpy).


def _torch_to_flax_key(key: str) -> tuple[str, ...]:
    """``Mixed_5b.branch1x1.bn.running_mean`` -> (collection, *path, leaf)."""
    *path, leaf = key.split(".")
    if leaf == "weight" and path[-1] == "conv":
        return ("params", *path, "kernel")
    if path[-1] == "bn":
        coll, name = {"weight": ("params", "scale"), "bias": ("params", "bias"),
                      "running_mean": ("batch_stats", "mean"),
                      "running_var": ("batch_stats", "var")}[leaf]
        return (coll, *path, name)
    if path == ["fc"]:
        return ("params", "fc", {"weight": "kernel", "bias": "bias"}[leaf])
    raise KeyError(key)


def convert(state: dict[str, np.ndarray]) -> dict:
    """Converts pytorch-fid's Inception state dict into Flax variables.

    Conv OIHW -> HWIO ``(2, 3, 1, 0)``; fc ``(out, in)`` -> ``(in, out)``; BN weight -> scale,
    running_mean/var -> ``batch_stats`` mean/var; ``num_batches_tracked`` is dropped.

    Args:
      state: ``{torch_key: array}``; checked against `expected_state_shapes` first.

    Returns:
      ``{"params": ..., "batch_stats": ...}`` nested dict of float32 numpy arrays.
    """
    state = {k: np.asarray(v) for k, v in state.items() if not k.endswith("num_batches_tracked")}
    params_lib.check_state_dict_keys(expected_state_shapes(), state, "FID Inception state dict")
    flat = {}
    for key, value in state.items():
        value = value.astype(np.float32)
        if value.ndim == 4:
            value = value.transpose(2, 3, 1, 0)
        elif value.ndim == 2:
            value = value.T
        flat["/".join(_torch_to_flax_key(key))] = value
    return params_lib.unflatten(flat)


def expected_state_shapes() -> dict[str, tuple[int, ...]]:
    """``{torch_key: shape}`` of pytorch-fid's file, derived from this module's Flax shapes."""
    shapes = _shape_tree(variable_shapes())
    flat = {k: tuple(v.shape) for k, v in params_lib.flatten(shapes).items()}
    out = {}
    for key, shape in flat.items():
        coll, *path, leaf = key.split("/")
        if leaf == "kernel" and len(shape) == 4:
            out[".".join(path) + ".weight"] = (shape[3], shape[2], shape[0], shape[1])
        elif leaf == "kernel":
            out[".".join(path) + ".weight"] = (shape[1], shape[0])
        else:
            torch_leaf = {"scale": "weight", "bias": "bias", "mean": "running_mean",
                          "var": "running_var"}[leaf]
            out[".".join(path) + "." + torch_leaf] = shape
    return out
