"""OpenAI CLIP ViT-B/32 (registry name ``clip_vit_b32``): model, tokenizer, converter.

Example (with weights converted by ``weights_convert/clip.py``)::

    model = registry.load_model("clip_vit_b32", "/data/clip_vit_b32.npz")
    img = model.apply_fn(model.params, images)                  # [B, 512], images in [0, 1]
    txt = model.apply_fn(model.params, tokenize(["a cat"]), method="text")
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent import params as params_lib
from jaxlatent.models.clip import convert as convert_lib
from jaxlatent.models.clip.convert import convert, expected_state_shapes, infer_config
from jaxlatent.models.clip.model import CLIP, CLIPConfig, MEAN, STD, VIT_B32, preprocess
from jaxlatent.models.clip.tokenizer import SimpleTokenizer, tokenize
from jaxlatent.models.inception import random_params
from jaxlatent.models.registry import Model

__all__ = ["CLIP", "CLIPConfig", "MEAN", "STD", "VIT_B32", "SimpleTokenizer", "build", "convert",
           "expected_state_shapes", "infer_config", "preprocess", "tokenize"]

CONVERTER = "python weights_convert/clip.py --input ViT-B-32.pt --output clip_vit_b32.npz"


def make_apply_fn(config: CLIPConfig):
    """Returns ``apply_fn(params, x, *, method="image"|"text", preprocess=True, **apply_kwargs)``.

    ``method="image"``: ``x`` float32 ``[B, H, W, 3]`` in [0, 1]; resized/cropped to the model
    resolution and normalised by `preprocess` (``preprocess=False``: ``x`` is already normalised).
    ``method="text"``: ``x`` int ``[B, L]`` token ids from `tokenize`. Returns unnormalised
    ``[B, embed_dim]`` embeddings (OpenAI's ``encode_image`` / ``encode_text``).
    """
    module = CLIP(config)

    def apply_fn(params, x, *, method="image", preprocess=True, **kw):
        if method == "image":
            x = _preprocess(x, config.image_resolution) if preprocess else x
            return module.apply(params, x, method=CLIP.encode_image, **kw)
        if method == "text":
            return module.apply(params, jnp.asarray(x), method=CLIP.encode_text, **kw)
        raise ValueError(f"method must be 'image' or 'text', got {method!r}")

    return apply_fn


_preprocess = preprocess


def build(path: str | None = None, *, key: jax.Array | None = None,
          config: CLIPConfig | None = None) -> Model:
    """Builds CLIP (default ViT-B/32; small ``config`` for tests).

    Args:
      path: ``.npz`` from ``weights_convert/clip.py``; its stored config is used unless
        ``config`` is given.
      key: random initialisation when no path is given.
      config: a `CLIPConfig`.

    Returns:
      `Model` with ``apply_fn`` from `make_apply_fn`; ``info`` holds the config.

    Raises:
      ValueError: neither ``path`` nor ``key``, naming the converter command.
    """
    if path is None and key is None:
        raise ValueError(f"clip_vit_b32 needs converted weights; run: {CONVERTER}")
    meta = {}
    if path is not None:
        params, meta = params_lib.load_params(path)
        config = config or CLIPConfig(**meta.get("config", {}))
        expected = jax.tree_util.tree_map(
            lambda s: np.broadcast_to(np.zeros((), s.dtype), s.shape),
            convert_lib.param_shapes(config))
        params_lib.check_params(expected, params, f"CLIP checkpoint {path!r}")
    else:
        config = config or VIT_B32
        params = random_params(key, convert_lib.param_shapes(config))
        params["params"]["logit_scale"] = np.asarray(np.log(1 / 0.07), np.float32)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)
    info = {"name": "clip_vit_b32", "config": config, "input_range": (0.0, 1.0),
            "image_size": config.image_resolution, "mean": MEAN, "std": STD, "meta": meta}
    return Model(make_apply_fn(config), params, info)
