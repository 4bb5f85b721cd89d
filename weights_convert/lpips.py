"""Converts an LPIPS v0.1 metric (torchvision backbone + lpips linear heads) to one ``.npz``.

Usage:
  python weights_convert/lpips.py --net alex --backbone alexnet-owt-7be5be79.pth \
      --output lpips_alex.npz
  python weights_convert/lpips.py --net vgg --backbone vgg16-397923af.pth --output lpips_vgg.npz

``--backbone`` is torchvision's IMAGENET1K_V1 release file (only ``features.*`` is used);
``--heads`` defaults to ``lpips/weights/v0.1/<net>.pth`` of an installed lpips package (the
heads ship inside the pip wheel; keys ``lin<l>.model.1.weight``). Both key sets are checked
first; the mapping is `jaxlatent.models.torchvision_convert.convert_lpips` (numpy).
"""

import argparse
import importlib.util
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from jaxlatent import params as params_lib  # noqa: E402
from jaxlatent.models import torchvision_convert as tc  # noqa: E402
from weights_convert.vgg import load_state_dict, sha256  # noqa: E402


def default_heads(net):
    """Path of the v0.1 heads inside the installed lpips package (no import of lpips itself)."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("lpips is not installed: pass --heads path/to/lpips/weights/v0.1/"
                         f"{net}.pth (pip install lpips --no-deps is enough)")
    return os.path.join(spec.submodule_search_locations[0], "weights", "v0.1", f"{net}.pth")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", choices=["alex", "vgg"], default="alex")
    parser.add_argument("--backbone", required=True, help="alexnet-owt-7be5be79.pth / "
                        "vgg16-397923af.pth")
    parser.add_argument("--heads", default=None, help="lpips weights/v0.1/<net>.pth")
    parser.add_argument("--output", required=True, help="destination .npz")
    parser.add_argument("--width", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    heads_path = args.heads or default_heads(args.net)
    backbone, heads = load_state_dict(args.backbone), load_state_dict(heads_path)
    params = tc.convert_lpips(backbone, heads, args.net, args.width)  # checks both key sets
    params_lib.save_params(args.output, params, model=f"lpips_{args.net}", version="0.1",
                           backbone=os.path.basename(args.backbone),
                           backbone_sha256=sha256(args.backbone),
                           heads_sha256=sha256(heads_path))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
