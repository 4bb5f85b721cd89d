"""Writes tests/fixtures/stylegan2_*_keys.json from the *official* code (run by hand, once).

Usage (paths to local checkouts of the official repositories; nothing is downloaded or copied):
  python -m tests.torch_refs_sg2.make_key_fixtures ROSINALITY_REPO NVLABS_ADA_REPO

rosinality's ``op`` package compiles CUDA code on import; set ``ROSINALITY_CPU_STUB=1`` to have
this script replace ``torch.utils.cpp_extension.load`` by a no-op first (model construction on the
meta device needs no kernel). Full-size FFHQ-1024 config-f / ADA paper1024 networks are built on
the meta device (rosinality) or the CPU (NVlabs).
"""

import json
import os
import sys

import torch


def dump(state: dict, path: str) -> None:
    keys = {k: list(v.shape) for k, v in state.items()}
    with open(path, "w") as f:
        json.dump(dict(sorted(keys.items())), f, indent=1)
    print(path, len(keys))


def main(ros_repo: str, nv_repo: str, out: str = "tests/fixtures") -> None:
    import torch.utils.cpp_extension as ext

    if os.environ.get("ROSINALITY_CPU_STUB"):
        ext.load = lambda *a, **k: None
    sys.path.insert(0, ros_repo)
    import model as ros  # noqa: E402

    with torch.device("meta"):
        dump(ros.Generator(1024, 512, 8, channel_multiplier=2).state_dict(),
             f"{out}/stylegan2_rosinality_ffhq1024_g_keys.json")
        dump(ros.Discriminator(1024, channel_multiplier=2).state_dict(),
             f"{out}/stylegan2_rosinality_ffhq1024_d_keys.json")
    sys.path[0] = nv_repo
    from training import networks as nv  # noqa: E402

    if True:  # NVlabs' setup_filter copies data, so build on the CPU (~0.5 GB)
        g = nv.Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3,
                         mapping_kwargs=dict(num_layers=8),
                         synthesis_kwargs=dict(channel_base=32768, channel_max=512,
                                               num_fp16_res=4, conv_clamp=256))
        d = nv.Discriminator(c_dim=0, img_resolution=1024, img_channels=3, channel_base=32768,
                             channel_max=512, num_fp16_res=4, conv_clamp=256,
                             epilogue_kwargs=dict(mbstd_group_size=4))
        dump(g.state_dict(), f"{out}/stylegan2_nvlabs_ffhq1024_g_keys.json")
        dump(d.state_dict(), f"{out}/stylegan2_nvlabs_ffhq1024_d_keys.json")


if __name__ == "__main__":
    main(*sys.argv[1:])
