"""Forward and forward+backward time of the BigGAN/BigGAN-deep/PGAN ports vs their torch refs.

Same small configs as the parity tests (random weights), CPU float32, batch 4. Backward is the
gradient of sum(output) w.r.t. the latent input(s) (what latent search needs). JAX timings are
of jitted functions after compilation. Prints one row per model with the jax/torch time ratio.

    python benchmarks/bench_biggan_pgan.py [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from jaxlatent.models.biggan import convert_biggan_pytorch, convert_hf, make_module  # noqa: E402
from jaxlatent.models.pgan import convert, make_discriminator, make_generator  # noqa: E402
from tests import test_biggan as tb, test_pgan as tp  # noqa: E402
from tests.torch_refs_gan.biggan_pytorch import Generator as TorchG  # noqa: E402


def _time(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _jax_pair(f, *args):
    fwd = jax.jit(f)
    grad = jax.jit(jax.grad(lambda *a: jnp.sum(f(*a)), argnums=tuple(range(len(args)))))
    return (lambda: jax.block_until_ready(fwd(*args)),
            lambda: jax.block_until_ready(grad(*args)))


def _torch_pair(f, *args):
    def fwd():
        with torch.no_grad():
            f(*args)

    def bwd():
        leaves = [a.detach().requires_grad_(True) for a in args]
        f(*leaves).sum().backward()
    return fwd, bwd


def cases(batch: int):
    rng = np.random.default_rng(0)
    tg = TorchG(**{k: tb.PT_CFG[k] for k in ("resolution", "G_ch", "dim_z", "shared_dim",
                                              "attention", "n_classes", "bn_eps")})
    tb._randomise(tg, 0)
    v = convert_biggan_pytorch.convert(tb._np_state(tg), tb.PT_CFG)
    z, y = rng.standard_normal((batch, 40), np.float32), rng.standard_normal((batch, 16), np.float32)
    m = make_module(tb.PT_CFG)
    yield ("biggan (64px, G_ch 8)", _jax_pair(lambda z, y: m.apply(v, z, y), z, y),
           _torch_pair(tg, torch.from_numpy(z), torch.from_numpy(y)))

    from pytorch_pretrained_biggan import BigGAN, BigGANConfig
    hg = BigGAN(BigGANConfig(**{k: x for k, x in tb.DEEP_CFG.items() if k != "arch"}))
    tb._randomise(hg, 1)
    vd = convert_hf.convert(tb._np_state(hg), tb.DEEP_CFG)
    md = make_module(tb.DEEP_CFG)
    zd, onehot = rng.standard_normal((batch, 16), np.float32), np.eye(10, dtype=np.float32)[:batch]
    yd = np.asarray(onehot @ vd["params"]["embeddings"]["kernel"])
    yield ("biggan-deep (16px, ch 2)", _jax_pair(lambda z, y: md.apply(vd, z, y, 0.5), zd, yd),
           _torch_pair(lambda z, c: hg(z, c, 0.5), torch.from_numpy(zd), torch.from_numpy(onehot)))

    cfg = tp._cfg(scales=(16, 16, 8))
    pg, pd = tp._torch_pair(cfg, 0)
    gv, dv = convert.convert_generator(tp._state(pg), cfg), convert.convert_discriminator(
        tp._state(pd), cfg)
    gm, dm = make_generator(cfg), make_discriminator(cfg)
    zp = rng.standard_normal((batch, cfg["dim_latent"]), np.float32)
    yield ("pgan G (32px, depth 16)", _jax_pair(lambda z: gm.apply(gv, z), zp),
           _torch_pair(pg, torch.from_numpy(zp)))
    yield ("pgan D(G(z))", _jax_pair(lambda z: dm.apply(dv, gm.apply(gv, z)), zp),
           _torch_pair(lambda z: pd(pg(z)), torch.from_numpy(zp)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    args = parser.parse_args()
    if args.torch_threads:  # on a shared, oversubscribed CPU torch's thread pool spins badly
        torch.set_num_threads(args.torch_threads)
    print(f"jax {jax.__version__} ({jax.default_backend()}), torch {torch.__version__}, "
          f"batch {args.batch}, median of {args.reps}, torch threads {torch.get_num_threads()}")
    print(f"{'model':28s} {'fwd jax':>9s} {'fwd torch':>9s} {'ratio':>6s} "
          f"{'f+b jax':>9s} {'f+b torch':>9s} {'ratio':>6s}")
    for name, (jf, jb), (tf, tbw) in cases(args.batch):
        a, b, c, d = (_time(f, args.reps) for f in (jf, tf, jb, tbw))
        print(f"{name:28s} {a * 1e3:8.2f}ms {b * 1e3:8.2f}ms {a / b:6.2f} "
              f"{c * 1e3:8.2f}ms {d * 1e3:8.2f}ms {c / d:6.2f}")


if __name__ == "__main__":
    main()
