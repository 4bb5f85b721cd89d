"""Gradient-free strategies: jaxlatent (one program over all problems) vs nevergrad 1.0.12.

    python benchmarks/bench_gradient_free.py --quick      # d = 512, a few minutes on 2 cores
    python benchmarks/bench_gradient_free.py              # d = 512 and 7,168 (README numbers)

For each strategy and dimension: ``--problems`` independent problems (default 64), each with a
budget of ``--budget`` evaluations (default 1,000) of the loss ``--loss`` on the standardised
latent. jaxlatent runs all problems as one `runner.run` program (P candidates per iteration,
``budget // P`` iterations; its wall time is measured on a second, compiled run, the compile time
is printed apart). nevergrad runs one optimizer per problem, ``num_workers = P``, ask × P, the P
losses evaluated as one numpy batch (as the official code evaluates its batches), tell × P.
nevergrad's time is linear in the number of problems (sequential Python), so it runs on
``--ng-problems`` of them and its time for all problems is scaled from that, as printed.
Losses are the best found per problem, mean ± standard error over the problems each side ran.
"""

from __future__ import annotations

import argparse
import time
import warnings

import jax
import numpy as np

from jaxlatent.search.population import testbed

STRATEGIES = ("random_search", "one_plus_one", "discrete_one_plus_one",
              "portfolio_discrete_one_plus_one", "de", "two_points_de", "dde", "pso", "cma",
              "diagonal_cma")
FULL_CMA_LIMIT = 1000  # nevergrad's CMAstd is full covariance: not run beyond this dimension


def mean_se(x) -> str:
    x = np.asarray(x, np.float64)
    se = x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
    return f"{x.mean():.4g} ± {se:.2g}"


def bench_jax(name: str, d: int, args) -> dict:
    strategy = testbed.build(name, d)
    ids = np.full(args.problems, testbed.LOSS_NAMES.index(args.loss))
    t0 = time.perf_counter()
    testbed.run_jax(strategy, ids, d, args.budget, jax.random.key(0))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    best, _ = testbed.run_jax(strategy, ids, d, args.budget, jax.random.key(1))
    wall = time.perf_counter() - t0
    p = testbed.population_of(strategy, d)
    evals = args.problems * (args.budget // p) * p
    return dict(p=p, wall=wall, compile=first - wall, evals=evals, rate=evals / wall, best=best)


def bench_nevergrad(name: str, d: int, p: int, args) -> dict | None:
    if name == "cma" and d > FULL_CMA_LIMIT:
        return None
    ng_name = testbed.NEVERGRAD[name][0]
    t0 = time.perf_counter()
    best = [testbed.run_nevergrad(ng_name, args.loss, d, args.budget, seed, p)[0]
            for seed in range(args.ng_problems)]
    wall = time.perf_counter() - t0
    evals = args.ng_problems * (args.budget // p) * p
    rate = evals / wall
    return dict(wall=wall, scaled=wall * args.problems / args.ng_problems, rate=rate,
                best=np.asarray(best))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--dims", type=int, nargs="+", default=[512, 7168])
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--ng-problems", type=int, default=4)
    parser.add_argument("--loss", default="shifted_sphere", choices=testbed.LOSS_NAMES)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--quick", action="store_true", help="d = 512, 2 nevergrad problems")
    args = parser.parse_args(argv)
    if args.quick:
        args.dims, args.ng_problems = [512], 2
    warnings.filterwarnings("ignore", module="nevergrad")
    print(f"backend {jax.default_backend()} ({jax.device_count()} device(s)); {args.problems} "
          f"problems × {args.budget} evaluations of {args.loss}; nevergrad on {args.ng_problems} "
          f"problems, its time scaled ×{args.problems / args.ng_problems:g} to all problems")
    header = ("| strategy | d | P | jaxlatent wall s (compile s) | jaxlatent evals/s | nevergrad "
              "wall s (scaled) | nevergrad evals/s | ratio | loss jaxlatent | loss nevergrad |")
    print(header + "\n|" + "---|" * 10, flush=True)
    for d in args.dims:
        for name in args.strategies:
            ours = bench_jax(name, d, args)
            theirs = bench_nevergrad(name, d, ours["p"], args)
            cells = [name, d, ours["p"], f"{ours['wall']:.2f} ({ours['compile']:.1f})",
                     f"{ours['rate']:.0f}"]
            if theirs is None:
                cells += ["not run (full-covariance pycma)", "–", "–"]
            else:
                cells += [f"{theirs['wall']:.2f} ({theirs['scaled']:.1f})", f"{theirs['rate']:.0f}",
                          f"{ours['rate'] / theirs['rate']:.0f}×"]
            cells += [mean_se(ours["best"]), "–" if theirs is None else mean_se(theirs["best"])]
            print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
