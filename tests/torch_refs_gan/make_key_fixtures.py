"""Writes tests/fixtures/{biggan,pgan}_*_keys.json from the torch architecture definitions.

Run from the repository root: ``python -m tests.torch_refs_gan.make_key_fixtures``. Modules are
built on the meta device, so full-size models cost no memory. BigGAN-deep keys come from the
installed pytorch-pretrained-biggan ``BigGAN(BigGANConfig(...))``; BigGAN-PyTorch and PGAN keys from
the compact references in this package.
"""

from __future__ import annotations

import json
import os

import torch

from tests.torch_refs_gan import biggan_pytorch, pgan

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")

# pytorch_GAN_zoo hub "celebAHQ-256": 7 scales 4..256 px, WGAN-GP, minibatch stddev, no classes.
PGAN_CELEBAHQ_256 = dict(dim_latent=512, depth_scale0=512,
                         depth_other_scales=[512, 512, 512, 256, 128, 64],
                         mini_batch_std=True, size_decision_layer=1, dim_output=3)


def _shapes(module: torch.nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def _write(name: str, keys: dict) -> None:
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(keys.items())]
    with open(os.path.join(FIXTURES, f"{name}_keys.json"), "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def main() -> None:
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    from jaxlatent.models.biggan import presets

    with torch.device("meta"):
        cfg = presets.get("biggan-128")
        g = biggan_pytorch.Generator(resolution=128, G_ch=96, dim_z=120, shared_dim=128,
                                     attention=cfg["attention"])
        _write("biggan_pytorch_128", _shapes(g))
        for res in (128, 256, 512):
            cfg = presets.get(f"biggan-deep-{res}")
            fields = {k: v for k, v in cfg.items() if k != "arch"}
            _write(f"biggan_hf_deep_{res}", _shapes(BigGAN(BigGANConfig(**fields))))
        gnet, dnet = pgan.build(**PGAN_CELEBAHQ_256)
        _write("pgan_celebahq_256_netG", _shapes(gnet))
        _write("pgan_celebahq_256_netD", _shapes(dnet))


if __name__ == "__main__":
    main()
