"""Flax ports vs the torch test references: FID-Inception forward, CLIP image forward(+backward).

Usage:
  python benchmarks/bench_inception_clip.py                       # small, CPU-friendly
  python benchmarks/bench_inception_clip.py --inception-size 299 --clip full --batch 16

Both sides run the same random weights (torch reference -> converter -> Flax) in float32; JAX is
timed after compilation (jit), torch in eval mode (forward under no_grad). Prints ms per call and
the ratio flax/torch (< 1: the Flax port is faster).
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

from jaxlatent.models import clip, inception  # noqa: E402
from tests.torch_refs_b import clip_ref, inception_ref  # noqa: E402


def timeit(fn, repeats):
    fn()  # warm-up / compile
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return 1e3 * (time.perf_counter() - start) / repeats


def report(name, t_flax, t_torch):
    print(f"{name:<34s} flax {t_flax:9.2f} ms   torch {t_torch:9.2f} ms   "
          f"ratio {t_flax / t_torch:5.2f}")


def bench_inception(size, batch, repeats):
    model_t = inception_ref.random_model(0)
    variables = inception.convert({k: v.numpy() for k, v in model_t.state_dict().items()})
    x = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
    fwd = jax.jit(lambda v, x: inception.FIDInceptionV3().apply(v, x)["pool3"])
    xj, xt = jnp.asarray(x), torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        t_torch = timeit(lambda: model_t(xt)["pool3"], repeats)
    t_flax = timeit(lambda: fwd(variables, xj).block_until_ready(), repeats)
    report(f"inception fwd {batch}x{size}x{size}", t_flax, t_torch)


def bench_clip(config, batch, repeats):
    model_t = clip_ref.random_model(config, 0)
    params = clip.convert({k: v.detach().numpy() for k, v in model_t.state_dict().items()},
                          config)
    r = config.image_resolution
    x = np.random.default_rng(0).normal(size=(batch, r, r, 3)).astype(np.float32)
    module = clip.CLIP(config)
    fwd = jax.jit(lambda p, x: module.apply(p, x, method=clip.CLIP.encode_image))
    grad = jax.jit(jax.grad(lambda x, p: jnp.sum(fwd(p, x) ** 2)))
    xj, xt = jnp.asarray(x), torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        t_torch = timeit(lambda: model_t.encode_image(xt), repeats)
    t_flax = timeit(lambda: fwd(params, xj).block_until_ready(), repeats)
    report(f"clip image fwd {batch}x{r}x{r}", t_flax, t_torch)

    def torch_fwd_bwd():
        xg = xt.clone().requires_grad_(True)
        (model_t.encode_image(xg) ** 2).sum().backward()
        return xg.grad

    t_torch = timeit(torch_fwd_bwd, repeats)
    t_flax = timeit(lambda: grad(xj, params).block_until_ready(), repeats)
    report(f"clip image fwd+bwd (d/dx) {batch}x{r}x{r}", t_flax, t_torch)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inception-size", type=int, default=139)
    parser.add_argument("--clip", choices=["small", "full"], default="small")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    jax.config.update("jax_default_matmul_precision", "highest")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    print(f"jax {jax.__version__} ({jax.default_backend()}), torch {torch.__version__}, "
          f"torch threads {torch.get_num_threads()}")
    bench_inception(args.inception_size, args.batch, args.repeats)
    config = clip.VIT_B32 if args.clip == "full" else clip.CLIPConfig(
        embed_dim=64, image_resolution=64, vision_layers=4, vision_width=256,
        vision_patch_size=8, transformer_width=128, transformer_heads=2, transformer_layers=2)
    bench_clip(config, args.batch, args.repeats)


if __name__ == "__main__":
    main()
