"""CMA-MAEGA on pyribs' sphere / linear-projection benchmark: jaxlatent.search.qd vs pyribs.

Settings follow pyribs' ``examples/sphere.py`` "cma_maega" config: archive 100x100 with
learning rate 0.01 and threshold_min 0, a plain result archive, 15 gradient arborescence
emitters with sigma0 10, lr 1, plain gradient ascent, ranker "imp", restart "basic", 35 branches
(+ theta). Prints normalised QD score, coverage and iterations per second of the result archive.

Usage (full size as in the pyribs tutorial: --dim 1000 --iters 10000):
    python benchmarks/bench_qd_vs_pyribs.py --dim 1000 --iters 500 --seeds 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))


def run_pyribs(dim, iters, grid, emitters, batch, seed):
    import ribs
    from ribs.archives import GridArchive
    from ribs.emitters import GradientArborescenceEmitter

    from test_qd_parity import sphere_np

    bound = dim / 2 * 5.12
    ranges = [(-bound, bound)] * 2
    arch = GridArchive(solution_dim=dim, dims=grid, ranges=ranges, learning_rate=0.01,
                       threshold_min=0.0, seed=seed)
    result = GridArchive(solution_dim=dim, dims=grid, ranges=ranges, seed=seed)
    ems = [GradientArborescenceEmitter(
        arch, x0=np.zeros(dim), sigma0=10.0, lr=1.0, ranker="imp", grad_opt="gradient_ascent",
        restart_rule="basic", batch_size=batch, seed=s)
        for s in np.random.SeedSequence(seed).spawn(emitters)]
    sched = ribs.schedulers.Scheduler(arch, ems, result_archive=result)
    t0 = time.perf_counter()
    for _ in range(iters):
        x = sched.ask_dqd()
        f, m, j = sphere_np(x)
        sched.tell_dqd(f, m, j)
        x = sched.ask()
        f, m, _ = sphere_np(x)
        sched.tell(f, m)
    dt = time.perf_counter() - t0
    return float(result.stats.norm_qd_score), float(result.stats.coverage), iters / dt


def run_ours(dim, iters, grid, emitters, batch, seed, chunk):
    import jax
    import jax.numpy as jnp

    from jaxlatent.search import qd
    from test_qd_parity import _eval_fn, _jac_fn

    bound = dim / 2 * 5.12
    cfg = qd.QDConfig(qd.ArchiveSpec(tuple(grid), ((-bound, bound),) * 2, 0.01, 0.0),
                      qd.EmitterConfig(sigma0=10.0, lr=1.0, batch_size=batch,
                                       grad_opt="gradient_ascent"), num_emitters=emitters)
    key = jax.random.key(seed)
    # compile once on a throw-away run of one chunk, then time a fresh run
    state, _ = qd.run(key, jnp.zeros(dim), _eval_fn, _jac_fn, cfg, min(chunk, iters), chunk)
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    state, m = qd.run(key, jnp.zeros(dim), _eval_fn, _jac_fn, cfg, iters, chunk)
    jax.block_until_ready(state)
    dt = time.perf_counter() - t0
    return float(m["qd_score"][-1]), float(m["coverage"][-1]), iters / dt


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=1000)
    p.add_argument("--iters", type=int, default=10000)
    p.add_argument("--grid", type=int, nargs=2, default=(100, 100))
    p.add_argument("--emitters", type=int, default=15)
    p.add_argument("--batch", type=int, default=35)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--chunk", type=int, default=250)
    p.add_argument("--skip-pyribs", action="store_true")
    a = p.parse_args()
    import jax

    print(f"sphere dim={a.dim} grid={a.grid} emitters={a.emitters}x({a.batch}+1) "
          f"iters={a.iters} seeds={a.seeds} device={jax.devices()[0].platform}")
    print(f"{'impl':8s} {'seed':>4s} {'norm QD':>9s} {'coverage':>9s} {'it/s':>9s}")
    rows = {"jax": [], "pyribs": []}
    for s in range(a.seeds):
        r = run_ours(a.dim, a.iters, a.grid, a.emitters, a.batch, s, a.chunk)
        rows["jax"].append(r)
        print(f"{'jax':8s} {s:4d} {r[0]:9.3f} {r[1]:9.4f} {r[2]:9.2f}", flush=True)
        if not a.skip_pyribs:
            r = run_pyribs(a.dim, a.iters, a.grid, a.emitters, a.batch, s)
            rows["pyribs"].append(r)
            print(f"{'pyribs':8s} {s:4d} {r[0]:9.3f} {r[1]:9.4f} {r[2]:9.2f}", flush=True)
    for name, rs in rows.items():
        if rs:
            q, c, ips = np.mean(rs, 0)
            print(f"{name:8s} mean {q:9.3f} {c:9.4f} {ips:9.2f}")


if __name__ == "__main__":
    main()
