"""torchvision VGG16 / VGG19 (IMAGENET1K_V1) in Flax linen, NHWC float32, with named taps.

References:
  Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
  ICLR 2015. Weights: torchvision ``vgg16-397923af.pth`` / ``vgg19-dcbb9e9d.pth``.

Module names follow the torch state dict (``features.0.weight`` -> ``features_0/kernel``), so
`jaxlatent.models.torchvision_convert.convert_vgg` is a rename plus transposes.

Taps (``apply_fn(params, x, outputs=(...))`` returns a dict with exactly these keys):

- ``conv{b}_{i}`` (pre-activation), ``relu{b}_{i}``, ``pool{b}``: NHWC feature maps; e.g. VGG19
  ``relu3_1``/``relu4_1``/``relu5_1`` are torch ``features[:12]``/``[:21]``/``[:30]``.
- ``fc1``, ``fc2``: the 4096-d classifier activations **after** their ReLU; ``fc2`` is torchvision
  ``classifier[:5]`` (DivRareGen / improved precision-recall feature). ``fc1_preact``,
  ``fc2_preact`` are before the ReLU. ``logits`` [N, 1000], ``softmax``.
- ``texture``: the inspirational-generation VGG19 feature, per-channel spatial mean and variance
  (E[x^2] - E[x]^2) of relu3_1, relu4_1, relu5_1, concatenated [mu3, var3, mu4, var4, mu5, var5]
  (2560-d for VGG19).

torchvision applies ``AdaptiveAvgPool2d((7, 7))`` before the flatten; it is the identity at
224x224 input (so DivRareGen, which skips it, agrees there) and for other sizes this port applies
torch's adaptive pooling exactly, like torchvision. Dropout is omitted (eval mode). The network
stops after the deepest requested tap, so e.g. ``("relu5_1",)`` never runs the classifier.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent import params as P
from jaxlatent.models.registry import Model
from jaxlatent.models.torchvision_convert import VGG_CFGS, _scaled
from jaxlatent.preprocess import adaptive_avg_pool2d

TEXTURE_LAYERS = ("relu3_1", "relu4_1", "relu5_1")


def channel_moments(x: jax.Array) -> jax.Array:
    """[N, H, W, C] -> [N, 2C]: spatial mean and E[x^2] - E[x]^2 per channel."""
    mean = jnp.mean(x, axis=(1, 2))
    return jnp.concatenate([mean, jnp.mean(x * x, axis=(1, 2)) - mean * mean], axis=-1)


class _Taps:
    """Collects requested activations; `done` tells the network it may stop."""

    def __init__(self, outputs: Sequence[str]):
        self.want, self.got, self.seen = set(outputs), {}, []

    def __call__(self, name: str, value: jax.Array) -> bool:
        self.seen.append(name)
        if name in self.want:
            self.got[name] = value
        return self.done

    def result(self, outputs: Sequence[str]) -> dict:
        """``{name: value}`` in request order; KeyError naming unknown taps."""
        unknown = [k for k in outputs if k not in self.got]
        if unknown:
            raise KeyError(f"unknown outputs {unknown}; known: {', '.join(self.seen)}")
        return {k: self.got[k] for k in outputs}

    @property
    def done(self) -> bool:
        return len(self.got) == len(self.want)


class VGG(nn.Module):
    """torchvision ``VGG`` (no batch norm). ``width`` < 1 scales channels for small test configs."""

    cfg: Sequence[Any]
    width: float = 1.0
    hidden: int = 4096
    num_classes: int = 1000
    pool: int = 7

    @nn.compact
    def __call__(self, x: jax.Array, outputs: Sequence[str] = ("logits",)) -> dict:
        """x: float32 [N, H, W, 3], already normalised. Returns ``{tap: array}``."""
        want = set(outputs)
        if "texture" in want:
            want = (want - {"texture"}) | set(TEXTURE_LAYERS)
        tap = _Taps(want)
        done, x = self._features(x, tap)
        if not done:
            self._classifier(x, tap)
        if "texture" in outputs and all(k in tap.got for k in TEXTURE_LAYERS):
            tap.got["texture"] = jnp.concatenate(
                [channel_moments(tap.got[k]) for k in TEXTURE_LAYERS], -1)
            tap.seen.append("texture")
        return tap.result(outputs)

    def _features(self, x, tap) -> tuple[bool, jax.Array]:
        idx, block, i = 0, 1, 1
        for v in self.cfg:
            if v == "M":
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
                if tap(f"pool{block}", x):
                    return True, x
                idx, block, i = idx + 1, block + 1, 1
                continue
            conv = nn.Conv(_scaled(v, self.width), (3, 3), padding=((1, 1), (1, 1)),
                           name=f"features_{idx}")
            x = conv(x)
            if tap(f"conv{block}_{i}", x) or tap(f"relu{block}_{i}", nn.relu(x)):
                return True, x
            x, idx, i = nn.relu(x), idx + 2, i + 1
        return False, x

    def _classifier(self, x, tap) -> bool:
        x = adaptive_avg_pool2d(x, self.pool)
        x = x.reshape(x.shape[0], -1)  # (H, W, C) order; fc1 rows are permuted by the converter
        for idx, name, size in [(0, "fc1", self.hidden), (3, "fc2", self.hidden)]:
            x = nn.Dense(size, name=f"classifier_{idx}")(x)
            if tap(f"{name}_preact", x) or tap(name, nn.relu(x)):
                return True
            x = nn.relu(x)
        x = nn.Dense(self.num_classes, name="classifier_6")(x)
        return tap("logits", x) or tap("softmax", jax.nn.softmax(x))


def load_or_init(module, name, path, key, example, init_kw, converter_cmd) -> tuple[Any, dict]:
    """Shared builder logic: npz at ``path`` (checked), random init from ``key``, else an error."""
    def init(k):  # eager: jitting a whole-network init compiles far slower on CPU
        return module.init(k, example, **init_kw)["params"]

    if path is not None:
        params, meta = P.load_params(path)
        P.check_params(expected_shapes(init), params, f"{name} checkpoint {path!r}")
        return jax.tree.map(jnp.asarray, params), meta
    if key is not None:
        return init(key), {}
    raise ValueError(f"{name} needs converted weights: run `{converter_cmd}` and pass "
                     f"path=... (or key=... for a random initialisation)")


def expected_shapes(init) -> Any:
    """Params tree of ``init(key)`` as zero-stride numpy arrays (shapes only, no memory).

    `jaxlatent.params.check_params` flattens with ``np.asarray``, which turns a ShapeDtypeStruct
    into a 0-d object array, so shapes are passed as broadcast views instead.
    """
    shapes = jax.eval_shape(init, jax.random.key(0))
    return jax.tree.map(lambda s: np.broadcast_to(np.zeros((), s.dtype), s.shape), shapes)


def make_apply(arch: str, width=1.0, hidden=4096, num_classes=1000):
    """``apply_fn(params, x, outputs=("fc2",)) -> {tap: array}`` for ``arch`` (no init)."""
    module = VGG(VGG_CFGS[arch], width, hidden, num_classes)

    def apply_fn(params, x, outputs: Sequence[str] = ("fc2",)):
        """x: float32 [N, H, W, 3] ImageNet-normalised (see jaxlatent.preprocess)."""
        return module.apply({"params": params}, x, outputs=tuple(outputs))

    return module, apply_fn


def _build(arch: str, path=None, *, key=None, width=1.0, hidden=4096, num_classes=1000,
           image_size=224) -> Model:
    """Registry builders ``vgg16`` / ``vgg19`` (contract: `jaxlatent.models.registry`).

    Args:
      path: npz written by ``weights_convert/vgg.py``.
      key: random initialisation when no path is given.
      width, hidden, num_classes: small test configs only; checkpoints use the defaults.
      image_size: input side used to initialise (weights do not depend on it).
    Returns:
      `Model` whose ``apply_fn(params, x, outputs=("fc2",))`` returns ``{tap: array}``.
    """
    module, apply_fn = make_apply(arch, width, hidden, num_classes)
    example = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
    cmd = (f"python weights_convert/vgg.py --arch {arch} --input "
           f"{'vgg16-397923af' if arch == 'vgg16' else 'vgg19-dcbb9e9d'}.pth --output {arch}.npz")
    params, meta = load_or_init(module, arch, path, key, example,
                                {"outputs": ("logits",)}, cmd)
    info = {"name": arch, "input": "NHWC float32, preprocessed by the caller", "meta": meta,
            "taps": "conv{b}_{i} relu{b}_{i} pool{b} fc1 fc2 *_preact logits softmax texture"}
    return Model(apply_fn, params, info)


build_vgg16 = functools.partial(_build, "vgg16")
build_vgg19 = functools.partial(_build, "vgg19")
