"""DivRare set-up: networks, feature banks, references and d*, as pure functions of the config.

The official code leaves the reference latents z*, the per-reference penalty distance d* and the
real feature bank to the user (peer-code.md §1.5); here they are made from the config and seed:

- real bank: features of ``data.num_real`` real images (embedded domain: rendered shapes at the
  generator's training bias), with their k-NN radii (k = 3, blockwise, `metrics.rarity`);
- fake bank: features of ``data.num_fake`` samples G(z), z ~ N(0, I);
- references: ``search.num_references`` fresh z* ~ N(0, I); d* = distance from F(G(z*)) to its
  k′-th neighbour in the fake bank (paper: k′ = 100).
"""

from __future__ import annotations

import functools
import zipfile
import zlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent import preprocess
from jaxlatent.data import shapes
from jaxlatent.metrics import knn, rarity
from jaxlatent.models import glow
from jaxlatent.models.registry import load_model


class Networks(NamedTuple):
    generator: Any
    features: Any
    flow: Any
    classifier: Any  # evaluation only; None when the domain has none
    feature_mode: str
    output_range: tuple


# Feature preprocessing modes: generator output -> feature-network input.
def _embedded_mode(images, output_range):
    return images  # the embedded feature net takes G's [0, 1] output as is


def _divrare_official_mode(images, output_range):
    """DivRareGen: [-1, 1] input, torch-nearest resize to 224, no ImageNet normalisation."""
    lo, hi = output_range
    x = 2.0 * (images - lo) / (hi - lo) - 1.0
    return preprocess.resize_nearest_torch(x, (224, 224))


FEATURE_MODES = {"embedded": _embedded_mode, "divrare_official": _divrare_official_mode}


def load_networks(cfg) -> Networks:
    """Loads G, F, the flow and (embedded domain) the classifier named by the config."""
    if cfg.feature_mode not in FEATURE_MODES:
        raise KeyError(f"unknown feature_mode {cfg.feature_mode!r}; known: {sorted(FEATURE_MODES)}")
    gen = _load(cfg.generator)
    feats = _load(cfg.features)
    flow = _load(cfg.flow)
    cls = load_model(cfg.classifier.name, cfg.classifier.path or None) if cfg.classifier.name else None
    out_range = tuple(gen.info.get("output_range", (-1.0, 1.0)))
    return Networks(gen, feats, flow, cls, cfg.feature_mode, out_range)


def _load(section):
    """``load_model(name, path, **options)`` from a config section (options: small test configs)."""
    return load_model(section.name, section.path or None, **section.get("options", {}))


def latent_shape(generator) -> tuple:
    info = generator.info
    return tuple(info["latent_shape"]) if "latent_shape" in info else (info["z_dim"],)


def make_fns(nets: Networks):
    """Pure ``generate(ctx, z)``, ``extract(ctx, images)``, ``log_prob(ctx, f)`` over ctx params.

    The same networks (apply functions, mode, range, keyword options) give the same three
    functions, so objectives built from them hit the compiled programs of an earlier search.
    """
    gen_kwargs = nets.generator.info.get("apply_kwargs", {})
    args = (nets.generator.apply_fn, nets.features.apply_fn, nets.flow.apply_fn,
            nets.feature_mode, tuple(nets.output_range))
    try:
        return _cached_fns(*args, tuple(sorted(gen_kwargs.items())))
    except TypeError:  # unhashable keyword options: build fresh functions
        return _build_fns(*args, gen_kwargs)


@functools.lru_cache(maxsize=16)
def _cached_fns(gen_apply, feat_apply, flow_apply, feature_mode, output_range, gen_kwargs):
    return _build_fns(gen_apply, feat_apply, flow_apply, feature_mode, output_range,
                      dict(gen_kwargs))


def _build_fns(gen_apply, feat_apply, flow_apply, feature_mode, output_range, gen_kwargs):
    mode = FEATURE_MODES[feature_mode]

    def generate(ctx, z):
        return gen_apply(ctx["generator"], z, **gen_kwargs)

    def extract(ctx, images):
        out = feat_apply(ctx["features"], mode(images, output_range))
        return out["fc2"] if isinstance(out, dict) else out

    def log_prob(ctx, f):
        scaled = glow.minmax_scale(f, ctx["scaler"]["data_min"], ctx["scaler"]["data_range"])
        return flow_apply(ctx["flow"], scaled)

    return generate, extract, log_prob


def network_ctx(nets: Networks) -> dict:
    scaler = {k: jnp.asarray(v) for k, v in nets.flow.info["scaler"].items()}
    return {"generator": nets.generator.params, "features": nets.features.params,
            "flow": nets.flow.params, "scaler": scaler}


def batched(fn, inputs, batch: int = 250) -> np.ndarray:
    """Applies a jitted ``fn`` over the leading axis in batches; returns numpy."""
    return np.concatenate([np.asarray(fn(inputs[i : i + batch])) for i in range(0, len(inputs), batch)])


def real_features(cfg, nets: Networks, extract, ctx, key) -> np.ndarray:
    """Real feature bank: a features file (``data.real_features``, npz key ``feature``) or rendered."""
    if cfg.data.real_features:
        return load_feature_bank(cfg.data.real_features, cfg.data.num_real, cfg.data.k)
    fn = jax.jit(lambda c, k: extract(c, shapes.sample(k, 250, cfg.data.bias)[0]))
    n = cfg.data.num_real
    return np.concatenate([np.asarray(fn(ctx, jax.random.fold_in(key, i))) for i in range(0, n, 250)])[:n]


def load_feature_bank(path: str, num: int, k: int) -> np.ndarray:
    """The first ``num`` rows of the ``feature`` array [N, D] of ``path``, checked.

    Raises:
      ValueError: unreadable file, no ``feature`` key, not 2-D, non-finite rows, or fewer than
        ``k + 1`` rows (the k-NN radii need k neighbours).
    """
    what = f"real feature bank {path!r} (--config.data.real_features)"
    try:
        with np.load(path, allow_pickle=False) as f:
            if "feature" not in f.files:
                raise ValueError(f"{what} has no array 'feature' (it has {sorted(f.files)}); "
                                 "expected an .npz with key 'feature' of shape [N, D]")
            bank = np.asarray(f["feature"], np.float32)[:num]
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(f"{what} is not a readable .npz ({type(err).__name__}: {err})") from None
    if bank.ndim != 2:
        raise ValueError(f"{what}: 'feature' has shape {bank.shape}; expected [N, D]")
    bad = int(np.sum(~np.all(np.isfinite(bank), axis=1)))
    if bad:
        raise ValueError(f"{what}: {bad} of {len(bank)} rows hold NaN or inf; expected finite "
                         "features")
    if len(bank) <= k:
        raise ValueError(f"{what} has {len(bank)} rows; the k-NN manifold (data.k = {k}) needs "
                         f"at least {k + 1}")
    return bank


def check_bank_width(bank: np.ndarray, width: int, what: str) -> None:
    """Raises ValueError unless the feature bank [N, D] has D == ``width`` (the feature net's)."""
    if bank.shape[1] != width:
        raise ValueError(f"{what} has {bank.shape[1]}-d features but the feature network "
                         f"outputs {width}-d features; extract the bank with the same network")


@functools.lru_cache(maxsize=16)
def _feature_fn(generate, extract):
    return jax.jit(lambda ctx, z: extract(ctx, generate(ctx, z)))


def sample_features(generate, extract, ctx, z) -> np.ndarray:
    """F(G(z)) for latents z [M, ...] in batches (one compiled program per (G, F) pair)."""
    fn = _feature_fn(generate, extract)
    return batched(lambda zz: fn(ctx, zz), z)


class Banks(NamedTuple):
    manifold: rarity.RealManifold
    fake: np.ndarray  # [num_fake, D]
    references: np.ndarray  # [G, *latent_shape]
    dstar: np.ndarray  # [G]


def make_banks(cfg, nets, generate, extract, ctx, key) -> Banks:
    real_key, fake_key, ref_key = jax.random.split(key, 3)
    shape = latent_shape(nets.generator)
    real = real_features(cfg, nets, extract, ctx, real_key)
    if cfg.search.k_prime > cfg.data.num_fake:
        raise ValueError(f"search.k_prime = {cfg.search.k_prime} exceeds data.num_fake = "
                         f"{cfg.data.num_fake}: d* needs at least k' fake features")
    fake_z = jax.random.normal(fake_key, (cfg.data.num_fake,) + shape)
    fake = sample_features(generate, extract, ctx, fake_z)
    check_bank_width(real, fake.shape[1], f"the real feature bank {cfg.data.real_features!r}")
    manifold = rarity.real_manifold(real, k=cfg.data.k)
    refs = np.asarray(jax.random.normal(ref_key, (cfg.search.num_references,) + shape))
    ref_f = sample_features(generate, extract, ctx, refs)
    dstar = np.asarray(knn.kth_neighbour_distance(ref_f, fake, cfg.search.k_prime))
    return Banks(manifold, fake, refs, dstar)
