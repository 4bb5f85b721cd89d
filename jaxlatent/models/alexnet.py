"""torchvision AlexNet (IMAGENET1K_V1, ``alexnet-owt-7be5be79.pth``) in Flax linen, NHWC float32.

References:
  Krizhevsky, "One weird trick for parallelizing convolutional neural networks", 2014 (the
  torchvision variant: 64/192/384/256/256 channels).

Taps (``apply_fn(params, x, outputs=(...))`` returns a dict with exactly these keys):

- ``conv1`` ... ``conv5`` (pre-activation), ``relu1`` ... ``relu5`` (the LPIPS taps),
  ``pool1``, ``pool2``, ``pool5`` (NHWC maps).
- ``features``: torch ``model.features(x).flatten(1)`` -- conv5 after its final max-pool,
  flattened in torch's (C, H, W) order so the vector equals the reference element-wise (the
  BigGAN-AM diversity feature; 9216-d at 224x224).
- ``fc1``, ``fc2`` after ReLU (``*_preact`` before), ``logits`` [N, 1000], ``softmax``.

``AdaptiveAvgPool2d((6, 6))`` is the identity at 224 and exact torch adaptive pooling otherwise.
Dropout is omitted (eval mode).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlatent.models.registry import Model
from jaxlatent.models.torchvision_convert import ALEXNET_CONVS, _scaled
from jaxlatent.models.vgg import _Taps, load_or_init
from jaxlatent.preprocess import adaptive_avg_pool2d

_STRIDE_PAD = {0: (4, 2), 3: (1, 2), 6: (1, 1), 8: (1, 1), 10: (1, 1)}
_POOL_AFTER = {0: "pool1", 3: "pool2", 10: "pool5"}


class AlexNet(nn.Module):
    """torchvision ``AlexNet``; ``width`` < 1 scales channels for small test configs."""

    width: float = 1.0
    hidden: int = 4096
    num_classes: int = 1000
    pool: int = 6

    @nn.compact
    def __call__(self, x: jax.Array, outputs: Sequence[str] = ("logits",)) -> dict:
        """x: float32 [N, H, W, 3], ImageNet-normalised. Returns ``{tap: array}``."""
        tap = _Taps(outputs)
        for n, (idx, (c, k)) in enumerate(ALEXNET_CONVS.items(), start=1):
            stride, pad = _STRIDE_PAD[idx]
            x = nn.Conv(_scaled(c, self.width), (k, k), strides=(stride, stride),
                        padding=((pad, pad), (pad, pad)), name=f"features_{idx}")(x)
            if tap(f"conv{n}", x) or tap(f"relu{n}", nn.relu(x)):
                return tap.result(outputs)
            x = nn.relu(x)
            if idx in _POOL_AFTER:
                x = nn.max_pool(x, (3, 3), strides=(2, 2))
                if tap(_POOL_AFTER[idx], x):
                    return tap.result(outputs)
        if tap("features", jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)):
            return tap.result(outputs)
        x = adaptive_avg_pool2d(x, self.pool)
        x = x.reshape(x.shape[0], -1)  # (H, W, C) order; fc1 rows are permuted by the converter
        for idx, name, size in [(1, "fc1", self.hidden), (4, "fc2", self.hidden)]:
            x = nn.Dense(size, name=f"classifier_{idx}")(x)
            if tap(f"{name}_preact", x) or tap(name, nn.relu(x)):
                return tap.result(outputs)
            x = nn.relu(x)
        x = nn.Dense(self.num_classes, name="classifier_6")(x)
        tap("logits", x) or tap("softmax", jax.nn.softmax(x))
        return tap.result(outputs)


def make_apply(width=1.0, hidden=4096, num_classes=1000):
    """``(module, apply_fn)`` with ``apply_fn(params, x, outputs=("logits",))`` (no init)."""
    module = AlexNet(width, hidden, num_classes)

    def apply_fn(params, x, outputs: Sequence[str] = ("logits",)):
        """x: float32 [N, H, W, 3] ImageNet-normalised (see jaxlatent.preprocess)."""
        return module.apply({"params": params}, x, outputs=tuple(outputs))

    return module, apply_fn


def build(path=None, *, key=None, width=1.0, hidden=4096, num_classes=1000,
          image_size=224) -> Model:
    """Registry builder ``alexnet`` (see `jaxlatent.models.registry` for the contract).

    Args:
      path: npz written by ``weights_convert/alexnet.py``.
      key: random initialisation when no path is given.
      width, hidden, num_classes: small test configs only; the checkpoint uses the defaults.
      image_size: input side used to initialise (weights do not depend on it).
    Returns:
      `Model` whose ``apply_fn(params, x, outputs=("logits",))`` returns ``{tap: array}``.
    """
    module, apply_fn = make_apply(width, hidden, num_classes)
    example = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
    cmd = ("python weights_convert/alexnet.py --input alexnet-owt-7be5be79.pth "
           "--output alexnet.npz")
    params, meta = load_or_init(module, "alexnet", path, key, example,
                                {"outputs": ("logits",)}, cmd)
    info = {"name": "alexnet", "input": "NHWC float32, preprocessed by the caller", "meta": meta,
            "taps": "conv1-5 relu1-5 pool1 pool2 pool5 features fc1 fc2 *_preact logits softmax"}
    return Model(apply_fn, params, info)
