"""NVlabs stylegan2-ada-pytorch networks (``G_ema``, ``D`` state dicts) -> Flax variables.

Pure numpy. Maps the NVlabs module tree (``mapping.fc{i}``, ``synthesis.b{res}.{conv0,conv1,
torgb}``, ``b{res}.{fromrgb,conv0,conv1,skip}``, ``b4.{conv,fc,out}``) onto the rosinality-layout
Flax modules. Besides renames and transposes there is one named gain: NVlabs applies no
equalised-lr gain to SynthesisLayer weights (demodulation removes it), so `synthesis_kernel`
multiplies them by sqrt(fan_in) so that the port's run-time 1/sqrt(fan_in) gives back exactly the
NVlabs weight. ToRGB weights need no gain: NVlabs scales the styles by the same factor instead.

Only unconditional (``c_dim == 0``) "skip" generators and "resnet" discriminators (StyleGAN2
config-e/f, all ADA releases) are supported.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from jaxlatent.models.stylegan2 import layers, presets
from jaxlatent.models.stylegan2.convert_rosinality import (
    Entry, _same, apply_entries, conv_kernel, linear_kernel,
)

FILTER = layers.make_kernel()  # NVlabs setup_filter([1, 3, 3, 1]): normalised 4x4


def synthesis_kernel(w: np.ndarray) -> np.ndarray:
    """NVlabs SynthesisLayer weight [O, I, k, k] -> HWIO times sqrt(I k k) (see module doc)."""
    return conv_kernel(w * math.sqrt(w.shape[1] * w.shape[2] * w.shape[3]))


def _fc(key: str, path: str, i: int, o: int) -> list[Entry]:
    return [Entry(f"{key}.weight", (o, i), f"{path}/kernel", linear_kernel),
            Entry(f"{key}.bias", (o,), f"{path}/bias", _same)]


def _layer(key: str, path: str, i: int, o: int, sd: int, res: int, noise: int) -> list[Entry]:
    return [Entry(f"{key}.weight", (o, i, 3, 3), f"{path}/conv/kernel", synthesis_kernel),
            *_fc(f"{key}.affine", f"{path}/conv/modulation", sd, i),
            Entry(f"{key}.noise_strength", (), f"{path}/noise/weight", lambda x: x.reshape(1)),
            Entry(f"{key}.bias", (o,), f"{path}/activate/bias", _same),
            Entry(f"{key}.resample_filter", (4, 4), fixed=FILTER),
            Entry(f"{key}.noise_const", (res, res), f"buffers/noises/noise_{noise}",
                  lambda x: x.reshape(1, res, res, 1))]


def _torgb(key: str, path: str, i: int, sd: int) -> list[Entry]:
    return [Entry(f"{key}.weight", (3, i, 1, 1), f"{path}/conv/kernel", conv_kernel),
            *_fc(f"{key}.affine", f"{path}/conv/modulation", sd, i),
            Entry(f"{key}.bias", (3,), f"{path}/bias", _same)]


def generator_entries(cfg: Mapping[str, Any]) -> list[Entry]:
    """Every key of NVlabs ``Generator.state_dict()`` (including buffers) for ``cfg``."""
    sd, ch = cfg["style_dim"], presets.channels_of(cfg)
    out = [Entry("mapping.w_avg", (sd,), "buffers/w_avg", _same)]
    for i in range(cfg["n_mlp"]):
        out += _fc(f"mapping.fc{i}", f"params/style_{i + 1}", cfg["z_dim"] if i == 0 else sd, sd)
    out += [Entry("synthesis.b4.const", (ch[4], 4, 4), "params/input/input",
                  lambda x: x.transpose(1, 2, 0)[None]),
            Entry("synthesis.b4.resample_filter", (4, 4), fixed=FILTER)]
    out += _layer("synthesis.b4.conv1", "params/conv1", ch[4], ch[4], sd, 4, 0)
    out += _torgb("synthesis.b4.torgb", "params/to_rgb1", ch[4], sd)
    for j, res in enumerate(sorted(ch)[1:]):
        b, c0, c1 = f"synthesis.b{res}", ch[res // 2], ch[res]
        out.append(Entry(f"{b}.resample_filter", (4, 4), fixed=FILTER))
        out += _layer(f"{b}.conv0", f"params/convs_{2 * j}", c0, c1, sd, res, 2 * j + 1)
        out += _layer(f"{b}.conv1", f"params/convs_{2 * j + 1}", c1, c1, sd, res, 2 * j + 2)
        out += _torgb(f"{b}.torgb", f"params/to_rgbs_{j}", c1, sd)
    return out


def _conv(key: str, path: str, i: int, o: int, k: int, bias: bool = True) -> list[Entry]:
    out = [Entry(f"{key}.weight", (o, i, k, k), f"{path}/conv/kernel", conv_kernel),
           Entry(f"{key}.resample_filter", (4, 4), fixed=FILTER)]
    if bias:
        out.append(Entry(f"{key}.bias", (o,), f"{path}/activate/bias", _same))
    return out


def discriminator_entries(cfg: Mapping[str, Any]) -> list[Entry]:
    """Every key of NVlabs ``Discriminator.state_dict()`` for ``cfg``."""
    ch, size = presets.channels_of(cfg), cfg["size"]
    out = _conv(f"b{size}.fromrgb", "params/convs_0", 3, ch[size], 1)
    for k, i in enumerate(range(presets.log2(size), 2, -1), start=1):
        res, c0, c1, path = 2**i, ch[2**i], ch[2 ** (i - 1)], f"params/convs_{k}"
        out.append(Entry(f"b{res}.resample_filter", (4, 4), fixed=FILTER))
        out += _conv(f"b{res}.conv0", f"{path}/conv1", c0, c0, 3)
        out += _conv(f"b{res}.conv1", f"{path}/conv2", c0, c1, 3)
        out += _conv(f"b{res}.skip", f"{path}/skip", c0, c1, 1, bias=False)
    out += _conv("b4.conv", "params/final_conv", ch[4] + 1, ch[4], 3)
    out += _fc("b4.fc", "params/final_linear_0", ch[4] * 16, ch[4])
    out += _fc("b4.out", "params/final_linear_1", ch[4], 1)
    return out


def _res_blocks(state: Mapping[str, Any], prefix: str) -> list[int]:
    return sorted({int(k[len(prefix):].split(".")[0]) for k in state
                   if k.startswith(prefix) and k[len(prefix):].split(".")[0].isdigit()})


def infer_generator_config(state: Mapping[str, Any], conv_clamp: float | None = None) -> dict:
    """Reads the hyper-parameters from an NVlabs ``G_ema`` state dict (shapes only).

    ``conv_clamp`` is not visible in the weights (ADA-trained networks use 256).
    """
    try:
        n_mlp = sum(1 for k in state if k.startswith("mapping.fc") and k.endswith(".weight"))
        z_dim = np.shape(state["mapping.fc0.weight"])[1]
        w_dim = np.shape(state[f"mapping.fc{n_mlp - 1}.weight"])[0]
        res = _res_blocks(state, "synthesis.b")
        ch = {4: np.shape(state["synthesis.b4.const"])[0]}
        ch.update({r: np.shape(state[f"synthesis.b{r}.conv0.weight"])[0] for r in res if r > 4})
    except (KeyError, IndexError) as err:
        raise ValueError(f"cannot read NVlabs G hyper-parameters: key {err} is missing") from err
    return presets.generator_config(max(res), w_dim, n_mlp, channels=ch, z_dim=z_dim,
                                    conv_clamp=conv_clamp)


def infer_discriminator_config(state: Mapping[str, Any], mbstd_group: int | None = 4,
                               conv_clamp: float | None = None) -> dict:
    """Reads size and channels from an NVlabs ``D`` state dict (shapes only)."""
    try:
        res = [r for r in _res_blocks(state, "b") if r > 4]
        ch = {r: np.shape(state[f"b{r}.conv0.weight"])[0] for r in res}
        ch[4] = np.shape(state["b4.conv.weight"])[0]
    except KeyError as err:
        raise ValueError(f"cannot read NVlabs D hyper-parameters: key {err} is missing") from err
    return presets.discriminator_config(max(res), channels=ch, mbstd_group=mbstd_group,
                                        conv_clamp=conv_clamp)


def _require(kw: Mapping[str, Any], keys: tuple[str, ...], net: str) -> None:
    missing = [k for k in keys if k not in kw]
    if missing:
        raise ValueError(f"NVlabs {net}.init_kwargs lacks {missing} (has {sorted(kw)})")


def generator_config_from_init_kwargs(kw: Mapping[str, Any]) -> dict:
    """`presets.generator_config` from NVlabs ``G.init_kwargs`` (a dict)."""
    _require(kw, ("z_dim", "w_dim", "img_resolution"), "G")
    mk, sk = dict(kw.get("mapping_kwargs", {})), dict(kw.get("synthesis_kwargs", {}))
    if kw.get("c_dim", 0) or sk.get("architecture", "skip") != "skip" or kw.get("img_channels", 3) != 3:
        raise NotImplementedError("only unconditional RGB 'skip' StyleGAN2 generators are supported")
    size = int(kw["img_resolution"])
    ch = presets.nvlabs_channels(size, sk.get("channel_base", 32768), sk.get("channel_max", 512))
    return presets.generator_config(
        size, kw["w_dim"], mk.get("num_layers", 8), channels=ch, z_dim=kw["z_dim"],
        lr_mlp=mk.get("lr_multiplier", 0.01), conv_clamp=sk.get("conv_clamp"))


def discriminator_config_from_init_kwargs(kw: Mapping[str, Any]) -> dict:
    """`presets.discriminator_config` from NVlabs ``D.init_kwargs`` (a dict)."""
    _require(kw, ("img_resolution",), "D")
    ek = dict(kw.get("epilogue_kwargs", {}))
    if kw.get("c_dim", 0) or kw.get("architecture", "resnet") != "resnet":
        raise NotImplementedError("only unconditional 'resnet' StyleGAN2 discriminators are supported")
    if ek.get("mbstd_num_channels", 1) != 1:
        raise NotImplementedError("only mbstd_num_channels=1 is supported")
    size = int(kw["img_resolution"])
    ch = presets.nvlabs_channels(size, kw.get("channel_base", 32768), kw.get("channel_max", 512))
    return presets.discriminator_config(size, channels=ch, mbstd_group=ek.get("mbstd_group_size", 4),
                                        conv_clamp=kw.get("conv_clamp"))


def convert_generator(state: Mapping[str, Any], config: Mapping[str, Any] | None = None,
                      what: str = "NVlabs G_ema") -> tuple[dict, dict]:
    """NVlabs ``G_ema.state_dict()`` (numpy) -> (Flax variables, metadata); w_avg from the file."""
    cfg = dict(config) if config is not None else infer_generator_config(state)
    variables = apply_entries(generator_entries(cfg), state, what)
    return variables, {**cfg, "source_format": "nvlabs", "w_avg_source": "checkpoint mapping.w_avg"}


def convert_discriminator(state: Mapping[str, Any], config: Mapping[str, Any] | None = None,
                          what: str = "NVlabs D") -> tuple[dict, dict]:
    """NVlabs ``D.state_dict()`` (numpy) -> (Flax variables, metadata)."""
    cfg = dict(config) if config is not None else infer_discriminator_config(state)
    return apply_entries(discriminator_entries(cfg), state, what), {**cfg, "source_format": "nvlabs"}
