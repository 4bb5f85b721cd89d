"""Named BigGAN configurations (hyper-parameters only; weights come from converted files).

``biggan-*``: ajbrock/BigGAN-PyTorch ``Generator`` as used by BigGAN-AM and the TFHub converter
(``TFHub/converter.py: get_config``): G_ch 96, shared_dim 128, hierarchical z in 20-d chunks
(16-d at 512 px), attention at 64 px (128 px for the 256 model).
``biggan-deep-*``: huggingface/pytorch-pretrained-BigGAN (BigGAN-deep from TF-Hub), the layer
lists of its ``biggan-deep-{128,256,512}-config.json``.
"""

from __future__ import annotations

import copy

# BigGAN-PyTorch Generator kwargs. bn_eps (the blocks' CCBNs; the output BN is always 1e-5): 1e-5
# for the 138k G_ema release, 1e-4 for files made by TFHub/converter.py.
BIGGAN_PYTORCH = {
    "biggan-128": dict(arch="biggan", resolution=128, G_ch=96, dim_z=120, shared_dim=128,
                       attention="64", hier=True, n_classes=1000, bn_eps=1e-5),
    "biggan-256": dict(arch="biggan", resolution=256, G_ch=96, dim_z=140, shared_dim=128,
                       attention="128", hier=True, n_classes=1000, bn_eps=1e-4),
    "biggan-512": dict(arch="biggan", resolution=512, G_ch=96, dim_z=128, shared_dim=128,
                       attention="64", hier=True, n_classes=1000, bn_eps=1e-4),
}


def _deep_layers(mults: list[int]) -> list[list]:
    """Two GenBlocks per resolution: [no-up, c, c] then [up, c, c_next] (channel multipliers)."""
    layers = []
    for c_in, c_out in zip(mults[:-1], mults[1:]):
        layers += [[False, c_in, c_in], [True, c_in, c_out]]
    return layers


_DEEP_MULTS = {128: [16, 16, 8, 4, 2, 1], 256: [16, 16, 8, 8, 4, 2, 1],
               512: [16, 16, 8, 8, 4, 2, 1, 1]}

# pytorch-pretrained-biggan BigGANConfig fields (layers: [up_sample, in_mult, out_mult]).
BIGGAN_DEEP = {
    f"biggan-deep-{res}": dict(arch="biggan_deep", output_dim=res, z_dim=128, class_embed_dim=128,
                               channel_width=128, num_classes=1000, layers=_deep_layers(mults),
                               attention_layer_position=8, eps=1e-4, n_stats=51)
    for res, mults in _DEEP_MULTS.items()
}

PRESETS = {**BIGGAN_PYTORCH, **BIGGAN_DEEP}


def get(name: str) -> dict:
    """Returns a copy of the preset ``name``.

    Raises:
      KeyError: unknown name, listing the valid ones.
    """
    if name not in PRESETS:
        raise KeyError(f"unknown BigGAN preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    return copy.deepcopy(PRESETS[name])
