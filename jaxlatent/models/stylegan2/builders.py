"""Registry builders for StyleGAN2 (`jaxlatent.models.registry` contract) and test checkpoints.

``load_model("stylegan2_generator", path="ffhq.npz")`` reads the architecture from the file's
metadata; ``key=...`` without a path gives a random initialisation of a given config / preset.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.models.registry import Model
from jaxlatent.models.stylegan2 import mapping, presets
from jaxlatent.models.stylegan2.discriminator import Discriminator
from jaxlatent.models.stylegan2.synthesis import Generator, noise_resolutions
from jaxlatent.params import check_params, load_params, save_params

CONVERTER = "weights_convert/stylegan2.py --format rosinality|nvlabs --input FILE --output OUT.npz"
_G_ARCH = ("preset", "size", "style_dim", "n_mlp", "channel_multiplier", "channels", "z_dim",
           "lr_mlp", "conv_clamp")
_D_ARCH = ("preset", "size", "channel_multiplier", "channels", "mbstd_group", "conv_clamp")


def generator_module(cfg: dict) -> Generator:
    """The Flax module of a stored generator config."""
    ch = presets.channels_of(cfg)
    return Generator(size=cfg["size"], style_dim=cfg["style_dim"], n_mlp=cfg["n_mlp"],
                     channels=tuple(ch[r] for r in sorted(ch)), z_dim=cfg["z_dim"],
                     lr_mlp=cfg["lr_mlp"], conv_clamp=cfg["conv_clamp"])


def discriminator_module(cfg: dict) -> Discriminator:
    """The Flax module of a stored discriminator config."""
    ch = presets.channels_of(cfg)
    return Discriminator(size=cfg["size"], channels=tuple(ch[r] for r in sorted(ch)),
                         mbstd_group=cfg["mbstd_group"], conv_clamp=cfg["conv_clamp"])


def _config(arch: dict, kind: str) -> dict:
    arch = {k: v for k, v in arch.items() if v is not None}
    name = arch.pop("preset", None)
    base: dict = {}
    if name is not None:
        g, d = presets.preset(name)
        base = dict(presets.PRESETS[name]) if kind == "g" else {
            k: d[k] for k in ("size", "channels", "mbstd_group", "conv_clamp")}
        if "channel_multiplier" in arch:
            base.pop("channels", None)
    arch = {**base, **arch}
    if "size" not in arch:
        raise ValueError("random StyleGAN2 init needs size=... (or preset=...)")
    return (presets.generator_config if kind == "g" else presets.discriminator_config)(**arch)


def _load(path: str, arch_name: str, module_fn, arch: dict) -> tuple[dict, dict, Any]:
    tree, meta = load_params(path)
    if meta.get("arch") != arch_name:
        raise ValueError(f"{path!r} holds {meta.get('arch')!r}, not {arch_name!r}; "
                         f"make it with {CONVERTER}")
    given = {k: v for k, v in arch.items() if v is not None and k in meta}
    clash = {k: (v, meta[k]) for k, v in given.items() if v != meta[k]}
    if clash:
        raise ValueError(f"options contradict the metadata of {path!r}: {clash}")
    module = module_fn(meta)
    return tree, meta, module


def _expected(module, *args) -> Any:
    # Zero-stride views carry the shapes without allocating (check_params reads np.shape; it
    # sees () for a jax.ShapeDtypeStruct).
    abstract = jax.eval_shape(lambda: module.init(jax.random.key(0), *args))
    return jax.tree_util.tree_map(lambda s: np.broadcast_to(np.float32(0), s.shape), abstract)


def build_generator(path: str | None = None, *, key: jax.Array | None = None, preset: str | None = None,
                    size: int | None = None, style_dim: int | None = None, n_mlp: int | None = None,
                    channel_multiplier: int | None = None, channels: dict | None = None,
                    z_dim: int | None = None, lr_mlp: float | None = None,
                    conv_clamp: float | None = None, **defaults: Any) -> Model:
    """StyleGAN2 generator as a `Model`.

    Args:
      path: converted ``.npz`` (architecture read from its metadata).
      key: random init of the given config / ``preset`` when no path.
      **defaults: default keyword arguments of ``apply_fn`` (space, truncation,
        truncation_cutoff, noise, w_std).

    Returns:
      ``Model(apply_fn, params, info)`` with ``apply_fn(params, latents, *, space="z",
      truncation=1.0, truncation_cutoff=None, noise="const", key=None, w_std=None)`` ->
      images float32 [N, size, size, 3], nominally in [-1, 1] (not clipped, as the references).
      ``info`` has resolution, z_dim, w_dim, num_ws (= n_latent), config, map_fn and synthesis_fn.

    Examples:
      >>> m = build_generator(key=jax.random.key(0), size=8, style_dim=8, n_mlp=1,
      ...                     channels={4: 8, 8: 8})
      >>> m.apply_fn(m.params, jnp.zeros((2, 8))).shape
      (2, 8, 8, 3)
    """
    bad = set(defaults) - {"space", "truncation", "truncation_cutoff", "noise", "w_std"}
    if bad:
        raise TypeError(f"unknown stylegan2_generator options: {sorted(bad)}")
    arch = dict(preset=preset, size=size, style_dim=style_dim, n_mlp=n_mlp,
                channel_multiplier=channel_multiplier, channels=channels, z_dim=z_dim,
                lr_mlp=lr_mlp, conv_clamp=conv_clamp)
    if path is not None:
        tree, cfg, module = _load(path, presets.GENERATOR_ARCH, generator_module,
                                  {k: v for k, v in arch.items() if k not in ("preset", "channels")})
        z = jnp.zeros((1, cfg["z_dim"]))
        check_params(_expected(module, z), tree, f"stylegan2 generator {path!r}")
        params = jax.tree_util.tree_map(jnp.asarray, tree)
    elif key is not None:
        cfg = _config(arch, "g")
        module = generator_module(cfg)
        params = jax.jit(module.init)(key, jnp.zeros((1, cfg["z_dim"])))  # one compile, not per op
        params = _with_w_avg(module, params, jax.random.fold_in(key, 1))
        cfg = {**cfg, "source_format": "random", "w_avg_source": "estimated: 4096 mapped z"}
    else:
        raise ValueError(f"stylegan2_generator needs path= (a converted checkpoint; make one with "
                         f"{CONVERTER}) or key= for a random initialisation")
    return _generator_model(module, params, cfg, defaults)


def _with_w_avg(module: Generator, params: dict, key: jax.Array, n: int = 4096) -> dict:
    fn = lambda z: module.apply(params, z, method=Generator.map)
    mean, _ = mapping.estimate_w_stats(fn, module.z_dim, module.num_ws, key, n=n, batch=n)
    buffers = {**params["buffers"], "w_avg": mean}
    return {**params, "buffers": buffers}


def _generator_model(module: Generator, params: dict, cfg: dict, defaults: dict) -> Model:
    def apply_fn(params, latents, **kw):
        kw = {**defaults, **kw}
        return module.apply(params, latents, **kw)

    def map_fn(params, z):
        """Z [N, z_dim] -> W [N, w_dim] (no truncation)."""
        return module.apply(params, z, method=Generator.map)

    def synthesis_fn(params, ws, noise="const", key=None):
        """W+ [N, num_ws, w_dim] -> images [N, size, size, 3]."""
        return module.apply(params, ws, noise, key, method=Generator.synthesize)

    info = dict(name=presets.GENERATOR_ARCH, resolution=cfg["size"], z_dim=cfg["z_dim"],
                w_dim=cfg["style_dim"], num_ws=cfg["num_ws"], n_latent=cfg["num_ws"],
                latent_spaces=mapping.SPACES, output_range=(-1.0, 1.0), config=cfg,
                noise_resolutions=noise_resolutions(cfg["size"]), map_fn=map_fn,
                synthesis_fn=synthesis_fn)
    return Model(apply_fn, params, info)


def build_discriminator(path: str | None = None, *, key: jax.Array | None = None,
                        preset: str | None = None, size: int | None = None,
                        channel_multiplier: int | None = None, channels: dict | None = None,
                        mbstd_group: int | None = None, conv_clamp: float | None = None) -> Model:
    """StyleGAN2 residual discriminator as a `Model`.

    ``apply_fn(params, images)``: images float32 [N, size, size, 3] in [-1, 1] -> scores [N]
    (N must be divisible by min(N, mbstd_group)).
    """
    arch = dict(preset=preset, size=size, channel_multiplier=channel_multiplier,
                channels=channels, mbstd_group=mbstd_group, conv_clamp=conv_clamp)
    if path is not None:
        tree, cfg, module = _load(path, presets.DISCRIMINATOR_ARCH, discriminator_module,
                                  {k: v for k, v in arch.items() if k not in ("preset", "channels")})
        x = jnp.zeros((1, cfg["size"], cfg["size"], 3))
        check_params(_expected(module, x), tree, f"stylegan2 discriminator {path!r}")
        params = jax.tree_util.tree_map(jnp.asarray, tree)
    elif key is not None:
        cfg = _config(arch, "d")
        module = discriminator_module(cfg)
        params = jax.jit(module.init)(key, jnp.zeros((1, cfg["size"], cfg["size"], 3)))
    else:
        raise ValueError(f"stylegan2_discriminator needs path= (make one with {CONVERTER} "
                         "--d-output D.npz) or key=")
    apply_fn = lambda params, images: module.apply(params, images)[:, 0]
    info = dict(name=presets.DISCRIMINATOR_ARCH, resolution=cfg["size"], config=cfg)
    return Model(apply_fn, params, info)


def make_random_checkpoint(path: str, key: jax.Array, *, discriminator_path: str | None = None,
                           **config: Any) -> dict:
    """Writes a random-init generator ``.npz`` exactly as the converters do (and optionally a D).

    Args:
      path: output file for the generator.
      key: PRNG key.
      discriminator_path: also write a discriminator of the same size / channels there.
      **config: `presets.generator_config` arguments (or ``preset=``), e.g.
        ``size=16, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8}``.

    Returns:
      The generator metadata that was written.
    """
    g = build_generator(key=key, **config)
    save_params(path, jax.tree_util.tree_map(np.asarray, g.params), **g.info["config"])
    if discriminator_path is not None:
        cfg = g.info["config"]
        d = build_discriminator(key=jax.random.fold_in(key, 2), size=cfg["size"],
                                channels=cfg["channels"], conv_clamp=cfg["conv_clamp"])
        save_params(discriminator_path, jax.tree_util.tree_map(np.asarray, d.params),
                    **d.info["config"], source_format="random")
    return g.info["config"]


def estimate_w_std(model: Model, key: jax.Array, n: int = 10_000, batch: int = 1000) -> jax.Array:
    """Per-(layer, dim) std of W+ over ``n`` mapped z's (QDGS sigma_w), float32 [num_ws, w_dim]."""
    return estimate_w_stats(model, key, n, batch)[1]


def estimate_w_stats(model: Model, key: jax.Array, n: int = 10_000,
                     batch: int = 1000) -> tuple[jax.Array, jax.Array]:
    """(mean [w_dim], std [num_ws, w_dim]) of W+ over ``n`` mapped z ~ N(0, I)."""
    fn = lambda z: model.info["map_fn"](model.params, z)
    return mapping.estimate_w_stats(fn, model.info["z_dim"], model.info["num_ws"], key, n, batch)


def mean_latent(model: Model, key: jax.Array, n: int = 4096) -> jax.Array:
    """rosinality ``mean_latent``: mean of W over ``n`` mapped z's, float32 [w_dim]."""
    return estimate_w_stats(model, key, n, n)[0]
