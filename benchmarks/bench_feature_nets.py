"""Forward and forward+backward time of the Flax feature nets vs the torch references.

Usage:
  python benchmarks/bench_feature_nets.py [--size 64] [--batch 4] [--width 0.25] [--reps 5]

Same config on both sides (random weights converted from the torch reference, so the two compute
the same function); the gradient is d sum(output) / d input, as a latent search needs. Prints
median wall times and the ratio flax / torch (< 1 means the Flax port is faster). Timings are
only comparable on the same machine and device; the torch side runs on CPU.
"""

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from jaxlatent.models import alexnet, lpips, vgg  # noqa: E402
from jaxlatent.models import torchvision_convert as tc  # noqa: E402
from torch_refs import lpips_ref, tv_alexnet, tv_vgg  # noqa: E402


def _median_time(fn, reps):
    fn()  # compile / warm up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _cases(width, hidden):
    """Yields (name, flax_fn(params, x), params, torch_fn(x)) at one config."""
    state = lambda m: {k: v.detach().numpy() for k, v in m.state_dict().items()}  # noqa: E731
    for arch, out in [("vgg16", "fc2"), ("vgg19", "texture")]:
        ref = tv_vgg.VGG(arch, width, hidden).eval()
        params = tc.convert_vgg(state(ref), arch, width=width, hidden=hidden)
        apply = vgg.make_apply(arch, width, hidden)[1]
        t_fn = ((lambda x, r=ref: tv_vgg.taps(r, x)["fc2"]) if out == "fc2"
                else (lambda x, r=ref: tv_vgg.texture(r, x)))
        yield arch + ":" + out, (lambda p, x, a=apply, o=out: a(p, x, (o,))[o]), params, t_fn
    ref = tv_alexnet.AlexNet(width, hidden).eval()
    params = tc.convert_alexnet(state(ref), width=width, hidden=hidden)
    apply = alexnet.make_apply(width, hidden)[1]
    yield ("alexnet:logits", lambda p, x: apply(p, x)["logits"], params,
           lambda x: tv_alexnet.taps(ref, x)["logits"])
    lp = lpips_ref.LPIPS("alex", width).eval()
    heads = {k: v.detach().numpy() for k, v in lp.head_state_dict().items()}
    params = tc.convert_lpips(state(lp.backbone), heads, "alex", width)
    module = lpips.LPIPS("alex", width)
    yield ("lpips_alex", lambda p, x: module.apply({"params": p}, x, x[::-1])[0], params,
           lambda x: lp(x, x.flip(0))[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    jax.config.update("jax_default_matmul_precision", "highest")
    x = np.random.default_rng(0).normal(size=(args.batch, args.size, args.size, 3))
    x = x.astype(np.float32)
    xj, xt = jnp.asarray(x), torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    print(f"device={jax.devices()[0].platform} torch_threads={torch.get_num_threads()} "
          f"batch={args.batch} size={args.size} width={args.width} hidden={args.hidden}")
    print(f"{'net':<16}{'fwd flax':>10}{'fwd torch':>10}{'ratio':>7}"
          f"{'f+b flax':>10}{'f+b torch':>10}{'ratio':>7}")
    for name, f_jax, params, f_torch in _cases(args.width, args.hidden):
        params = jax.tree.map(jnp.asarray, params)  # arguments, not baked-in constants
        fwd = jax.jit(f_jax)
        grad = jax.jit(jax.grad(lambda p, x, f=f_jax: jnp.sum(f(p, x)), argnums=1))
        tf = _median_time(lambda: fwd(params, xj).block_until_ready(), args.reps)
        tg = _median_time(lambda: grad(params, xj).block_until_ready(), args.reps)

        def torch_fwd(f=f_torch):
            with torch.no_grad():
                f(xt)

        def torch_grad(f=f_torch):
            xg = xt.clone().requires_grad_(True)
            f(xg).sum().backward()

        rf, rg = _median_time(torch_fwd, args.reps), _median_time(torch_grad, args.reps)
        print(f"{name:<16}{tf * 1e3:>9.1f}ms{rf * 1e3:>8.1f}ms{tf / rf:>7.2f}"
              f"{tg * 1e3:>9.1f}ms{rg * 1e3:>8.1f}ms{tg / rg:>7.2f}")


if __name__ == "__main__":
    main()
