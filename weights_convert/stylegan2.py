"""Converts a StyleGAN2 checkpoint (rosinality .pt or NVlabs stylegan2-ada-pytorch .pkl) to .npz.

Usage:
  python weights_convert/stylegan2.py --format rosinality --input stylegan2-ffhq-config-f.pt \
      --output ffhq1024.npz [--d-output ffhq1024_d.npz]
  python weights_convert/stylegan2.py --format nvlabs --input ffhq.pkl --output ffhq_ada.npz \
      [--d-output ffhq_ada_d.npz]

rosinality: ``torch.load(...)["g_ema"]`` (and ``["d"]``); ``latent_avg`` is used as w_avg when
present (TF-converted files), otherwise w_avg is estimated from 10,000 mapped z's.
NVlabs: a network pickle is read by `jaxlatent.models.stylegan2.nvlabs_pickle` without NVIDIA's
code and without running pickled code (only the globals such a file needs are resolved, to
inert stand-ins); the hyper-parameters come from ``G_ema.init_kwargs`` / ``D.init_kwargs``. A
torch.save ``.pt`` of state dicts (``{"G_ema": ..., "D": ...}`` or a bare G_ema state dict) also
works; then the hyper-parameters are read from the shapes, and ``--conv-clamp`` (256 for
ADA-trained networks) and ``--mbstd-group`` must be given when they differ from the defaults.
This is the only StyleGAN2 file that imports torch.
"""

import argparse
import os
import pickle
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from jaxlatent import params as params_lib  # noqa: E402
from weights_convert.common import sha256 as _sha256  # noqa: E402
from jaxlatent.models.stylegan2 import convert_nvlabs as nvc  # noqa: E402
from jaxlatent.models.stylegan2 import convert_rosinality as rosc  # noqa: E402
from jaxlatent.models.stylegan2 import nvlabs_pickle as nvp  # noqa: E402


def _numpy(state):
    return {k: v.detach().cpu().float().numpy() for k, v in state.items()}


def _torch_load(path):
    import argparse as _argparse

    import torch

    torch.serialization.add_safe_globals([_argparse.Namespace])  # rosinality train.py "args"
    _check_not_empty(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise SystemExit(f"{path}: not a plain tensor checkpoint ({str(err).splitlines()[0]}). "
                         "NVlabs network pickles need --format nvlabs.") from err
    except (EOFError, KeyError, IndexError, RuntimeError, ValueError, TypeError,
            AttributeError, UnicodeDecodeError) as err:
        raise SystemExit(f"{path}: not a torch checkpoint ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''}); expected a "
                         "torch.save file of state dicts") from err


def _check_not_empty(path):
    if os.path.getsize(path) == 0:
        raise SystemExit(f"{path}: empty file; expected a StyleGAN2 checkpoint")


def rosinality(args):
    ckpt = _torch_load(args.input)
    if "g_ema" not in ckpt:
        raise SystemExit(f"{args.input}: no 'g_ema' entry (keys: {sorted(ckpt)[:10]})")
    g = rosc.convert_generator(_numpy(ckpt["g_ema"]), latent_avg=_latent_avg(ckpt),
                               what=f"rosinality g_ema in {args.input!r}")
    d = None
    if args.d_output:
        if "d" not in ckpt:
            raise SystemExit(f"{args.input}: no 'd' entry; converted TF files hold only g_ema")
        state = _numpy(ckpt["d"])
        cfg = rosc.infer_discriminator_config(state, args.mbstd_group)
        d = rosc.convert_discriminator(state, cfg, what=f"rosinality d in {args.input!r}")
    return g, d


def _latent_avg(ckpt):
    avg = ckpt.get("latent_avg")
    return None if avg is None else avg.detach().cpu().float().numpy()


def _nvlabs_networks(path, names):
    """{name: (numpy state dict, init_kwargs or None)} from an NVlabs .pkl or a state-dict .pt."""
    try:
        if nvp.file_kind(path) == "pickle":
            data = nvp.load_network_pickle(path)
            nets = {k: nvp.network(data, k, path) for k in names}
            return {k: (net.state_dict(), net.init_kwargs()) for k, net in nets.items()}
    except nvp.NvlabsPickleError as err:
        raise SystemExit(str(err)) from None
    ckpt = _torch_load(path)
    if "G_ema" not in ckpt:
        ckpt = {"G_ema": ckpt}
    return {k: (_numpy(v), None) for k, v in ckpt.items() if k in names}


def nvlabs(args):
    nets = _nvlabs_networks(args.input, ("G_ema", "D") if args.d_output else ("G_ema",))
    state, kw = nets["G_ema"]
    cfg = (nvc.generator_config_from_init_kwargs(kw) if kw is not None
           else nvc.infer_generator_config(state, args.conv_clamp))
    g = nvc.convert_generator(state, cfg, what=f"NVlabs G_ema in {args.input!r}")
    d = None
    if args.d_output:
        if "D" not in nets:
            raise SystemExit(f"{args.input}: no 'D' network")
        state, kw = nets["D"]
        cfg = (nvc.discriminator_config_from_init_kwargs(kw) if kw is not None
               else nvc.infer_discriminator_config(state, args.mbstd_group, args.conv_clamp))
        d = nvc.convert_discriminator(state, cfg, what=f"NVlabs D in {args.input!r}")
    return g, d


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", required=True, choices=["rosinality", "nvlabs"])
    parser.add_argument("--input", required=True, help="checkpoint .pt / .pkl")
    parser.add_argument("--output", required=True, help="generator .npz")
    parser.add_argument("--d-output", help="also write the discriminator here")
    parser.add_argument("--conv-clamp", type=float, default=None,
                        help="NVlabs state dicts without init_kwargs: conv_clamp (ADA: 256)")
    parser.add_argument("--mbstd-group", type=int, default=4,
                        help="discriminator minibatch-stddev group size when not in the file")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.input):
        raise SystemExit(f"{args.input}: no such file")
    (g, g_meta), d = (rosinality if args.format == "rosinality" else nvlabs)(args)
    source = dict(source=os.path.basename(args.input), source_sha256=_sha256(args.input))
    params_lib.save_params(args.output, g, **g_meta, **source)
    print(f"wrote {args.output} ({g_meta['size']}px, num_ws {g_meta['num_ws']})")
    if d is not None:
        params_lib.save_params(args.d_output, d[0], **d[1], **source)
        print(f"wrote {args.d_output}")


if __name__ == "__main__":
    main()
