"""Converts pytorch-fid's FID Inception weights to a jaxlatent ``.npz``.

Usage:
  python weights_convert/inception.py --input pt_inception-2015-12-05-6726825d.pth \
      --output inception_fid.npz

The input is pytorch-fid's release file ``pt_inception-2015-12-05-6726825d.pth`` (the same bytes
as torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth``): a plain state dict in
torchvision ``Inception3`` layout. This script is the only place that imports torch; the mapping
itself is `jaxlatent.models.inception.convert` (pure numpy).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from jaxlatent import params as params_lib  # noqa: E402
from weights_convert.vgg import load_state_dict, sha256  # noqa: E402 (clear file errors)
from jaxlatent.models import inception  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="pt_inception-2015-12-05-6726825d.pth")
    parser.add_argument("--output", required=True, help="destination .npz")
    args = parser.parse_args(argv)
    variables = inception.convert(load_state_dict(args.input))
    params_lib.save_params(args.output, variables, source=os.path.basename(args.input),
                           source_sha256=sha256(args.input), model="inception_fid")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
