"""Converts torchvision VGG16 / VGG19 (IMAGENET1K_V1) state dicts to a jaxlatent ``.npz``.

Usage:
  python weights_convert/vgg.py --arch vgg16 --input vgg16-397923af.pth --output vgg16.npz
  python weights_convert/vgg.py --arch vgg19 --input vgg19-dcbb9e9d.pth --output vgg19.npz

The inputs are torchvision's release files (``https://download.pytorch.org/models/...``), plain
state dicts. The key set is checked first (a wrong file fails naming the missing / unexpected keys
and shape mismatches); the mapping is `jaxlatent.models.torchvision_convert.convert_vgg` (numpy).
This directory is the only place that imports torch.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from jaxlatent import params as params_lib  # noqa: E402
import pickle  # noqa: E402

from weights_convert import common  # noqa: E402
from weights_convert.common import sha256  # noqa: E402,F401
from jaxlatent.models import torchvision_convert as tc  # noqa: E402


def load_state_dict(path):
    """`weights_convert.common.load_state_dict` with clear errors (also used by alexnet, lpips
    and inception).

    Raises:
      FileNotFoundError, ValueError: naming the file when it is missing, empty, a text file, a
        truncated archive, or holds Python objects other than tensors (refused, not run).
    """
    params_lib.check_torch_file(path)
    try:
        return common.load_state_dict(path)
    except pickle.UnpicklingError as err:
        raise ValueError(f"refusing to load {path!r}: it holds Python objects other than tensors "
                         f"({str(err).strip().splitlines()[0]})") from None
    except (RuntimeError, EOFError, AttributeError, TypeError) as err:
        raise ValueError(f"{path!r} is not a readable state dict ({type(err).__name__}: "
                         f"{err})") from None


def add_small_config_flags(parser):
    """--width/--hidden/--num-classes: shrunken architectures for tests only."""
    parser.add_argument("--width", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--hidden", type=int, default=4096, help=argparse.SUPPRESS)
    parser.add_argument("--num-classes", type=int, default=1000, help=argparse.SUPPRESS)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=["vgg16", "vgg19"], default="vgg16")
    parser.add_argument("--input", required=True, help="vgg16-397923af.pth / vgg19-dcbb9e9d.pth")
    parser.add_argument("--output", required=True, help="destination .npz")
    add_small_config_flags(parser)
    args = parser.parse_args(argv)
    small = dict(width=args.width, hidden=args.hidden, num_classes=args.num_classes)
    state = load_state_dict(args.input)
    params_lib.check_state_dict_keys(tc.vgg_state_shapes(args.arch, **small), state,
                                     f"{args.arch} checkpoint {args.input!r}")
    params = tc.convert_vgg(state, args.arch, **small)
    params_lib.save_params(args.output, params, source=os.path.basename(args.input),
                           source_sha256=sha256(args.input), model=args.arch)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
