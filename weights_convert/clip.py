"""Converts an OpenAI CLIP checkpoint to a jaxlatent ``.npz``.

Usage:
  python weights_convert/clip.py --input ViT-B-32.pt --output clip_vit_b32.npz

The input is OpenAI's release file ``ViT-B-32.pt`` (a TorchScript archive, read with
``torch.jit.load(...).state_dict()``, fp16 weights upcast to float32) or a plain state dict with
the same keys (``torch.save(model.state_dict())``). ``--arch ViT-B/32`` (default) checks the file
against the official ViT-B/32 key set; ``--arch infer`` infers the hyper-parameters from the file
as OpenAI's ``build_model`` does. This script is the only place that imports torch; the mapping is
`jaxlatent.models.clip.convert` (pure numpy).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from jaxlatent import params as params_lib  # noqa: E402
from weights_convert.common import sha256  # noqa: E402
from jaxlatent.models import clip  # noqa: E402


def load_state_dict(path):
    """TorchScript archive or plain (possibly wrapped) state dict -> ``{key: float32 array}``."""
    import torch

    try:
        state = torch.jit.load(path, map_location="cpu").state_dict()
    except RuntimeError:  # not a TorchScript archive
        state = torch.load(path, map_location="cpu", weights_only=True)
        for wrapper in ("state_dict", "model"):
            if isinstance(state.get(wrapper), dict):
                state = state[wrapper]
    return {k: v.detach().cpu().float().numpy() for k, v in state.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="ViT-B-32.pt (TorchScript) or state dict")
    parser.add_argument("--output", required=True, help="destination .npz")
    parser.add_argument("--arch", default="ViT-B/32", choices=["ViT-B/32", "infer"])
    args = parser.parse_args(argv)
    state = load_state_dict(args.input)
    config = clip.VIT_B32 if args.arch == "ViT-B/32" else clip.infer_config(state)
    params = clip.convert(state, config)
    params_lib.save_params(args.output, params, config=config._asdict(),
                           source=os.path.basename(args.input),
                           source_sha256=sha256(args.input), model="clip_vit_b32")
    print(f"wrote {args.output} ({config})")


if __name__ == "__main__":
    main()
