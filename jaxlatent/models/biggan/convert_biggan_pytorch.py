"""Converts an ajbrock/BigGAN-PyTorch generator state dict (``G_ema.pth``) to Flax variables.

The state dict holds ``weight``/``bias`` plus the spectral-norm buffers ``u0``/``sv0`` of every
SN layer, ``shared.weight`` and the batch-norm ``stored_mean``/``stored_var``. Files written by
``TFHub/converter.py`` lack the ``sv0`` entries (unused at eval); both layouts are accepted.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from jaxlatent.models.biggan import sn
from jaxlatent.models.biggan.generator import MULTS, g_arch
from jaxlatent.params import check_state_dict_keys


def _chunk(cfg: Mapping) -> int:
    n_blocks = len(g_arch(1, cfg["resolution"], cfg["attention"]))
    return cfg["dim_z"] // (n_blocks + 1) if cfg["hier"] else cfg["dim_z"]


def expected_keys(cfg: Mapping) -> dict[str, tuple[int, ...]]:
    """``{torch_key: shape}`` of the official generator state dict for a preset-style ``cfg``."""
    keys: dict[str, tuple[int, ...]] = {}

    def snl(prefix: str, shape: tuple[int, ...], bias: bool = True) -> None:
        keys[prefix + "weight"] = shape
        if bias:
            keys[prefix + "bias"] = (shape[0],)
        keys[prefix + "u0"], keys[prefix + "sv0"] = (1, shape[0]), (1,)

    arch = g_arch(cfg["G_ch"], cfg["resolution"], cfg["attention"])
    cond = cfg["shared_dim"] + (_chunk(cfg) if cfg["hier"] else 0)
    keys["shared.weight"] = (cfg["n_classes"], cfg["shared_dim"])
    snl("linear.", (arch[0][0] * 16, _chunk(cfg)))
    for i, (c_in, c_out, attn) in enumerate(arch):
        p = f"blocks.{i}.0."
        snl(p + "conv1.", (c_out, c_in, 3, 3))
        snl(p + "conv2.", (c_out, c_out, 3, 3))
        snl(p + "conv_sc.", (c_out, c_in, 1, 1))
        for bn, c in (("bn1.", c_in), ("bn2.", c_out)):
            snl(p + bn + "gain.", (c, cond), bias=False)
            snl(p + bn + "bias.", (c, cond), bias=False)
            keys[p + bn + "stored_mean"] = keys[p + bn + "stored_var"] = (c,)
        if attn:
            q = f"blocks.{i}.1."
            for name, shape in (("theta", (c_out // 8, c_out)), ("phi", (c_out // 8, c_out)),
                                ("g", (c_out // 2, c_out)), ("o", (c_out, c_out // 2))):
                snl(q + name + ".", shape + (1, 1), bias=False)
            keys[q + "gamma"] = ()
    ch = arch[-1][1]
    for name in ("gain", "bias", "stored_mean", "stored_var"):
        keys["output_layer.0." + name] = (ch,)
    snl("output_layer.2.", (3, ch, 3, 3))
    return keys


def convert(state: Mapping[str, np.ndarray], cfg: Mapping, sn_eps: float = 1e-6) -> dict:
    """Folds spectral norm and renames ``state`` into Flax variables for `Generator`.

    Args:
      state: flat ``{torch_key: array}`` of a BigGAN-PyTorch generator.
      cfg: preset-style config (see `presets.BIGGAN_PYTORCH`).
      sn_eps: ``SN_eps`` of the run (1e-6 for the 138k release, 1e-4 for TFHub files); it only
        guards the normalisation of near-zero vectors.

    Returns:
      ``{"params": ..., "batch_stats": ...}``.

    Raises:
      ValueError: naming missing/unexpected keys or wrong shapes.
    """
    want = expected_keys(cfg)
    if not any(k.endswith(".sv0") for k in state):
        want = {k: v for k, v in want.items() if not k.endswith(".sv0")}
    check_state_dict_keys(want, state, "BigGAN-PyTorch generator state dict")
    out: dict = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        path = sn.flax_path(prefix)
        if leaf in ("u0", "sv0"):
            continue
        if key == "shared.weight":
            sn.put(out, "params", ["shared", "embedding"], value)
        elif leaf in ("stored_mean", "stored_var"):
            sn.put(out, "batch_stats", path + [leaf], value)
        elif leaf == "weight":
            w = sn.fold_biggan_pytorch_sn(value, state[prefix + ".u0"], sn_eps)
            sn.put(out, "params", path + ["kernel"], sn.kernel(w))
        else:  # conv/linear bias, output bn gain/bias, attention gamma
            sn.put(out, "params", path + [leaf], value)
    return out


def infer_config(state: Mapping[str, np.ndarray]) -> dict:
    """Reads G_ch, resolution, attention, dim_z, shared_dim and hier off the tensor shapes."""
    n_blocks = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    resolution = 4 * 2**n_blocks
    ch = int(np.shape(state["output_layer.0.gain"])[0]) // MULTS[resolution][1][-1]
    attn = [str(8 * 2**i) for i in range(n_blocks) if f"blocks.{i}.1.gamma" in state]
    shared_dim = int(np.shape(state["shared.weight"])[1])
    chunk = int(np.shape(state["linear.weight"])[1])
    hier = int(np.shape(state["blocks.0.0.bn1.gain.weight"])[1]) > shared_dim
    return dict(arch="biggan", resolution=resolution, G_ch=ch,
                dim_z=chunk * (n_blocks + 1) if hier else chunk, shared_dim=shared_dim,
                attention="_".join(attn), hier=hier,
                n_classes=int(np.shape(state["shared.weight"])[0]))
