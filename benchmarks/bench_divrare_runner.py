"""One compiled program over all references × starts vs the official structure (one reference at
a time), on the embedded shapes domain with the shipped models.

    python benchmarks/bench_divrare_runner.py --references 8 --starts 5 --steps 20

Both sides run the same DivRare loss and Adam steps through `jaxlatent.search.runner`; the
baseline loops over references in Python (G = 1 per call, as DivRareGen's ``for idx in
range(1000)``), the jaxlatent side runs G = references at once. Prints seconds per step and the
ratio. Compile time is excluded from both (a warm-up run of each shape first).
"""

from __future__ import annotations

import argparse
import time

import jax
import ml_collections

from jaxlatent.methods import divrare as dr_method
from jaxlatent.methods import divrare_setup as setup


def config(references, starts, steps):
    import importlib.util

    spec = importlib.util.spec_from_file_location("c", "configs/divrare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = module.get_config()
    cfg.search.update(num_references=references, num_starts=starts, num_steps=steps,
                      chunk_size=steps)
    cfg.data.update(num_real=1000, num_fake=1000)
    return cfg


def timed_search(cfg, nets, fns, ctx, banks, key):
    dr_method.search(cfg, nets, fns, ctx, banks, key, None)  # warm-up: compile
    t0 = time.perf_counter()
    state, _, _, _ = dr_method.search(cfg, nets, fns, ctx, banks, key, None)
    jax.block_until_ready(state.best_value)
    return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--references", type=int, default=8)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    cfg = config(args.references, args.starts, args.steps)
    nets = setup.load_networks(cfg)
    fns, ctx = setup.make_fns(nets), setup.network_ctx(nets)
    banks = setup.make_banks(cfg, nets, fns[0], fns[1], ctx, jax.random.key(0))
    key = jax.random.key(1)

    together = timed_search(cfg, nets, fns, ctx, banks, key)
    one = ml_collections.ConfigDict(cfg.to_dict())
    one.search.num_references = 1
    looped = 0.0
    for g in range(args.references):
        banks_g = banks._replace(references=banks.references[g : g + 1], dstar=banks.dstar[g : g + 1])
        looped += timed_search(one, nets, fns, ctx, banks_g, jax.random.fold_in(key, g))
    steps = args.steps
    print(f"device: {jax.devices()[0].platform}, references={args.references}, "
          f"starts={args.starts}, steps={steps}")
    print(f"per-reference loop (official structure): {looped / steps:.4f} s/step")
    print(f"one program over all references (jaxlatent): {together / steps:.4f} s/step")
    print(f"speed-up: {looped / together:.2f}x")


if __name__ == "__main__":
    main()
