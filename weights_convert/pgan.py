"""Converts a pytorch_GAN_zoo Progressive GAN checkpoint to jaxlatent ``.npz`` files.

Usage::

    python weights_convert/pgan.py --input celebaHQ_256.pth --output pgan-celebahq-256.npz \
        [--net avgG|netG] [--discriminator-output pgan-celebahq-256-D.npz]

The zoo checkpoint is a pickle ``{"config": BaseConfig, "netG", "netD", "avgG"}``. Its config
object is a ``models.utils.config.BaseConfig``; a stand-in class is registered so the file
unpickles without the zoo installed (``torch.load(weights_only=False)``: only load files you
trust). The generator defaults to ``avgG`` (the EMA weights the zoo samples with).
"""

from __future__ import annotations

import argparse
import os
import sys
import types

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from jaxlatent.models.pgan import convert  # noqa: E402
from jaxlatent.params import save_params  # noqa: E402


class BaseConfig:
    """Stand-in for ``models.utils.config.BaseConfig`` (a plain attribute bag)."""


def _register_zoo_config() -> None:
    for name in ("models", "models.utils"):
        sys.modules.setdefault(name, types.ModuleType(name))
    module = types.ModuleType("models.utils.config")
    module.BaseConfig = BaseConfig
    sys.modules.setdefault("models.utils.config", module)


def _numpy(state) -> dict[str, np.ndarray]:
    return {k.removeprefix("module."): v.cpu().numpy() for k, v in state.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True, help="generator .npz")
    parser.add_argument("--net", default="avgG", choices=["avgG", "netG"])
    parser.add_argument("--discriminator-output", help="also write netD to this .npz")
    args = parser.parse_args(argv)
    _register_zoo_config()
    ckpt = torch.load(args.input, map_location="cpu", weights_only=False)
    zoo = ckpt["config"] if isinstance(ckpt["config"], dict) else vars(ckpt["config"])
    cfg = convert.config_from_zoo(zoo)
    print(f"PGAN config: {cfg}")
    g = convert.convert_generator(_numpy(ckpt[args.net]), cfg)
    save_params(args.output, g, config=cfg, net_kind="generator", net=args.net,
                source=os.path.basename(args.input))
    print(f"wrote {args.output}")
    if args.discriminator_output:
        d = convert.convert_discriminator(_numpy(ckpt["netD"]), cfg)
        save_params(args.discriminator_output, d, config=cfg, net_kind="discriminator",
                    source=os.path.basename(args.input))
        print(f"wrote {args.discriminator_output}")


if __name__ == "__main__":
    main()
