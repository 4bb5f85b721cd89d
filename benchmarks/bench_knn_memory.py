"""Peak memory of blockwise k-NN radii vs the N×N float64 matrix of the reference MANIFOLD class.

The Rarity-Score / DivRareGen ``MANIFOLD`` builds the full real–real distance matrix in float64
(N²·8 bytes), then a sorted copy and an int64 argsort (3·N²·8 bytes in all). jaxlatent computes the
same radii (sorted_row[k]) with a running top-k over ``row_block × col_block`` tiles; blocks need
not divide N (whole blocks are read in place, the remainder is one more step), so exactly N²
distances are computed and the features are never copied.

Usage:
  python benchmarks/bench_knn_memory.py                 # N=10000, D=4096 (2-core CPU friendly)
  python benchmarks/bench_knn_memory.py --n 70000 --d 4096 --check 50   # FFHQ-70k size

Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the whole process's high-water mark:
the input features, the JAX runtime and the compiled program's buffers). The features are filled
in place in a 64-byte-aligned buffer, which `jax.device_put` aliases on CPU instead of copying, so
they are held once; an unaligned host array costs one device copy more (the line "device_put
copied" says which happened). "distances computed / N²" is counted from the traced program (dot
products × loop trip counts), 1.000 meaning no padded work. On an accelerator, device peak bytes
are printed too.
"""

from __future__ import annotations

import argparse
import math
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jcore

from jaxlatent.metrics import knn


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _aligned_empty(shape, dtype, align=64) -> np.ndarray:
    """An uninitialised array whose data pointer is ``align``-byte aligned."""
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    buf = np.empty(size * dtype.itemsize + align, np.uint8)
    off = -buf.ctypes.data % align
    return buf[off:off + size * dtype.itemsize].view(dtype).reshape(shape)


def _distances_computed(fn, *args) -> int:
    """Entries of all dot products in ``fn``'s jaxpr, times the trip counts of enclosing scans."""

    def walk(jaxpr, mult):
        total = 0
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "dot_general":
                total += mult * math.prod(eqn.outvars[0].aval.shape)
            inner = mult * eqn.params["length"] if eqn.primitive.name == "scan" else mult
            for v in eqn.params.values():
                for sub in v if isinstance(v, (tuple, list)) else (v,):
                    sub = sub.jaxpr if isinstance(sub, jcore.ClosedJaxpr) else sub
                    if isinstance(sub, jcore.Jaxpr):
                        total += walk(sub, inner)
        return total

    return walk(jax.make_jaxpr(fn)(*args).jaxpr, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="number of real features")
    parser.add_argument("--d", type=int, default=4096, help="feature dimension")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--row-block", type=int, default=knn.ROW_BLOCK)
    parser.add_argument("--col-block", type=int, default=knn.COL_BLOCK)
    parser.add_argument("--check", type=int, default=200,
                        help="rows compared against a float64 brute force (0 = skip)")
    args = parser.parse_args()
    gib = 2.0**30
    n, rb, cb = args.n, min(args.row_block, args.n), min(args.col_block, args.n)

    rss_start = _rss_bytes()
    rng = np.random.default_rng(0)
    feats = _aligned_empty((n, args.d), np.float32)
    rng.standard_normal(out=feats, dtype=np.float32)
    np.maximum(feats, 0.0, out=feats)  # ReLU-like, in place
    rss_feats = _rss_bytes()
    x = jax.block_until_ready(jax.device_put(feats))
    copied = x.unsafe_buffer_pointer() != feats.ctypes.data
    base = _rss_bytes()

    spec = jax.ShapeDtypeStruct((n, args.d), jnp.float32)
    computed = _distances_computed(
        lambda a: knn.knn_distances_jit(a, a, args.k + 1, self_is_zero=True, row_block=rb,
                                        col_block=cb), spec)
    padded = -(-n // rb) * rb * (-(-n // cb) * cb)  # what whole-block padding would compute

    t0 = time.perf_counter()
    radii = knn.knn_radii(x, args.k, row_block=args.row_block, col_block=args.col_block)
    radii = np.asarray(jax.block_until_ready(radii))
    elapsed = time.perf_counter() - t0
    peak = _rss_bytes()

    ref_matrix = n**2 * 8
    print(f"N={n} D={args.d} k={args.k} blocks={args.row_block}x{args.col_block} "
          f"backend={jax.default_backend()} time={elapsed:.1f}s (incl. compile)")
    print(f"input features (float32):          {feats.nbytes / gib:8.3f} GiB")
    print(f"peak RSS at start:                 {rss_start / gib:8.3f} GiB")
    print(f"peak RSS after the features:       {rss_feats / gib:8.3f} GiB")
    print(f"peak RSS before radii:             {base / gib:8.3f} GiB "
          f"(device_put copied: {'yes' if copied else 'no'})")
    print(f"peak RSS after radii:              {peak / gib:8.3f} GiB "
          f"(+{(peak - base) / gib:.3f} GiB during the radii)")
    print(f"distances computed / N²:           {computed / n**2:8.3f} "
          f"(columns per row {computed / n:.0f} for N={n}; whole-block padding would be "
          f"{padded / n**2:.3f})")
    print(f"reference N×N float64 matrix:      {ref_matrix / gib:8.3f} GiB "
          f"(+ sorted copy + int64 argsort = {3 * ref_matrix / gib:.3f} GiB)")
    print(f"ratio peak RSS / reference matrix: {peak / ref_matrix:8.4f}")
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        print(f"device peak bytes in use:          {stats['peak_bytes_in_use'] / gib:8.3f} GiB")
    if args.check:
        rows = feats[: args.check].astype(np.float64)
        d2 = np.empty((rows.shape[0], n))
        for s in range(0, n, 4096):  # float64 in chunks: the check must not set the peak
            full = feats[s:s + 4096].astype(np.float64)
            d2[:, s:s + 4096] = ((rows**2).sum(1)[:, None] + (full**2).sum(1)[None]
                                 - 2 * rows @ full.T)
        want = np.sort(np.sqrt(np.maximum(d2, 0)), axis=1)[:, args.k]
        err = np.max(np.abs(radii[: args.check] - want) / want)
        print(f"max relative error vs float64 brute force on {args.check} rows: {err:.2e} "
              f"(peak RSS with the check: {_rss_bytes() / gib:.3f} GiB)")


if __name__ == "__main__":
    main()
