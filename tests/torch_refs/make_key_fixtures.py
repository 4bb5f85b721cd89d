"""Writes tests/fixtures/{vgg16,vgg19,alexnet,lpips_alex,lpips_vgg}_keys.json.

Run from the repository root: ``python -m tests.torch_refs.make_key_fixtures``. Shapes come from
the torch reference modules built on the meta device (no memory) and, for the LPIPS heads, from
the real ``lpips/weights/v0.1/*.pth`` files of the installed lpips wheel.
"""

import importlib.util
import json
import os

import torch

from .tv_alexnet import AlexNet
from .tv_vgg import VGG

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def _shapes(module):
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def main():
    with torch.device("meta"):
        nets = {"vgg16": VGG("vgg16"), "vgg19": VGG("vgg19"), "alexnet": AlexNet()}
    sets = {name: _shapes(m) for name, m in nets.items()}
    lpips_dir = importlib.util.find_spec("lpips").submodule_search_locations[0]
    for net, arch in [("alex", "alexnet"), ("vgg", "vgg16")]:
        heads = torch.load(os.path.join(lpips_dir, "weights", "v0.1", f"{net}.pth"),
                           map_location="cpu", weights_only=True)
        sets[f"lpips_{net}"] = {
            "backbone": {k: v for k, v in sets[arch].items() if k.startswith("features.")},
            "heads": {k: list(v.shape) for k, v in heads.items()},
        }
    for name, keys in sets.items():
        with open(os.path.join(OUT, f"{name}_keys.json"), "w") as f:
            f.write(_dump(keys) + "\n")


def _dump(tree, indent=""):
    """JSON with one ``"key": [shape]`` per line."""
    if isinstance(tree, list):
        return json.dumps(tree)
    inner = indent + "  "
    items = [f"{inner}{json.dumps(k)}: {_dump(v, inner)}" for k, v in sorted(tree.items())]
    return "{\n" + ",\n".join(items) + "\n" + indent + "}"


if __name__ == "__main__":
    main()
