"""Training and evaluation of the QDGS shapes classifier (`jaxlatent.models.shape_cnn`).

Official recipe (``shapes/train.py``): Adam 1e-3, batch 128, BCE on a sigmoid output,
``RandomRotation(180)`` per batch; 20 epochs on the biased real images, then a **new** Adam and 30
epochs on the synthetic ImageFolder. An epoch visits every image once in a random order; the last,
short batch is padded and masked, so one compiled step serves every batch.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from jaxlatent.data import augment, shapes
from jaxlatent.models import shape_cnn


class TrainSpec(NamedTuple):
    """One training phase: ``epochs`` over the data with a fresh Adam(``learning_rate``)."""

    epochs: int
    batch_size: int = 128
    learning_rate: float = 1e-3
    max_rotation: float = 180.0  # degrees; 0 turns the augmentation off
    rotation_fill: float = 1.0  # 1 white background; torchvision's default 0 is black


def _loss(params, images, labels, mask):
    bce = optax.sigmoid_binary_cross_entropy(shape_cnn.logits(params, images), labels)
    return jnp.sum(bce * mask) / jnp.maximum(jnp.sum(mask), 1.0)


@functools.lru_cache(maxsize=None)
def make_step(spec: TrainSpec):
    """The jitted step ``(params, opt_state, images, labels, mask, key) -> (params, opt_state, loss)``."""
    tx = optax.adam(spec.learning_rate)

    @jax.jit
    def step(params, opt_state, images, labels, mask, key):
        angle = jax.random.uniform(key, (), minval=-spec.max_rotation, maxval=spec.max_rotation)
        images = augment.rotate(images, angle, spec.rotation_fill)
        loss, grads = jax.value_and_grad(_loss)(params, images, labels, mask)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return tx, step


def train(params: dict, images: np.ndarray, labels: np.ndarray, spec: TrainSpec,
          key: jax.Array, desc: str = "train") -> tuple[dict, list[float]]:
    """Trains ``params`` for ``spec.epochs`` epochs; returns the params and the mean loss per epoch.

    Args:
      params: `shape_cnn` parameters.
      images: [N, S, S, 3] float32 in [0, 1].
      labels: [N] with 1 = square.
      spec: the phase's hyper-parameters (a new Adam state is made here, as in the official code).
      key: drives the epoch orders and the rotation angles.
      desc: label of the progress bar (one tick per epoch).
    """
    if len(images) == 0:
        raise ValueError("cannot train the shape classifier on an empty dataset")
    tx, step = make_step(spec)
    opt_state = tx.init(params)
    n, bs = len(images), spec.batch_size
    num_batches = -(-n // bs)
    images = jnp.asarray(images, jnp.float32)
    labels = jnp.asarray(labels, jnp.float32)
    losses = []
    for epoch in tqdm(range(spec.epochs), desc=desc, leave=False):
        epoch_key = jax.random.fold_in(key, epoch)
        order = np.asarray(jax.random.permutation(epoch_key, n))
        order = np.concatenate([order, np.zeros(num_batches * bs - n, order.dtype)])
        mask = (np.arange(num_batches * bs) < n).astype(np.float32)
        total = 0.0
        for b in range(num_batches):
            idx = order[b * bs:(b + 1) * bs]
            params, opt_state, loss = step(params, opt_state, images[idx], labels[idx],
                                           mask[b * bs:(b + 1) * bs], jax.random.fold_in(epoch_key, b + 1))
            total += float(loss)
        losses.append(total / num_batches)
    return params, losses


def render_eval_set(key: jax.Array, n: int, image_size: int, bias: float = 0.5, batch: int = 500):
    """``n`` rendered shapes at bias ``bias``, downsampled to ``image_size``: (images, shape, group)."""
    chunks, shape, group = [], [], []
    for i in range(0, n, batch):
        imgs, labels = shapes.sample_jit(jax.random.fold_in(key, i), min(batch, n - i), bias)
        chunks.append(np.asarray(augment.area_downsample(imgs, image_size)))
        shape.append(np.asarray(labels.shape))
        group.append(np.asarray(shapes.group(labels)))
    return np.concatenate(chunks), np.concatenate(shape), np.concatenate(group)


@jax.jit
def _predict(params, images):
    return shape_cnn.logits(params, images) > 0


def evaluate(params: dict, images: np.ndarray, shape: np.ndarray, group: np.ndarray,
             batch: int = 500) -> dict:
    """Accuracy (threshold 0.5) per group (red tri, blue tri, red sq, blue sq), balanced and worst.

    Balanced accuracy is the mean of the four group accuracies (the official evaluation).
    """
    pred = np.concatenate([np.asarray(_predict(params, images[i:i + batch]))
                           for i in range(0, len(images), batch)])
    correct = pred == (shape == shapes.SQUARE)
    per_group = [float(correct[group == g].mean()) for g in range(4)]
    return {"balanced": float(np.mean(per_group)), "worst_group": float(min(per_group)),
            "per_group": per_group}
