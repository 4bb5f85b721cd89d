"""Forward and forward+backward time: Flax StyleGAN2 port vs the test torch reference.

Usage:
  python benchmarks/bench_stylegan2.py [--size 64] [--batch 4] [--repeats 10]

Same small config on both sides (style_dim 64, n_mlp 4, narrow channels), Z -> image with
constant noise; backward is the gradient of sum(image) w.r.t. z. The Flax functions are jitted
(compile time reported separately); torch runs eagerly with its default thread count.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from jaxlatent.models.stylegan2 import builders  # noqa: E402
from jaxlatent.models.stylegan2 import convert_rosinality as rosc  # noqa: E402
from tests.torch_refs_sg2 import randomize_  # noqa: E402
from tests.torch_refs_sg2.networks import Generator as TorchGenerator  # noqa: E402


def timeit(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--style", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    chans = {2**i: max(16, 128 >> max(0, i - 3)) for i in range(2, int(np.log2(args.size)) + 1)}
    torch.manual_seed(0)
    tg = randomize_(TorchGenerator(args.size, args.style, 4, chans), 1)
    state = {k: v.detach().numpy() for k, v in tg.state_dict().items()}
    variables, cfg = rosc.convert_generator(state, latent_avg=np.zeros(args.style, np.float32))
    module = builders.generator_module(cfg)
    z = np.random.default_rng(0).standard_normal((args.batch, args.style)).astype(np.float32)

    fwd = jax.jit(lambda p, z: module.apply(p, z))
    grad = jax.jit(jax.grad(lambda z, p: jnp.sum(module.apply(p, z))), static_argnums=())
    zj = jnp.asarray(z)
    t0 = time.perf_counter()
    fwd(variables, zj).block_until_ready()
    grad(zj, variables).block_until_ready()
    compile_s = time.perf_counter() - t0

    def torch_fwd():
        with torch.no_grad():
            ws = tg.style(torch.from_numpy(z))[:, None].repeat(1, tg.n_latent, 1)
            tg(ws)

    def torch_bwd():
        zt = torch.from_numpy(z).requires_grad_(True)
        img, _ = tg(tg.style(zt)[:, None].repeat(1, tg.n_latent, 1))
        img.sum().backward()

    res = {
        "flax fwd": timeit(lambda: fwd(variables, zj).block_until_ready(), args.repeats),
        "torch fwd": timeit(torch_fwd, args.repeats),
        "flax fwd+bwd": timeit(lambda: grad(zj, variables).block_until_ready(), args.repeats),
        "torch fwd+bwd": timeit(torch_bwd, args.repeats),
    }
    print(f"StyleGAN2 size {args.size}, batch {args.batch}, style {args.style}, channels {chans}, "
          f"jax {jax.__version__} ({jax.default_backend()}), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); flax compile {compile_s:.2f}s")
    for k, v in res.items():
        print(f"  {k:14s} {v * 1e3:9.2f} ms (median of {args.repeats})")
    print(f"  ratio flax/torch: fwd {res['flax fwd'] / res['torch fwd']:.2f}, "
          f"fwd+bwd {res['flax fwd+bwd'] / res['torch fwd+bwd']:.2f}")


if __name__ == "__main__":
    main()
