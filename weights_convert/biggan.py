"""Converts a BigGAN generator checkpoint to a jaxlatent ``.npz`` (the only BigGAN torch import).

Usage::

    python weights_convert/biggan.py --format biggan-pytorch --input G_ema.pth --output biggan-128.npz
    python weights_convert/biggan.py --format hf --input pytorch_model.bin [--config config.json] \
        --output biggan-deep-256.npz

``biggan-pytorch``: a state dict of ajbrock/BigGAN-PyTorch's ``Generator`` (e.g. the 138k
``G_ema.pth``, or BigGAN-AM's ``biggan_256_weights.pth`` made by ``TFHub/converter.py``); the
architecture is read off the tensor shapes. ``hf``: huggingface/pytorch-pretrained-BigGAN
(``biggan-deep-{128,256,512}``); the layer list comes from its ``config.json`` or, without one,
from the preset with the same number of blocks. The config goes into the file's metadata, so
``build(path)`` needs nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from jaxlatent.models.biggan import convert_biggan_pytorch, convert_hf, presets  # noqa: E402
from jaxlatent.params import check_torch_file, save_params  # noqa: E402


def _load_state(path: str) -> dict[str, np.ndarray]:
    check_torch_file(path, "BigGAN checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f"refusing to load {path!r}: it holds Python objects other than "
                         f"tensors ({str(err).strip().splitlines()[0]})") from None
    except (RuntimeError, EOFError) as err:
        raise ValueError(f"BigGAN checkpoint {path!r} is unreadable ({err})") from None
    if not isinstance(state, dict):
        raise ValueError(f"BigGAN checkpoint {path!r} holds a {type(state).__name__}, "
                         "expected a state dict")
    if "state_dict" in state:
        state = state["state_dict"]
    return {k: v.numpy() for k, v in state.items() if hasattr(v, "numpy")}


def convert_state(state: dict, args) -> tuple[dict, dict]:
    """Converts by ``args.format``; a missing tensor is a ValueError naming the key and format."""
    try:
        return (_biggan_pytorch if args.format == "biggan-pytorch" else _hf)(state, args)
    except KeyError as err:
        raise ValueError(
            f"BigGAN checkpoint {args.input!r} lacks the tensor {err.args[0]!r} that a "
            f"--format {args.format} generator has; check the file and --format "
            f"(the file has {len(state)} tensors, e.g. {sorted(state)[:3]})") from None


def _biggan_pytorch(state: dict, args) -> tuple[dict, dict]:
    cfg = convert_biggan_pytorch.infer_config(state)
    tfhub = not any(k.endswith(".sv0") for k in state)  # TFHub/converter.py drops sv0
    cfg["bn_eps"] = args.bn_eps if args.bn_eps is not None else (1e-4 if tfhub else 1e-5)
    sn_eps = args.sn_eps if args.sn_eps is not None else (1e-4 if tfhub else 1e-6)
    print(f"BigGAN-PyTorch config: {cfg} (sn_eps={sn_eps}; {'TFHub' if tfhub else 'training'}"
          " layout)")
    return convert_biggan_pytorch.convert(state, cfg, sn_eps=sn_eps), cfg


def _hf(state: dict, args) -> tuple[dict, dict]:
    if args.config:
        with open(args.config) as f:
            cfg = {"arch": "biggan_deep", **presets.get("biggan-deep-128"), **json.load(f)}
    else:
        n_blocks = len({k.split(".")[2] for k in state if k.startswith("generator.layers.")}) - 1
        match = [p for p in presets.BIGGAN_DEEP.values() if len(p["layers"]) == n_blocks]
        if not match:
            raise SystemExit(f"no biggan-deep preset has {n_blocks} blocks; pass --config")
        cfg = dict(match[0])
    cfg["layers"] = [list(layer) for layer in cfg["layers"]]
    print(f"BigGAN-deep config: output_dim={cfg['output_dim']}, {len(cfg['layers'])} blocks")
    return convert_hf.convert(state, cfg), cfg


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--format", required=True, choices=["biggan-pytorch", "hf"])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--config", help="hf: the checkpoint's config.json")
    parser.add_argument("--bn-eps", type=float, help="biggan-pytorch: BN_eps (default by layout)")
    parser.add_argument("--sn-eps", type=float, help="biggan-pytorch: SN_eps (default by layout)")
    args = parser.parse_args(argv)
    state = _load_state(args.input)
    variables, cfg = convert_state(state, args)
    save_params(args.output, variables, config=cfg, source=os.path.basename(args.input),
                format=args.format)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
