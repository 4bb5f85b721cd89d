"""Converts a pytorch_GAN_zoo Progressive GAN checkpoint to jaxlatent ``.npz`` files.

Usage::

    python weights_convert/pgan.py --input celebaHQ_256.pth --output pgan-celebahq-256.npz \
        [--net avgG|netG] [--discriminator-output pgan-celebahq-256-D.npz]

The zoo checkpoint is a pickle ``{"config": BaseConfig, "netG", "netD", "avgG"}``. Its config
object is a ``models.utils.config.BaseConfig``; the file is read with ``torch.load(...,
weights_only=True)`` and only that one class allow-listed (mapped to a plain attribute bag), so
a file that carries any other Python object is refused and never runs code. The generator
defaults to ``avgG`` (the EMA weights the zoo samples with).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from jaxlatent.models.pgan import convert  # noqa: E402
from jaxlatent.params import save_params  # noqa: E402


from jaxlatent.params import check_torch_file  # noqa: E402

ZOO_CONFIG = "models.utils.config.BaseConfig"
ZOO_KEYS = ("config", "netG", "netD", "avgG")


class BaseConfig:
    """Stand-in for ``models.utils.config.BaseConfig`` (a plain attribute bag)."""


def load_checkpoint(path: str) -> dict:
    """Reads a zoo checkpoint without executing pickled code.

    Raises:
      ValueError: not a torch file, a pickle with objects other than tensors, containers and the
        zoo's ``BaseConfig`` (refused unexecuted), or a file without the zoo's keys.
    """
    check_torch_file(path, "PGAN checkpoint")
    try:
        with torch.serialization.safe_globals([(BaseConfig, ZOO_CONFIG)]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0]
        raise ValueError(f"refusing to load PGAN checkpoint {path!r}: it holds Python objects "
                         f"that are not tensors or the zoo's config ({first})") from None
    except (RuntimeError, EOFError) as err:
        raise ValueError(f"PGAN checkpoint {path!r} is unreadable ({err})") from None
    missing = [k for k in ZOO_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        have = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"PGAN checkpoint {path!r} lacks {missing} (it has {have}); expected a "
                         f"pytorch_GAN_zoo checkpoint with keys {list(ZOO_KEYS)}")
    return ckpt


def _numpy(state) -> dict[str, np.ndarray]:
    return {k.removeprefix("module."): v.cpu().numpy() for k, v in state.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True, help="generator .npz")
    parser.add_argument("--net", default="avgG", choices=["avgG", "netG"])
    parser.add_argument("--discriminator-output", help="also write netD to this .npz")
    args = parser.parse_args(argv)
    ckpt = load_checkpoint(args.input)
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
