"""BigGAN generators: BigGAN-PyTorch (``biggan-*``) and TF-Hub BigGAN-deep (``biggan-deep-*``).

``build`` follows the registry contract (`jaxlatent.models.registry`)::

    model = build("/data/biggan-128.npz")          # converted by weights_convert/biggan.py
    y = embed_classes(model.params, jnp.array([207]))  # [1, 128] class embedding
    x = model.apply_fn(model.params, z, y)           # [1, 128, 128, 3] in [-1, 1]

The class embedding is an input, so searches can optimise it (BigGAN-AM). BigGAN-deep also takes
a static ``truncation`` keyword (selects stored batch-norm statistics; default 1.0).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.models.biggan import presets
from jaxlatent.models.biggan.deep import BigGANDeep
from jaxlatent.models.biggan.generator import Generator
from jaxlatent.models.registry import Model
from jaxlatent.params import check_params, load_params

__all__ = ["BigGANDeep", "Generator", "build", "embed_classes", "embedding_table", "make_module"]

_GEN_FIELDS = ("resolution", "G_ch", "dim_z", "shared_dim", "attention", "hier", "n_classes",
               "bn_eps")
_DEEP_FIELDS = ("z_dim", "class_embed_dim", "channel_width", "num_classes",
                "attention_layer_position", "n_stats", "eps")


def shape_tree(tree: Any) -> Any:
    """ShapeDtypeStructs -> zero-stride numpy views of those shapes (no memory) for check_params."""
    return jax.tree.map(lambda s: np.broadcast_to(np.zeros((), s.dtype), s.shape), tree)


def make_module(cfg: dict):
    """The Flax module for a preset-style config (``cfg["arch"]`` is "biggan" or "biggan_deep")."""
    if cfg["arch"] == "biggan":
        return Generator(**{k: cfg[k] for k in _GEN_FIELDS})
    if cfg["arch"] == "biggan_deep":
        layers = tuple(tuple(layer) for layer in cfg["layers"])
        return BigGANDeep(layers=layers, **{k: cfg[k] for k in _DEEP_FIELDS})
    raise ValueError(f"unknown BigGAN arch {cfg['arch']!r}")


def _dims(cfg: dict, module) -> tuple[int, int, int]:
    if cfg["arch"] == "biggan":
        return module.z_size, cfg["shared_dim"], cfg["n_classes"]
    return cfg["z_dim"], cfg["class_embed_dim"], cfg["num_classes"]


def embedding_table(params: Any) -> jax.Array:
    """The ``[n_classes, embed_dim]`` class-embedding table held in ``params``."""
    p = params["params"]
    return p["shared"]["embedding"] if "shared" in p else p["embeddings"]["kernel"]


def embed_classes(params: Any, labels: jax.Array) -> jax.Array:
    """Embeds class indices ``[N]`` (int) or class vectors ``[N, n_classes]`` (float) -> ``[N, D]``.

    Examples:
      >>> m = build(key=jax.random.key(0), preset="biggan-128", G_ch=4, n_classes=10)
      >>> embed_classes(m.params, jnp.array([3])).shape
      (1, 128)
    """
    table = embedding_table(params)
    labels = jnp.asarray(labels)
    if jnp.issubdtype(labels.dtype, jnp.integer):
        return table[labels]
    return labels @ table


def build(path: str | None = None, *, key: jax.Array | None = None,
          preset: str = "biggan-128", **options: Any) -> Model:
    """Builds a BigGAN generator (registry name ``biggan``).

    Args:
      path: ``.npz`` from ``weights_convert/biggan.py``; its metadata holds the config.
      key: random initialisation when no path is given (tests, small configs).
      preset: a name in `presets.PRESETS` used with ``key``; ``options`` override its fields.

    Returns:
      `Model` with ``apply_fn(params, z [N, Z], y [N, D]) -> [N, R, R, 3]`` (BigGAN-deep adds
      ``truncation=``) and info holding ``config``, ``z_dim``, ``embed_dim``, ``n_classes``,
      ``resolution``, ``embedding_table`` and ``embed`` (class indices -> embeddings).
    """
    if path is not None:
        variables, meta = load_params(path)
        cfg = meta["config"]
    elif key is not None:
        cfg = {**presets.get(preset), **options}
    else:
        raise ValueError("BigGAN has no shipped weights: convert a checkpoint with "
                         "`python weights_convert/biggan.py --format biggan-pytorch|hf --input "
                         "FILE --output biggan.npz` and pass its path, or pass key= for random init")
    module = make_module(cfg)
    z_dim, embed_dim, n_classes = _dims(cfg, module)
    args = (jnp.zeros((1, z_dim)), jnp.zeros((1, embed_dim)))
    if path is None:
        variables = jax.jit(module.init)(key, *args)
    else:
        check_params(shape_tree(jax.eval_shape(module.init, jax.random.key(0), *args)),
                     variables, f"BigGAN checkpoint {path!r}")
    variables = jax.tree.map(jnp.asarray, variables)

    if cfg["arch"] == "biggan":
        def apply_fn(params, z, y):
            return module.apply(params, z, y)
    else:
        def apply_fn(params, z, y, truncation: float = 1.0):
            return module.apply(params, z, y, truncation)

    resolution = cfg.get("resolution", cfg.get("output_dim"))
    info = dict(name="biggan", config=cfg, z_dim=z_dim, embed_dim=embed_dim, n_classes=n_classes,
                resolution=resolution, embedding_table=np.asarray(embedding_table(variables)),
                embed=lambda labels: embed_classes(variables, labels))
    return Model(apply_fn, variables, info)
