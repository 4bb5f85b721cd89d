"""Converts torchvision AlexNet (IMAGENET1K_V1) to a jaxlatent ``.npz``.

Usage:
  python weights_convert/alexnet.py --input alexnet-owt-7be5be79.pth --output alexnet.npz

The input is torchvision's release file, a plain state dict. The key set is checked first; the
mapping is `jaxlatent.models.torchvision_convert.convert_alexnet` (numpy).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from jaxlatent import params as params_lib  # noqa: E402
from jaxlatent.models import torchvision_convert as tc  # noqa: E402
from weights_convert.vgg import add_small_config_flags, load_state_dict, sha256  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="alexnet-owt-7be5be79.pth")
    parser.add_argument("--output", required=True, help="destination .npz")
    add_small_config_flags(parser)
    args = parser.parse_args(argv)
    small = dict(width=args.width, hidden=args.hidden, num_classes=args.num_classes)
    state = load_state_dict(args.input)
    params_lib.check_state_dict_keys(tc.alexnet_state_shapes(**small), state,
                                     f"alexnet checkpoint {args.input!r}")
    params = tc.convert_alexnet(state, **small)
    params_lib.save_params(args.output, params, source=os.path.basename(args.input),
                           source_sha256=sha256(args.input), model="alexnet")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
