"""BigGAN-AM's evaluation on the shapes domain, as the paper's Table S1 (P §2.3, P:59-65).

Per image set (one class, one trial of one row, ``n`` images from the shared evaluation latents):

- ``fd``: Fréchet distance of the shipped 64-d `shapes_features` features to ``n`` real images
  of the class (the FID stand-in; biased at small ``n``, so compare rows at equal ``n``);
- ``acc``: share that the **evaluation** classifier `shapes_classifier` assigns to the class
  (the Inception-accuracy stand-in; never the network AM optimised), ``am_acc`` the same for the
  AM classifier (what the search optimised: the Table S2 contrast);
- ``msssim``: mean MS-SSIM over random pairs (lower = more diverse), at 32 px with a
  ``win``-tap Gaussian window (sigma 1.5) and ``levels`` scales, weights = the first ``levels``
  MS-SSIM weights renormalised (the standard 11-tap, 5-scale form needs > 160 px);
- ``fdist``: a learned perceptual distance stand-in (higher = more diverse): LPIPS's form with
  unit channel weights on the `shapes_features` encoder's three ReLU conv maps (channel-
  normalised, squared difference, spatial mean, summed over layers); no LPIPS weights exist for
  this domain.

Both evaluation networks see the 32 px sample nearest-upsampled to 128 px in [0, 1].
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.metrics import fid, lpips, msssim
from jaxlatent.models import shapes_classifier
from jaxlatent.models.registry import load_model
from jaxlatent.models.shapes_features import FeatureEncoder
from jaxlatent.training.gan import real_batch, upsample_to_128

METRICS = ("fd", "acc", "am_acc", "msssim", "fdist")
BATCH = 250


class Judges(NamedTuple):
    predict: callable  # images [-1, 1] -> eval class [N]
    features: callable  # -> [N, 64]
    taps: callable  # -> list of [N, h, w, c]
    am_predict: callable  # -> AM-classifier class [N]


def load_judges(nets) -> Judges:
    classifier, feats = load_model("shapes_classifier"), load_model("shapes_features")
    enc = {"params": feats.params["encoder"]}

    def predict(x):
        shape, colour = shapes_classifier.predict(classifier.params, upsample_to_128(x))
        return 2 * shape + colour

    def taps(x):
        _, inter = FeatureEncoder().apply(enc, upsample_to_128(x), capture_intermediates=True,
                                          mutable=["intermediates"])
        return [jax.nn.relu(inter["intermediates"][f"conv{i}"]["__call__"][0]) for i in range(3)]

    return Judges(jax.jit(predict), jax.jit(lambda x: feats.apply_fn(feats.params,
                                                                     upsample_to_128(x))),
                  jax.jit(taps), jax.jit(lambda x: jnp.argmax(
                      nets.classify(nets.p_params, x)["logits"], -1)))


def feature_distance(taps_a, taps_b) -> jax.Array:
    """``[P]`` LPIPS-form distance with unit weights between tap lists of two image batches."""
    total = 0.0
    for a, b in zip(taps_a, taps_b):
        a = a / (jnp.sqrt(jnp.sum(a**2, -1, keepdims=True)) + 1e-10)
        b = b / (jnp.sqrt(jnp.sum(b**2, -1, keepdims=True)) + 1e-10)
        total = total + jnp.mean(jnp.sum((a - b) ** 2, -1), axis=(1, 2))
    return total


def generate(nets, embedding, z) -> np.ndarray:
    """``[n, R, R, 3]`` images of one embedding ``[D]`` (clamped) for latents ``z [n, dz]``."""
    fn = _gen_fn(nets)
    c = jnp.asarray(np.clip(embedding, nets.low, nets.high), jnp.float32)
    return np.concatenate([np.asarray(fn(nets.g_params, z[i:i + BATCH], c))
                           for i in range(0, len(z), BATCH)])


_GEN: dict = {}


def _gen_fn(nets):
    if nets.generate not in _GEN:
        _GEN[nets.generate] = jax.jit(lambda p, z, c: nets.generate(
            p, z, jnp.broadcast_to(c, (z.shape[0],) + c.shape)))
    return _GEN[nets.generate]


def real_images(key, cls: int, n: int) -> np.ndarray:
    """``n`` real 32 px images of class ``cls`` in [-1, 1]."""
    fn = _real_fn(int(cls))
    return np.concatenate([np.asarray(fn(jax.random.fold_in(key, i)))
                           for i in range(0, n, BATCH)])[:n]


@functools.lru_cache(maxsize=None)
def _real_fn(cls: int):
    probs = tuple(float(j == cls) for j in range(4))
    return jax.jit(lambda k: real_batch(k, BATCH, 0.5, 32, probs)[0])


@functools.partial(jax.jit, static_argnums=(2, 3))
def _msssim(x, pairs, win: int, weights: tuple):
    return jnp.mean(msssim.pairwise_ms_ssim(x, pairs, data_range=2.0, win_size=win,
                                            weights=weights))


def _batched(fn, x):
    outs = [fn(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]
    return jax.tree.map(lambda *a: np.concatenate([np.asarray(v) for v in a]), *outs)


def measure(judges: Judges, images: np.ndarray, cls: int, real_feats: np.ndarray, pairs,
            win: int = 7, levels: int = 3) -> dict:
    """The `METRICS` of one image set of class ``cls``."""
    feats = _batched(judges.features, images)
    w = tuple(float(v) for v in np.asarray(msssim.MS_WEIGHTS[:levels])
              / np.sum(msssim.MS_WEIGHTS[:levels]))
    ms = _msssim(jnp.asarray(images), jnp.asarray(pairs), win, w)
    taps = [_batched(judges.taps, images[pairs[:, k]]) for k in (0, 1)]
    return {"fd": fid.fid_from_features(feats, real_feats),
            "acc": float(np.mean(_batched(judges.predict, images) == cls)),
            "am_acc": float(np.mean(_batched(judges.am_predict, images) == cls)),
            "msssim": float(ms),
            "fdist": float(jnp.mean(feature_distance(taps[0], taps[1])))}


def eval_pairs(key, n: int, num_pairs: int) -> np.ndarray:
    return np.asarray(lpips.random_pairs(key, n, num_pairs))


def aggregate(values: np.ndarray) -> tuple[float, float]:
    """Mean ± standard error over the last axis (trials); s.e. 0 for one trial."""
    values = np.asarray(values, np.float64)
    se = values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else 0.0
    return float(values.mean()), float(se)
