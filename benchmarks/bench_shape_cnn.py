"""Cost of one training step of the QDGS shapes classifier at 128, 64 and 32 px, side by side.

The baseline is the official 128-px input; the ratios say how much cheaper the downsampled
variants of ``configs/debias.py`` (``size=64``, default ``size=32``) are, and the last column
extrapolates the 15 trials (940 steps each: 20 pretraining epochs on 1000 images plus 2 × 30
fine-tuning epochs on 1544 images, batch 128) of the default experiment.

    python benchmarks/bench_shape_cnn.py
"""

import time

import jax
import numpy as np

from jaxlatent.models import shape_cnn
from jaxlatent.training import shape_cnn as trainer

STEPS_PER_EXPERIMENT = 15 * (20 * 8 + 2 * 30 * 13)


def step_time(size: int, batch: int = 128, reps: int = 3) -> float:
    spec = trainer.TrainSpec(epochs=1, batch_size=batch)
    tx, step = trainer.make_step(spec)
    params = shape_cnn.init_params(jax.random.key(0), size)
    opt_state = tx.init(params)
    images = np.random.default_rng(0).random((batch, size, size, 3), np.float32)
    labels, mask = np.ones(batch, np.float32), np.ones(batch, np.float32)
    params, opt_state, loss = step(params, opt_state, images, labels, mask, jax.random.key(1))
    jax.block_until_ready(loss)  # compile
    t0 = time.perf_counter()
    for i in range(reps):
        params, opt_state, loss = step(params, opt_state, images, labels, mask, jax.random.key(i))
    jax.block_until_ready(loss)
    return (time.perf_counter() - t0) / reps


def main():
    print(f"device: {jax.devices()[0].platform}; batch 128, Adam step incl. rotation")
    base = step_time(128)
    for size in (128, 64, 32):
        t = base if size == 128 else step_time(size)
        hours = t * STEPS_PER_EXPERIMENT / 3600
        print(f"{size:4d} px: {t:.3f} s/step, {base / t:5.1f}x cheaper than 128 px, "
              f"{STEPS_PER_EXPERIMENT} steps of the default experiment ≈ {hours:.1f} h")


if __name__ == "__main__":
    main()
