"""Train BigGAN-AM's classifier on the shapes domain: 4 classes, 32 px, all combinations.

    python -m jaxlatent.training.gan_classifier --workdir runs/train_am_classifier --export

BigGAN-AM optimises the class embedding through a classifier P (Eq. 2); its Table S2 shows that
P must not be the network that evaluates the result. So this `shapes_gans.AMClassifier` is a
different architecture, trained on its own data draws, from the evaluation-only
`shapes_classifier` (128 px, two attribute heads). It sees the balanced domain (b = 0.5), so it
knows every shape-colour pair, including the one the BigGAN-AM generator never saw. Recipe: Adam
1e-3, batch 64, softmax cross-entropy, real 128 px shapes average-pooled to 32 px in [-1, 1]
(`jaxlatent.training.gan.real_batch`, the GAN's own data path), 1,500 steps.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlatent import params as params_io
from jaxlatent.models import embedded, shapes_gans
from jaxlatent.training.gan import real_batch


def train(key: jax.Array, steps: int = 1500, batch: int = 64, lr: float = 1e-3):
    """Returns ``(params, losses)`` after ``steps`` Adam steps on fresh balanced batches."""
    k_init, k_data = jax.random.split(key)
    params = shapes_gans.build_shapes_biggan_am_classifier(key=k_init).params
    tx = optax.adam(lr)

    def loss_fn(p, k):
        x, y = real_batch(k, batch, 0.5, 32)
        logits = shapes_gans.am_classifier_apply(p, x)["logits"]
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

    @jax.jit
    def step(p, opt, t):
        loss, grads = jax.value_and_grad(loss_fn)(p, jax.random.fold_in(k_data, t))
        updates, opt = tx.update(grads, opt, p)
        return optax.apply_updates(p, updates), opt, loss

    opt, losses = tx.init(params), []
    for t in range(steps):
        params, opt, loss = step(params, opt, t)
        losses.append(float(loss))
    return params, losses


def accuracy(params, key: jax.Array, n: int = 2000, batch: int = 500) -> list[float]:
    """Per-class accuracy on ``n`` held-out balanced 32 px images."""
    predict = jax.jit(lambda x: jnp.argmax(shapes_gans.am_classifier_apply(params, x)["logits"],
                                           -1))
    pred, label = [], []
    for i in range(0, n, batch):
        x, y = real_batch(jax.random.fold_in(key, i), batch, 0.5, 32)
        pred.append(np.asarray(predict(x)))
        label.append(np.asarray(y))
    pred, label = np.concatenate(pred), np.concatenate(label)
    return [float(np.mean(pred[label == c] == c)) for c in range(shapes_gans.N_CLASSES)]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="runs/train_am_classifier")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--export", action="store_true", help="copy into jaxlatent/weights/")
    args = parser.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    t0 = time.time()
    params, losses = train(jax.random.key(args.seed), args.steps)
    per_class = accuracy(params, jax.random.key(10_000 + args.seed))
    summary = {"model": "shapes_biggan_am_classifier", "steps": args.steps, "seed": args.seed,
               "final_loss_mean_last_100": float(np.mean(losses[-100:])),
               "eval_acc_per_class": per_class, "eval_acc": float(np.mean(per_class)),
               "wall_seconds": round(time.time() - t0, 1)}
    out = os.path.join(args.workdir, "params.npz")
    params_io.save_params(out, jax.tree.map(np.asarray, params), training=summary)
    if args.export:
        shutil.copyfile(out, embedded.weights_path("shapes_biggan_am_classifier"))
    print(summary)
    return summary


if __name__ == "__main__":
    main()
