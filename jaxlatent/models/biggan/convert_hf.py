"""Converts a huggingface/pytorch-pretrained-BigGAN (TF-Hub BigGAN-deep) state dict to Flax.

Every SN layer stores ``weight_orig``, ``weight_u``, ``weight_v`` (``torch.nn.utils.spectral_norm``);
the folded kernel is ``weight_orig / (u^T W v)``, what torch uses in eval mode. The class
embedding ``embeddings.weight`` ``[128, 1000]`` (no SN) is kept as the table ``[1000, 128]``.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from jaxlatent.models.biggan import sn
from jaxlatent.params import check_state_dict_keys


def _sn(keys: dict, prefix: str, shape: tuple[int, ...], bias: bool) -> None:
    keys[prefix + "weight_orig"] = shape
    keys[prefix + "weight_u"] = (shape[0],)
    keys[prefix + "weight_v"] = (int(np.prod(shape[1:])),)
    if bias:
        keys[prefix + "bias"] = (shape[0],)


def _bn(keys: dict, prefix: str, c: int, cond: int | None, n_stats: int) -> None:
    keys[prefix + "running_means"] = keys[prefix + "running_vars"] = (n_stats, c)
    if cond is None:
        keys[prefix + "weight"] = keys[prefix + "bias"] = (c,)
    else:
        _sn(keys, prefix + "scale.", (c, cond), False)
        _sn(keys, prefix + "offset.", (c, cond), False)


def expected_keys(cfg: Mapping) -> dict[str, tuple[int, ...]]:
    """``{torch_key: shape}`` of ``BigGAN(BigGANConfig(**cfg)).state_dict()``."""
    ch, n_stats = cfg["channel_width"], cfg["n_stats"]
    cond = cfg["z_dim"] + cfg["class_embed_dim"]
    keys: dict[str, tuple[int, ...]] = {"embeddings.weight": (cfg["class_embed_dim"],
                                                              cfg["num_classes"])}
    _sn(keys, "generator.gen_z.", (4 * 4 * 16 * ch, cond), True)
    index = 0
    for i, (_, c_in, c_out) in enumerate(cfg["layers"]):
        c_in, c_out = ch * c_in, ch * c_out
        if i == cfg["attention_layer_position"]:
            p = f"generator.layers.{index}."
            for name, o, n in (("theta", c_in // 8, c_in), ("phi", c_in // 8, c_in),
                               ("g", c_in // 2, c_in), ("o_conv", c_in, c_in // 2)):
                _sn(keys, f"{p}snconv1x1_{name}.", (o, n, 1, 1), False)
            keys[p + "gamma"] = (1,)
            index += 1
        p, mid = f"generator.layers.{index}.", c_in // 4
        for k, (a, b, ks) in enumerate([(c_in, mid, 1), (mid, mid, 3), (mid, mid, 3),
                                        (mid, c_out, 1)]):
            _bn(keys, f"{p}bn_{k}.", a, cond, n_stats)
            _sn(keys, f"{p}conv_{k}.", (b, a, ks, ks), True)
        index += 1
    _bn(keys, "generator.bn.", ch, None, n_stats)
    _sn(keys, "generator.conv_to_rgb.", (ch, ch, 3, 3), True)
    return keys


def convert(state: Mapping[str, np.ndarray], cfg: Mapping) -> dict:
    """Folds spectral norm and renames ``state`` into Flax variables for `BigGANDeep`.

    Args:
      state: flat ``{torch_key: array}`` of a pytorch-pretrained-biggan ``BigGAN``.
      cfg: ``BigGANConfig`` fields (see `presets.BIGGAN_DEEP`).

    Returns:
      ``{"params": ..., "batch_stats": ...}``.

    Raises:
      ValueError: naming missing/unexpected keys or wrong shapes.
    """
    check_state_dict_keys(expected_keys(cfg), state, "pytorch-pretrained-biggan state dict")
    out: dict = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        path = sn.flax_path(prefix)
        if leaf in ("weight_u", "weight_v"):
            continue
        if key == "embeddings.weight":
            sn.put(out, "params", ["embeddings", "kernel"], np.asarray(value).T)
        elif leaf in ("running_means", "running_vars"):
            sn.put(out, "batch_stats", path + [leaf], value)
        elif leaf == "weight_orig":
            w = sn.fold_torch_sn(value, state[prefix + ".weight_u"], state[prefix + ".weight_v"])
            sn.put(out, "params", path + ["kernel"], sn.kernel(w))
        else:  # conv/linear bias, unconditional bn weight/bias, attention gamma
            sn.put(out, "params", path + [leaf], value)
    return out
