"""Two CPU measurements quoted in the README, each side by side in one run.

1. Shapes rendering throughput (`jaxlatent.data.shapes.sample_jit`), images per second.
2. One training chunk of the shapes classifier as a `lax.scan` program vs a host loop over one
   jitted step (what `jaxlatent.loop` does on CPU), seconds per step and their ratio.

    python benchmarks/bench_shapes_and_loop.py
"""

import time

import jax
import ml_collections

from jaxlatent import loop
from jaxlatent.data import shapes
from jaxlatent.training import tasks


def render_rate(n=1000, reps=3):
    jax.block_until_ready(shapes.sample_jit(jax.random.key(0), n, 0.98)[0])
    t0 = time.perf_counter()
    for i in range(reps):
        jax.block_until_ready(shapes.sample_jit(jax.random.key(i + 1), n, 0.98)[0])
    return n * reps / (time.perf_counter() - t0)


def chunk_time(scan: bool, steps=10, batch=8):
    cfg = ml_collections.ConfigDict(dict(batch_size=batch, learning_rate=1e-3, eval_size=8,
                                         data=dict(bias=0.5)))
    task = tasks.classifier_task(cfg, jax.random.key(0))
    run_chunk = loop.make_chunk_fn(task.step, scan)
    state, _ = run_chunk(task.init(None), jax.numpy.int32(0), steps, None)  # compile
    t0 = time.perf_counter()
    state, metrics = run_chunk(state, jax.numpy.int32(steps), steps, None)
    jax.block_until_ready(metrics)
    return (time.perf_counter() - t0) / steps


def main():
    print(f"device: {jax.devices()[0].platform}")
    print(f"shapes rendering: {render_rate():.0f} images/s (128x128, batches of 1000)")
    scan, unrolled = chunk_time(True), chunk_time(False)
    print(f"classifier step inside lax.scan: {scan:.4f} s/step")
    print(f"classifier step, host loop over one jitted step: {unrolled:.4f} s/step")
    print(f"scan / host loop: {scan / unrolled:.2f}x")


if __name__ == "__main__":
    main()
