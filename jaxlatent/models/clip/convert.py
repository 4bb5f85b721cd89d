"""OpenAI CLIP state dict -> Flax params (pure numpy).

Layout rules: conv OIHW -> HWIO ``(2, 3, 1, 0)``; Linear and the fused attention ``in_proj_weight``
``(out, in)`` -> ``(in, out)``; LayerNorm ``weight`` -> ``scale``; ``token_embedding.weight`` ->
``embedding``; raw parameters (``class_embedding``, ``positional_embedding``, ``proj``,
``text_projection``, ``logit_scale``) are copied (they are already used as ``x @ W``);
``resblocks.N`` -> ``resblocks_N``. fp16 tensors (the TorchScript release stores most weights in
fp16) are upcast to float32. The TorchScript scalars ``input_resolution``, ``context_length`` and
``vocab_size`` are dropped, as OpenAI's ``build_model`` does.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent import params as params_lib
from jaxlatent.models.clip.model import CLIP, CLIPConfig, VIT_B32

TORCHSCRIPT_EXTRAS = ("input_resolution", "context_length", "vocab_size")
_RAW = {"class_embedding", "positional_embedding", "proj", "text_projection", "logit_scale"}


def param_shapes(config: CLIPConfig = VIT_B32):
    """The Flax params tree of ``config`` as ShapeDtypeStructs (no computation)."""
    images = jax.ShapeDtypeStruct((1, config.image_resolution, config.image_resolution, 3),
                                  jnp.float32)
    tokens = jax.ShapeDtypeStruct((1, config.context_length), jnp.int32)
    return jax.eval_shape(lambda i, t: CLIP(config).init(jax.random.key(0), i, t), images, tokens)


def _to_flax_path(key: str) -> str:
    path = re.sub(r"\.(\d+)\.", r"_\1.", key)
    path = path.replace("in_proj_weight", "in_proj.weight").replace("in_proj_bias", "in_proj.bias")
    *parents, leaf = path.split(".")
    if leaf in _RAW:
        return "/".join(["params", *parents, leaf])
    if parents[-1] == "token_embedding":
        return "/".join(["params", *parents, "embedding"])
    is_norm = parents[-1].startswith("ln_")
    leaf = {"weight": "scale" if is_norm else "kernel", "bias": "bias"}[leaf]
    return "/".join(["params", *parents, leaf])


def _to_torch_key(path: str) -> str:
    _, *parents, leaf = path.split("/")
    key = ".".join(parents)
    key = re.sub(r"resblocks_(\d+)", r"resblocks.\1", key)
    if leaf in _RAW:
        return f"{key}.{leaf}" if key else leaf
    if parents[-1] == "in_proj":
        return key[: -len("in_proj")] + ("in_proj_weight" if leaf == "kernel" else "in_proj_bias")
    return key + "." + {"kernel": "weight", "scale": "weight", "embedding": "weight",
                        "bias": "bias"}[leaf]


def expected_state_shapes(config: CLIPConfig = VIT_B32) -> dict[str, tuple[int, ...]]:
    """``{torch_key: shape}`` of OpenAI's state dict for ``config`` (from the Flax shapes)."""
    shapes = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(param_shapes(config))[0]:
        flax_path = "/".join(p.key for p in path)
        shape = tuple(leaf.shape)
        if flax_path.endswith("kernel"):
            shape = (shape[3], shape[2], shape[0], shape[1]) if len(shape) == 4 else shape[::-1]
        shapes[_to_torch_key(flax_path)] = shape
    return shapes


def infer_config(state: dict[str, np.ndarray]) -> CLIPConfig:
    """Hyper-parameters from a ViT CLIP state dict, as OpenAI's ``build_model`` infers them."""
    conv = np.shape(state["visual.conv1.weight"])
    vision_layers = sum(k.startswith("visual.") and k.endswith(".attn.in_proj_weight")
                        for k in state)
    grid = round((np.shape(state["visual.positional_embedding"])[0] - 1) ** 0.5)
    width = np.shape(state["ln_final.weight"])[0]
    layers = len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks")})
    return CLIPConfig(
        embed_dim=np.shape(state["text_projection"])[1], image_resolution=conv[-1] * grid,
        vision_layers=vision_layers, vision_width=conv[0], vision_patch_size=conv[-1],
        context_length=np.shape(state["positional_embedding"])[0],
        vocab_size=np.shape(state["token_embedding.weight"])[0], transformer_width=width,
        transformer_heads=width // 64, transformer_layers=layers)


def convert(state: dict[str, np.ndarray], config: CLIPConfig = VIT_B32) -> dict:
    """Converts an OpenAI CLIP state dict to ``{"params": ...}`` (float32 numpy).

    Args:
      state: ``{torch_key: array}`` (fp16 or fp32), checked against
        ``expected_state_shapes(config)`` first (clear error naming missing/unexpected keys).
      config: the architecture the file should hold (ViT-B/32 by default).
    """
    state = {k: np.asarray(v) for k, v in state.items() if k not in TORCHSCRIPT_EXTRAS}
    params_lib.check_state_dict_keys(expected_state_shapes(config), state,
                                     f"CLIP state dict ({config})")
    flat = {}
    for key, value in state.items():
        path = _to_flax_path(key)
        value = value.astype(np.float32)
        if path.endswith("kernel"):
            value = value.transpose(2, 3, 1, 0) if value.ndim == 4 else value.T
        flat[path] = value
    return params_lib.unflatten(flat)
