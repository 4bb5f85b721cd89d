"""Training tasks for the embedded shapes models, each a set of pure functions run by `loop`.

A task draws its batches inside the jitted step from ``fold_in(key, step)`` (the shapes domain is
rendered in JAX), so training is one compiled program per chunk with no host data pipeline, and a
resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxlatent.data import shapes
from jaxlatent.models import shapes_classifier, shapes_features, shapes_vae
from jaxlatent.models.registry import load_model


class TrainTask(NamedTuple):
    """``init(key) -> state``; ``step(state, step, ctx) -> (state, metrics)``; ``evaluate(state)``.

    ``export(state, path, summary)`` writes the weights file (default: ``state["params"]``).
    """

    model_name: str
    init: Callable[[jax.Array], Any]
    step: Callable[[Any, jax.Array, Any], tuple[Any, dict]]
    evaluate: Callable[[Any], dict]
    ctx: Any = None
    export: Callable[[Any, str, dict], None] | None = None


def _optimizer(cfg: ml_collections.ConfigDict) -> optax.GradientTransformation:
    return optax.adam(cfg.learning_rate)


def _gradient_task(model_name, loss_fn, cfg, key, evaluate) -> TrainTask:
    """A task whose step is one Adam step on ``loss_fn(params, step_key) -> (loss, aux)``."""
    tx = _optimizer(cfg)
    init_key, loop_key = jax.random.split(key)

    def init(_):
        params = load_model(model_name, key=init_key).params
        return {"params": params, "opt_state": tx.init(params)}

    def step(state, t, ctx):
        del ctx  # batches are rendered inside the step
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (loss, aux), grads = grad_fn(state["params"], jax.random.fold_in(loop_key, t))
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        return {"params": params, "opt_state": opt_state}, {"loss": loss, **aux}

    return TrainTask(model_name, init, step, lambda state: evaluate(state["params"]))


def _noisy_batch_loss(cfg, loss):
    """``loss_fn(params, key)`` = ``loss(params, images, noise_key)`` on a freshly rendered batch."""

    def loss_fn(params, k):
        data_key, noise_key = jax.random.split(k)
        images, _ = shapes.sample(data_key, cfg.batch_size, cfg.data.bias)
        return loss(params, images, noise_key)

    return loss_fn


def _held_out(cfg):
    """The evaluation images: ``cfg.eval_size`` shapes from a key no training step uses."""
    return shapes.sample_jit(jax.random.key(10_000), cfg.eval_size, cfg.data.bias)[0]


def vae_task(cfg: ml_collections.ConfigDict, key: jax.Array) -> TrainTask:
    """The QDGS shapes VAE on bias ``cfg.data.bias`` (0.98) images."""
    loss_fn = _noisy_batch_loss(
        cfg, lambda p, images, k: shapes_vae.vae_loss(p, images, k, cfg.beta))

    def evaluate(params):
        images = _held_out(cfg)
        mu, _ = shapes_vae._encode(params, images)
        recon = shapes_vae._decode(params, mu)
        return {"eval_recon_mse": float(jnp.mean((recon - images) ** 2)),
                "eval_recon_mae": float(jnp.mean(jnp.abs(recon - images)))}

    return _gradient_task("shapes_vae", loss_fn, cfg, key, evaluate)


def features_task(cfg: ml_collections.ConfigDict, key: jax.Array) -> TrainTask:
    """The denoising-autoencoder feature network on balanced (b = 0.5) images."""
    loss_fn = _noisy_batch_loss(
        cfg, lambda p, images, k: shapes_features.autoencoder_loss(p, images, k, cfg.noise_std))

    def evaluate(params):
        images = _held_out(cfg)
        recon = shapes_features.FeatureAutoencoder().apply({"params": params}, images)
        target = shapes_features.avg_pool2(images)
        return {"eval_recon_mse": float(jnp.mean((recon - target) ** 2))}

    return _gradient_task("shapes_features", loss_fn, cfg, key, evaluate)


def classifier_task(cfg: ml_collections.ConfigDict, key: jax.Array) -> TrainTask:
    """The shape/colour attribute classifier on balanced (b = 0.5) images."""

    def loss_fn(params, k):
        images, labels = shapes.sample(k, cfg.batch_size, cfg.data.bias)
        return shapes_classifier.classifier_loss(params, images, labels)

    def evaluate(params):
        return balanced_accuracy(params, jax.random.key(10_000), cfg.eval_size)

    return _gradient_task("shapes_classifier", loss_fn, cfg, key, evaluate)


def balanced_accuracy(params, key: jax.Array, n: int, batch: int = 500) -> dict:
    """Accuracy of both heads on ``n`` b = 0.5 images: per 4-way group and balanced (group mean)."""
    correct_shape, correct_colour, groups = [], [], []
    predict = jax.jit(shapes_classifier.predict)
    for i in range(0, n, batch):
        images, labels = shapes.sample_jit(jax.random.fold_in(key, i), batch, 0.5)
        shape, colour = predict(params, images)
        correct_shape.append(np.asarray(shape == labels.shape))
        correct_colour.append(np.asarray(colour == labels.colour))
        groups.append(np.asarray(shapes.group(labels)))
    cs, cc, g = map(np.concatenate, (correct_shape, correct_colour, groups))
    out = {}
    for name, correct in (("shape", cs), ("colour", cc)):
        per_group = [float(correct[g == j].mean()) for j in range(4)]
        out[f"eval_acc_{name}_balanced"] = float(np.mean(per_group))
        out[f"eval_acc_{name}_per_group"] = per_group
    return out


def real_feature_bank(key: jax.Array, n: int, bias: float, batch: int = 250) -> np.ndarray:
    """Features f(x) [n, 64] of ``n`` real shapes images with bias ``bias`` (shipped extractor)."""
    extractor = load_model("shapes_features")
    extract = jax.jit(lambda k: extractor.apply_fn(extractor.params, shapes.sample(k, batch, bias)[0]))
    return np.concatenate([np.asarray(extract(jax.random.fold_in(key, i))) for i in range(0, n, batch)])[:n]


def flow_task(cfg: ml_collections.ConfigDict, key: jax.Array) -> TrainTask:
    """The feature density flow (DivRare's Glow, `small` preset) on real b = 0.98 features.

    Reference recipe (DivRareGen ``nf_train.py``): min-max scaler fit on the last 70 % of rows,
    ActNorm data-initialised on the first batch, Adam with step decay, bits/dim loss.
    """
    from jaxlatent.models import glow
    from jaxlatent.training import flow

    bank_key, init_key, loop_key = jax.random.split(key, 3)
    features = real_feature_bank(bank_key, cfg.num_features, cfg.data.bias)
    train, val = flow.train_val_split(features)
    scaler = flow.fit_minmax(train)
    train_scaled = jnp.asarray(glow.minmax_scale(train, scaler["data_min"], scaler["data_range"]))
    val_scaled = glow.minmax_scale(val, scaler["data_min"], scaler["data_range"])
    model = glow.make_glow(cfg.preset, n_features=features.shape[1])
    trainer = flow.make_trainer(model, flow.make_optimizer(cfg.learning_rate, cfg.decay_every, cfg.decay))

    def step(state, t, data):
        idx = jax.random.randint(jax.random.fold_in(loop_key, t), (cfg.batch_size,), 0, data.shape[0])
        return trainer.train_step(state, data[idx])

    def evaluate(state):
        val_ll = trainer.log_likelihood(state, val_scaled)
        mu, sd = train_scaled.mean(0), train_scaled.std(0) + 1e-6
        gauss = -0.5 * (((val_scaled - mu) / sd) ** 2 + 2 * jnp.log(sd) + jnp.log(2 * jnp.pi))
        return {"eval_val_log_likelihood": val_ll,
                "eval_val_log_likelihood_diag_gaussian": float(jnp.mean(jnp.sum(gauss, -1)))}

    def export(state, path, summary):
        variables = {"params": state["params"], "buffers": state["buffers"]}
        glow.save_flow(path, model, variables, scaler, training=summary)

    init = lambda _: trainer.init(init_key, train_scaled[: cfg.batch_size])  # noqa: E731
    return TrainTask("shapes_flow", init, step, evaluate, ctx=train_scaled, export=export)


def gan_task(cfg: ml_collections.ConfigDict, key: jax.Array) -> TrainTask:
    """A tiny GAN (G and D) of ``cfg.arch`` on 32 px shapes, see `jaxlatent.training.gan`."""
    from jaxlatent.training import gan

    return gan.make_task(cfg, key)


TASKS = {
    "vae": vae_task,
    "features": features_task,
    "classifier": classifier_task,
    "flow": flow_task,
    "gan": gan_task,
}
