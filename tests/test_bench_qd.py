"""benchmarks/bench_qd_vs_pyribs.py runs both sides and its tail diagnostics are consistent."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

import bench_qd_vs_pyribs as bench  # noqa: E402


def test_bench_rows_are_consistent_on_both_sides():
    for row in (bench.run_ours(20, 30, (10, 10), 2, 5, seed=0, chunk=30),
                bench.run_pyribs(20, 30, (10, 10), 2, 5, seed=0)):
        qd, cov, ips, qd_clipped, n_neg, min_obj = row
        assert 0.0 < cov <= 1.0 and ips > 0
        # clipping objectives at 0 can only raise the score, and only if some elite is < 0
        assert qd_clipped >= qd - 1e-4
        if n_neg == 0:
            assert abs(qd_clipped - qd) < 1e-4
        assert (min_obj < 0) == (n_neg > 0)


def test_tail_stats_counts_and_clips():
    qd_clipped, n_neg, min_obj = bench._tail_stats(np.array([50.0, -10.0, 30.0]), cells=4)
    assert qd_clipped == 20.0 and n_neg == 1 and min_obj == -10.0
