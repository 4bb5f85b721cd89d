"""BigGAN-AM's domains: the tiny shapes BigGAN, and real BigGAN-PyTorch checkpoints.

``shapes``: `shapes_biggan_am_generator` (red triangles rare, blue squares never seen) and the
AM classifier `shapes_biggan_am_classifier` (32 px, 4 classes); the clamp range is the embedding
table's min / max (as the official ranges were, peer-code.md §2.3) and ``scale`` = (high − low)
/ 1.2 multiplies the learning rates and noise scales, so that they keep the paper's ratio to
BigGAN-256's range [-0.59, 0.61].

``biggan_pytorch``: BigGAN-256 (BigGAN-AM's ``biggan_256_weights.pth``) or BigGAN-128
(BigGAN-PyTorch ``138k/G_ema.pth``) converted by ``weights_convert/biggan.py``, with torchvision
AlexNet converted by ``weights_convert/alexnet.py`` (or any classifier of the registry that
returns ``logits`` and ``features`` taps). As the official code: the [-1, 1] output is resized
nearest to 224 and fed without mean/std normalisation. ``config.classifier.head_path`` (an npz
with ``kernel [F, K]``, ``bias [K]``) replaces the logits by a user head on the tap
``config.classifier.head_tap`` (re-purposing to classes the GAN never had; target = head index).
"""

from __future__ import annotations

import os

import jax.numpy as jnp
import numpy as np

from jaxlatent import preprocess
from jaxlatent.methods.biggan_am_setup import Networks
from jaxlatent.models.registry import load_model

# The official clamp ranges (BigGAN-AM utils.py), by resolution.
CLAMP = {256: (-0.59, 0.61), 128: (-0.88, 0.83)}
BIGGAN_CONVERT = ("python weights_convert/biggan.py --format biggan-pytorch --input "
                  "{file} --output {out}")
ALEXNET_CONVERT = "python weights_convert/alexnet.py --input alexnet-owt-7be5be79.pth --output alexnet.npz"
SOURCES = {256: ("biggan_256_weights.pth", "biggan256.npz"),
           128: ("138k/G_ema.pth", "biggan128.npz")}
SHAPES_NAMES = ("red triangle", "blue triangle", "red square", "blue square")


def load(config) -> Networks:
    if config.domain == "shapes":
        return load_shapes(config)
    if config.domain == "biggan_pytorch":
        return load_biggan_pytorch(config)
    raise ValueError(f"unknown biggan_am domain {config.domain!r}; known: shapes, biggan_pytorch")


def load_shapes(config) -> Networks:
    g = load_model(config.generator.name, config.generator.path or None)
    p = load_model(config.classifier.name, config.classifier.path or None)
    table = np.asarray(g.info["embedding_table"])
    low, high = float(table.min()), float(table.max())
    return Networks(g.apply_fn, p.apply_fn, g.params, p.params, table, int(g.info["z_dim"]),
                    low, high, (high - low) / 1.2, SHAPES_NAMES)


def check_paths(config) -> None:
    """Raises a clear error naming each missing checkpoint and the command that makes it."""
    res = int(config.resolution)
    if res not in SOURCES:
        raise ValueError(f"resolution must be 128 or 256 (BigGAN-AM's two models), got {res}")
    src, out = SOURCES[res]
    need = [("generator.path", config.generator.path, f"BigGAN-{res} generator",
             BIGGAN_CONVERT.format(file=src, out=out)),
            ("classifier.path", config.classifier.path, "AlexNet classifier", ALEXNET_CONVERT)]
    missing = [f"--config.{field} ({what}; make it with: {cmd})" for field, path, what, cmd in need
               if not path or not os.path.isfile(path)]
    if config.classifier.get("head_path") and not os.path.isfile(config.classifier.head_path):
        missing.append(f"--config.classifier.head_path ({config.classifier.head_path!r} does not "
                       "exist; an npz with kernel [F, K] and bias [K])")
    if missing:
        raise FileNotFoundError("the biggan_pytorch BigGAN-AM domain needs local converted "
                                "checkpoints (jaxlatent downloads no weights); missing: "
                                + "; ".join(missing))


def _head(config):
    if not config.classifier.get("head_path"):
        return None
    with np.load(config.classifier.head_path) as f:
        if "kernel" not in f or "bias" not in f:
            raise ValueError(f"classifier head {config.classifier.head_path!r} needs arrays "
                             f"'kernel' [F, K] and 'bias' [K]; it has {sorted(f.files)}")
        return {"kernel": jnp.asarray(f["kernel"]), "bias": jnp.asarray(f["bias"])}


def load_biggan_pytorch(config) -> Networks:
    check_paths(config)
    g = load_model("biggan", config.generator.path)
    p = load_model(config.classifier.name, config.classifier.path)
    head, tap = _head(config), config.classifier.get("head_tap", "fc2")
    taps = ("logits", "features") + ((tap,) if head is not None else ())
    size = int(config.classifier.get("input_size", 224))

    def classify(params, x):
        x224 = preprocess.resize_nearest_torch(x, (size, size))
        out = p.apply_fn(params["net"], x224, outputs=taps)
        logits = out["logits"] if head is None else (
            out[tap].reshape(x.shape[0], -1) @ params["head"]["kernel"] + params["head"]["bias"])
        return {"logits": logits, "features": out["features"], "pixels": x224}

    table = np.asarray(g.info["embedding_table"])
    low, high = CLAMP[int(g.info["resolution"])]
    names = tuple(str(i) for i in range(table.shape[0]))
    return Networks(g.apply_fn, classify, g.params, {"net": p.params, "head": head}, table,
                    int(g.info["z_dim"]), low, high, 1.0, names)
