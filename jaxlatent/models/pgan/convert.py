"""Converts pytorch_GAN_zoo Progressive GAN checkpoints (``netG``/``avgG``/``netD``) to Flax.

A zoo checkpoint is ``{"config": BaseConfig, "netG": ..., "netD": ..., "avgG": ...}``; every
layer is ``<name>.module.{weight,bias}`` (the He constant is applied at run time, not stored).
Layers the fixed-scale forward never uses (to/fromRGB of earlier scales when alpha = 0) are
checked but dropped.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from jaxlatent.params import check_state_dict_keys

_TANH_LOSSES = ("MSE", "DCGAN")  # base_loss_criterions: generationActivation = tanh


def config_from_zoo(zoo: Mapping[str, Any]) -> dict:
    """Our config from the zoo's ``config`` fields (``vars(checkpoint["config"])``)."""
    category = int(zoo.get("categoryVectorDim", 0) or 0)
    return dict(dim_latent=int(zoo["latentVectorDim"]), category_dim=category,
                depth_scale0=int(zoo["depthScale0"]),
                depth_other_scales=[int(d) for d in zoo.get("depthOtherScales", [])],
                dim_output=int(zoo.get("dimOutput", 3)), alpha=float(zoo.get("alpha", 0.0)),
                leak=float(zoo.get("leakyReluLeak", 0.2)),
                equalized=bool(zoo.get("equalizedlR", True)),
                mini_batch_std=bool(zoo.get("miniBatchStdDev", False)),
                tanh=zoo.get("lossCriterion", "WGANGP") in _TANH_LOSSES,
                size_decision_layer=1 + category)


def _layer(keys: dict, name: str, shape: tuple[int, ...]) -> None:
    keys[f"{name}.module.weight"], keys[f"{name}.module.bias"] = shape, (shape[0],)


def expected_keys_g(cfg: Mapping) -> dict[str, tuple[int, ...]]:
    """``{torch_key: shape}`` of the zoo ``GNet`` state dict for ``cfg``."""
    d0, out = cfg["depth_scale0"], cfg["dim_output"]
    keys: dict = {}
    _layer(keys, "formatLayer", (16 * d0, cfg["dim_latent"]))
    _layer(keys, "groupScale0.0", (d0, d0, 3, 3))
    _layer(keys, "toRGBLayers.0", (out, d0, 1, 1))
    last = d0
    for s, d in enumerate(cfg["depth_other_scales"]):
        _layer(keys, f"scaleLayers.{s}.0", (d, last, 3, 3))
        _layer(keys, f"scaleLayers.{s}.1", (d, d, 3, 3))
        _layer(keys, f"toRGBLayers.{s + 1}", (out, d, 1, 1))
        last = d
    return keys


def expected_keys_d(cfg: Mapping) -> dict[str, tuple[int, ...]]:
    """``{torch_key: shape}`` of the zoo ``DNet`` state dict for ``cfg``."""
    d0, c_in = cfg["depth_scale0"], cfg["dim_output"]
    keys: dict = {}
    _layer(keys, "fromRGBLayers.0", (d0, c_in, 1, 1))
    _layer(keys, "groupScaleZero.0", (d0, d0 + int(cfg["mini_batch_std"]), 3, 3))
    _layer(keys, "groupScaleZero.1", (d0, 16 * d0))
    _layer(keys, "decisionLayer", (cfg["size_decision_layer"], d0))
    last = d0
    for s, d in enumerate(cfg["depth_other_scales"]):
        _layer(keys, f"scaleLayers.{s}.0", (d, d, 3, 3))
        _layer(keys, f"scaleLayers.{s}.1", (last, d, 3, 3))
        _layer(keys, f"fromRGBLayers.{s + 1}", (d, c_in, 1, 1))
        last = d
    return keys


def _used_rgb(cfg: Mapping, prefix: str, discriminator: bool) -> set[str]:
    n = len(cfg["depth_other_scales"])
    used = {f"{prefix}.{n}"}
    blend = cfg["alpha"] > 0 and (n > 1 if discriminator else n > 0)
    return used | ({f"{prefix}.{n - 1}"} if blend else set())


def _convert(state: Mapping[str, np.ndarray], want: dict, rgb: str, used: set[str],
             what: str) -> dict:
    check_state_dict_keys(want, state, what)
    params: dict = {}
    for key, value in state.items():
        layer, _, leaf = key.rpartition(".module.")
        if layer.startswith(rgb) and layer not in used:
            continue
        name = layer.replace(".", "_")
        value = np.asarray(value, np.float32)
        if leaf == "weight":
            value = value.transpose(2, 3, 1, 0) if value.ndim == 4 else value.T
        params.setdefault(name, {}).setdefault("module", {})["kernel" if leaf == "weight"
                                                             else "bias"] = value
    return {"params": params}


def convert_generator(state: Mapping[str, np.ndarray], cfg: Mapping) -> dict:
    """``netG``/``avgG`` state dict -> Flax variables of `GNet`.

    Raises:
      ValueError: naming missing/unexpected keys or wrong shapes.
    """
    return _convert(state, expected_keys_g(cfg), "toRGBLayers",
                    _used_rgb(cfg, "toRGBLayers", False), "PGAN generator state dict")


def convert_discriminator(state: Mapping[str, np.ndarray], cfg: Mapping) -> dict:
    """``netD`` state dict -> Flax variables of `DNet`.

    Raises:
      ValueError: naming missing/unexpected keys or wrong shapes.
    """
    return _convert(state, expected_keys_d(cfg), "fromRGBLayers",
                    _used_rgb(cfg, "fromRGBLayers", True), "PGAN discriminator state dict")
