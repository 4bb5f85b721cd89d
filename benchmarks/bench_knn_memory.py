"""Peak memory of blockwise k-NN radii vs the N×N float64 matrix of the reference MANIFOLD class.

The Rarity-Score / DivRareGen ``MANIFOLD`` builds the full real–real distance matrix in float64
(N²·8 bytes), then a sorted copy and an int64 argsort (3·N²·8 bytes in all). jaxlatent computes the
same radii (sorted_row[k]) with a running top-k over ``row_block × col_block`` tiles.

Usage:
  python benchmarks/bench_knn_memory.py                 # N=10000, D=4096 (2-core CPU friendly)
  python benchmarks/bench_knn_memory.py --n 70000 --d 4096   # FFHQ-70k size (needs ~1.2 GB input)

Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (process high-water mark, includes the
input features and the JAX runtime). On an accelerator, device peak bytes are printed too.
"""

from __future__ import annotations

import argparse
import resource
import time

import jax
import numpy as np

from jaxlatent.metrics import knn


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="number of real features")
    parser.add_argument("--d", type=int, default=4096, help="feature dimension")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--row-block", type=int, default=1024)
    parser.add_argument("--col-block", type=int, default=8192)
    parser.add_argument("--check", type=int, default=200,
                        help="rows compared against a float64 brute force (0 = skip)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    feats = np.maximum(rng.standard_normal((args.n, args.d), dtype=np.float32), 0.0)  # ReLU-like
    x = jax.device_put(feats)
    jax.block_until_ready(x)
    base = _rss_bytes()
    t0 = time.perf_counter()
    radii = knn.knn_radii(x, args.k, row_block=args.row_block, col_block=args.col_block)
    radii = np.asarray(jax.block_until_ready(radii))
    elapsed = time.perf_counter() - t0
    peak = _rss_bytes()

    ref_matrix = args.n**2 * 8
    gib = 2.0**30
    print(f"N={args.n} D={args.d} k={args.k} blocks={args.row_block}x{args.col_block} "
          f"backend={jax.default_backend()} time={elapsed:.1f}s")
    print(f"input features (float32):          {feats.nbytes / gib:8.3f} GiB")
    print(f"peak RSS before radii:             {base / gib:8.3f} GiB")
    print(f"peak RSS after radii:              {peak / gib:8.3f} GiB "
          f"(+{(peak - base) / gib:.3f} GiB during the radii)")
    print(f"reference N×N float64 matrix:      {ref_matrix / gib:8.3f} GiB "
          f"(+ sorted copy + int64 argsort = {3 * ref_matrix / gib:.3f} GiB)")
    print(f"ratio peak RSS / reference matrix: {peak / ref_matrix:8.4f}")
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        print(f"device peak bytes in use:          {stats['peak_bytes_in_use'] / gib:8.3f} GiB")
    if args.check:
        rows = feats[: args.check].astype(np.float64)
        full = feats.astype(np.float64)
        d2 = (rows**2).sum(1)[:, None] + (full**2).sum(1)[None] - 2 * rows @ full.T
        want = np.sort(np.sqrt(np.maximum(d2, 0)), axis=1)[:, args.k]
        err = np.max(np.abs(radii[: args.check] - want) / want)
        print(f"max relative error vs float64 brute force on {args.check} rows: {err:.2e}")


if __name__ == "__main__":
    main()
