"""CMA-MAEGA on pyribs' sphere / linear-projection benchmark: jaxlatent.search.qd vs pyribs.

Settings follow pyribs' ``examples/sphere.py`` "cma_maega" config: archive 100x100 with
learning rate 0.01 and threshold_min 0, a plain result archive, 15 gradient arborescence
emitters with sigma0 10, lr 1, plain gradient ascent, ranker "imp", restart "basic", 35 branches
(+ theta). Prints, per seed and as mean ± standard error, the result archive's normalised QD
score, coverage and iterations per second, plus two tail diagnostics: the QD score with each
elite's objective clipped at 0 and the number / minimum of negative elites (the sphere objective
is unbounded below, so one far branch of a runaway emitter can swing the plain score of a short
run by hundreds; compare short runs on the clipped score and over many seeds).

Usage (defaults are the full size of the pyribs tutorial: --dim 1000 --grid 100 100
--emitters 15 --batch 35 --iters 10000; results in docs/qd.md):
    python benchmarks/bench_qd_vs_pyribs.py --seeds 4
    python benchmarks/bench_qd_vs_pyribs.py --iters 250 --seeds 16
"""

from __future__ import annotations

import argparse
import functools
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
    objs = result.data("objective")
    return (float(result.stats.norm_qd_score), float(result.stats.coverage), iters / dt,
            *_tail_stats(objs, result.cells))


def run_ours(dim, iters, grid, emitters, batch, seed, chunk, shift=0.0):
    """jaxlatent's run (`qd.CmaMaega` on the runner); ``shift`` searches f - shift with
    threshold_min -shift (the same algorithm in exact arithmetic, finer float32 resolution near
    f = shift) and reports f again."""
    import jax
    import jax.numpy as jnp

    from jaxlatent.search import qd, runner

    bound = dim / 2 * 5.12
    cfg = qd.QDConfig(qd.ArchiveSpec(tuple(grid), ((-bound, bound),) * 2, 0.01, -shift),
                      qd.EmitterConfig(sigma0=10.0, lr=1.0, batch_size=batch,
                                       grad_opt="gradient_ascent"), num_emitters=emitters)
    strategy = qd.CmaMaega(cfg, offset=-float(shift), scale=1.0)  # f = sphere score − shift
    problem, key = _problem(), jax.random.key(seed)

    def run(n):
        return runner.run(strategy, problem, key, jnp.zeros((1, dim)), {}, num_steps=n,
                          chunk_size=chunk, progress=False)

    jax.block_until_ready(run(min(chunk, iters))[0])  # compile once on a throw-away chunk
    t0 = time.perf_counter()
    state, rows = run(iters)
    jax.block_until_ready(state)
    dt = time.perf_counter() - t0
    res = jax.tree.map(lambda x: x[0], state.strategy.result)
    objs = np.asarray(res.objectives)[np.asarray(res.occupied)] + shift
    cov = float(rows[-1]["coverage"])
    return (float(rows[-1]["qd_score"]) + shift * cov, cov, iters / dt,
            *_tail_stats(objs, int(np.prod(grid))))


@functools.lru_cache(maxsize=None)
def _problem():
    """The sphere as a minimised objective of one solution (cached: the program is reused)."""
    import jax.numpy as jnp  # noqa: F401

    from jaxlatent.search import runner
    from test_qd_parity import sphere_jax

    def objective(x, ctx, *, key=None):
        f, m, _ = sphere_jax(x[None])
        return -f[0], {"measures": m[0]}

    return runner.Problem(objective)


def _tail_stats(objectives, cells):
    """Robust companions of the QD score: norm QD with objectives clipped at 0, #cells < 0, min.

    The sphere objective is unbounded below outside [-5.12, 5.12]^d, and the result archive
    keeps the first solution found in a far cell however bad, so a single branch of a runaway
    CMA-ES (huge coefficients) can lower the normalised QD score by 100 or more.
    """
    objectives = np.asarray(objectives, np.float64)
    return (float(np.sum(np.maximum(objectives, 0.0)) / cells), int(np.sum(objectives < 0)),
            float(np.min(objectives)))


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
    p.add_argument("--shift", type=float, default=0.0,
                   help="jaxlatent only: search f - SHIFT with threshold_min -SHIFT (a float32 "
                        "resolution probe; results are reported for f)")
    a = p.parse_args()
    import jax

    print(f"sphere dim={a.dim} grid={a.grid} emitters={a.emitters}x({a.batch}+1) "
          f"iters={a.iters} seeds={a.seeds} device={jax.devices()[0].platform}")
    print(f"{'impl':8s} {'seed':>4s} {'norm QD':>10s} {'coverage':>9s} {'it/s':>9s} "
          f"{'QD obj>=0':>10s} {'cells<0':>8s} {'min obj':>10s}")
    impls = {"jax": lambda s: run_ours(a.dim, a.iters, a.grid, a.emitters, a.batch, s,
                                       a.chunk, a.shift),
             "pyribs": lambda s: run_pyribs(a.dim, a.iters, a.grid, a.emitters, a.batch, s)}
    if a.skip_pyribs:
        del impls["pyribs"]
    rows = {"jax": [], "pyribs": []}
    for s in range(a.seeds):
        for name, fn in impls.items():
            r = fn(s)
            rows[name].append(r)
            print(f"{name:8s} {s:4d} {r[0]:10.3f} {r[1]:9.4f} {r[2]:9.2f} {r[3]:10.3f} "
                  f"{r[4]:8d} {r[5]:10.3g}", flush=True)
    print(f"{'impl':8s} {'norm QD mean ± s.e. [median]':>30s} {'coverage mean ± s.e.':>22s} "
          f"{'median it/s':>12s} {'QD obj>=0 mean ± s.e.':>22s}")
    for name, rs in rows.items():
        if rs:
            r = np.asarray(rs, np.float64)
            m, se = r.mean(0), _stderr(r)
            print(f"{name:8s} {m[0]:10.3f} ± {se[0]:6.3f} [{np.median(r[:, 0]):8.3f}] "
                  f"{m[1]:11.4f} ± {se[1]:6.4f} {np.median(r[:, 2]):12.2f} "
                  f"{m[3]:13.3f} ± {se[3]:6.3f}")
    if rows["jax"] and rows["pyribs"]:
        a_, b_ = np.asarray(rows["jax"], np.float64), np.asarray(rows["pyribs"], np.float64)
        for col, label in ((0, "norm QD"), (3, "QD obj>=0")):
            d = a_[:, col].mean() - b_[:, col].mean()
            se = np.hypot(_stderr(a_)[col], _stderr(b_)[col])
            t = f"{d / se:.2f}" if se > 0 else "n/a"
            print(f"{label} difference jax - pyribs: {d:.3f} (Welch t = {t})")
        print(f"it/s ratio (medians): {np.median(a_[:, 2]) / np.median(b_[:, 2]):.1f}x")


def _stderr(r):
    """Standard error of the mean per column (0 for a single seed)."""
    return r.std(0, ddof=1) / np.sqrt(len(r)) if len(r) > 1 else np.zeros(r.shape[1])


if __name__ == "__main__":
    main()
