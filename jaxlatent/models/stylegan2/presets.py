"""StyleGAN2 architecture hyper-parameters: one JSON-able dict per network, and named presets.

A config is what `save_params(..., **metadata)` stores next to converted weights, so a builder
needs only the file path. Channel widths are stored explicitly per resolution, which covers both
rosinality's ``channel_multiplier`` table and NVlabs' ``min(channel_base // res, channel_max)``.

References:
  Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020 (config-f).
  Karras et al., "Training Generative Adversarial Networks with Limited Data", NeurIPS 2020 (ADA).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

GENERATOR_ARCH = "stylegan2_generator"
DISCRIMINATOR_ARCH = "stylegan2_discriminator"


def rosinality_channels(size: int, channel_multiplier: int = 2) -> dict[int, int]:
    """Channel width per resolution as in rosinality's ``Generator.channels`` table."""
    table = {4: 512, 8: 512, 16: 512, 32: 512}
    for res in (64, 128, 256, 512, 1024):
        table[res] = 16384 * channel_multiplier // res
    return {2**i: table[2**i] for i in range(2, log2(size) + 1)}


def nvlabs_channels(size: int, channel_base: int = 32768, channel_max: int = 512) -> dict[int, int]:
    """Channel width per resolution as in stylegan2-ada-pytorch (``channels_dict``)."""
    return {2**i: min(channel_base // 2**i, channel_max) for i in range(2, log2(size) + 1)}


def log2(size: int) -> int:
    """log2 of a power-of-two resolution >= 4 (raises ValueError otherwise)."""
    if size < 4 or size & (size - 1):
        raise ValueError(f"StyleGAN2 resolution must be a power of two >= 4, got {size}")
    return int(math.log2(size))


def num_ws(size: int) -> int:
    """Number of per-layer styles (rosinality ``n_latent``, NVlabs ``num_ws``): 2 log2(size) - 2."""
    return 2 * log2(size) - 2


def generator_config(
    size: int,
    style_dim: int = 512,
    n_mlp: int = 8,
    channel_multiplier: int = 2,
    channels: Mapping[Any, int] | None = None,
    z_dim: int | None = None,
    lr_mlp: float = 0.01,
    conv_clamp: float | None = None,
) -> dict:
    """Normalised generator hyper-parameters (``channels`` keys are strings for JSON)."""
    chans = rosinality_channels(size, channel_multiplier) if channels is None else channels
    chans = {int(k): int(v) for k, v in chans.items()}
    want = {2**i for i in range(2, log2(size) + 1)}
    if set(chans) != want:
        raise ValueError(f"channels must give every resolution {sorted(want)}, got {sorted(chans)}")
    return {
        "arch": GENERATOR_ARCH,
        "size": int(size),
        "style_dim": int(style_dim),
        "z_dim": int(style_dim if z_dim is None else z_dim),
        "n_mlp": int(n_mlp),
        "channels": {str(k): chans[k] for k in sorted(chans)},
        "lr_mlp": float(lr_mlp),
        "conv_clamp": None if conv_clamp is None else float(conv_clamp),
        "num_ws": num_ws(size),
    }


def discriminator_config(
    size: int,
    channel_multiplier: int = 2,
    channels: Mapping[Any, int] | None = None,
    mbstd_group: int | None = 4,
    conv_clamp: float | None = None,
) -> dict:
    """Normalised discriminator hyper-parameters; ``mbstd_group=None`` means the whole batch."""
    chans = rosinality_channels(size, channel_multiplier) if channels is None else channels
    chans = {int(k): int(v) for k, v in chans.items()}
    want = {2**i for i in range(2, log2(size) + 1)}
    if set(chans) != want:
        raise ValueError(f"channels must give every resolution {sorted(want)}, got {sorted(chans)}")
    return {
        "arch": DISCRIMINATOR_ARCH,
        "size": int(size),
        "channels": {str(k): chans[k] for k in sorted(chans)},
        "mbstd_group": None if mbstd_group is None else int(mbstd_group),
        "conv_clamp": None if conv_clamp is None else float(conv_clamp),
    }


def channels_of(config: Mapping[str, Any]) -> dict[int, int]:
    """``{resolution: width}`` with integer keys from a stored config."""
    return {int(k): int(v) for k, v in config["channels"].items()}


# Named presets: keyword arguments of (generator_config, discriminator_config).
# rosinality's FFHQ config-f checkpoint (converted from the official TF release).
FFHQ1024 = dict(size=1024, style_dim=512, n_mlp=8, channel_multiplier=2)
# rosinality-trained FFHQ 256 (train.py defaults).
FFHQ256_ROSINALITY = dict(size=256, style_dim=512, n_mlp=8, channel_multiplier=2)
# NVIDIA stylegan2-ffhq-256x256.pkl / ADA "paper256": channel_base 16384, clamp 256, mbstd 8.
FFHQ256_NVLABS = dict(
    size=256, style_dim=512, n_mlp=8, channels=nvlabs_channels(256, 16384), conv_clamp=256.0
)
# ADA AFHQ (cat/dog/wild) 512, "paper512": channel_base 32768, clamp 256, mbstd 8.
AFHQ512 = dict(size=512, style_dim=512, n_mlp=8, channels=nvlabs_channels(512), conv_clamp=256.0)
# ADA MetFaces (released at 1024), "paper1024": clamp 256, mbstd 4.
METFACES1024 = dict(size=1024, style_dim=512, n_mlp=8, channels=nvlabs_channels(1024),
                    conv_clamp=256.0)

PRESETS: dict[str, dict] = {
    "ffhq1024": FFHQ1024,
    "ffhq256": FFHQ256_ROSINALITY,
    "ffhq256_nvlabs": FFHQ256_NVLABS,
    "afhq512": AFHQ512,
    "metfaces1024": METFACES1024,
}
MBSTD_GROUP = {"ffhq256_nvlabs": 8, "afhq512": 8}


def preset(name: str) -> tuple[dict, dict]:
    """``(generator_config, discriminator_config)`` of a named preset."""
    if name not in PRESETS:
        raise KeyError(f"unknown StyleGAN2 preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    kw = dict(PRESETS[name])
    g = generator_config(**kw)
    d = discriminator_config(
        kw["size"], channels=channels_of(g), mbstd_group=MBSTD_GROUP.get(name, 4),
        conv_clamp=kw.get("conv_clamp"),
    )
    return g, d
