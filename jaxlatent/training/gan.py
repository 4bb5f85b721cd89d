"""Tiny GANs on 32 px shapes (4 shape-colour classes), each trained with its official loss.

Real images are ``shapes.sample`` at 128 px, 4x4-average-pooled to 32 px and mapped to [-1, 1];
the class is ``shapes.group`` (0 red triangle, 1 blue triangle, 2 red square, 3 blue square).
Each update step is one or more D updates then one G update on batches rendered in the step:

* ``pgan`` (pytorch_GAN_zoo ``BaseGAN.optimizeParameters``): WGAN-GP with the zoo's batch sums,
  -ΣD(x) + ΣD(G(z)) + λΣ(‖∇D(x̂)‖ - 1)² + εΣD(x)² (Gulrajani et al. 2017, Eq. 3; Karras et al.
  2018, Sec. A.1), λ = 10, ε = 0.001, plus AC-GAN cross-entropy (batch mean, times
  ``class_weight``) on real classes for D and on sampled classes for G; N(0, 1) weights
  (equalised lr), zero biases; Adam(1e-3, betas (0, 0.99)); the shipped G is avgG (EMA 0.999).
  The class logits are D's columns 1: (column 0 is the realism score); the zoo's
  ``ACGANCriterion`` reads columns 0..C-1, so its realism score doubles as the first logit.
  A fixed 32 px scale, no progressive growing.
* ``biggan`` (BigGAN-PyTorch ``losses.py``, ``scripts/launch_cifar_ema.sh``): hinge loss, projection
  D, spectral norm (one power iteration per update) on every G and D weight but G's shared
  embedding, batch statistics in G's batch norms, N(0, 0.02) init, Adam(2e-4, (0, 0.999)),
  ``d_steps`` D steps per G step (4 in the script, 2 in the config), G EMA. Export folds SN and
  stores standing statistics (16 batches).
* ``stylegan2`` (Karras et al. 2020; rosinality ``train.py``): non-saturating logistic loss and
  R1 γ/2·E‖∇D(x)‖² every step (no lazy regularisation, no path-length term, no style mixing),
  Adam(2e-3, (0, 0.99)), G EMA. **Unconditional**: the port has no class input.
"""
from __future__ import annotations

import os
import shutil

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxlatent import params as params_io
from jaxlatent.data import shapes
from jaxlatent.models import embedded
from jaxlatent.models.registry import load_model
from jaxlatent.models.shapes_gans import N_CLASSES
from jaxlatent.training.gan_archs import ARCHS, GanArch
from jaxlatent.training.tasks import TrainTask

CLASS_NAMES = ("red triangle", "blue triangle", "red square", "blue square")  # shapes.group order


def real_batch(key: jax.Array, n: int, bias: float, resolution: int,
               class_probs=None) -> tuple[jax.Array, jax.Array]:
    """``n`` shapes ``[n, r, r, 3]`` in [-1, 1] (average-pooled from 128 px) and classes ``[n]``.

    ``class_probs`` (4 class masses, `shapes.group` order) replaces the bias-``b`` class counts
    with classes drawn i.i.d. from those masses (a mass 0 class never appears); rotation, scale
    and position are drawn as `shapes.sample_labels` draws them.
    """
    if class_probs is None:
        images, labels = shapes.sample(key, n, bias)
    else:
        k_labels, k_class = jax.random.split(key)
        c = sample_classes(k_class, n, class_probs)
        labels = shapes.sample_labels(k_labels, n, bias)._replace(shape=c // 2, colour=c % 2)
        images = shapes.render(labels)
    f = shapes.SIZE // resolution
    x = images.reshape(n, resolution, f, resolution, f, 3).mean((2, 4))
    return 2.0 * x - 1.0, shapes.group(labels)



def sample_classes(key: jax.Array, n: int, class_probs=None) -> jax.Array:
    """``[n]`` int32 classes: uniform over the 4 classes, or i.i.d. from ``class_probs``."""
    if class_probs is None:
        return jax.random.randint(key, (n,), 0, N_CLASSES)
    probs = jnp.asarray(class_probs, jnp.float32)
    if probs.shape != (N_CLASSES,):
        raise ValueError(f"class_probs needs {N_CLASSES} masses (red tri, blue tri, red sq, "
                         f"blue sq); got {list(class_probs)}")
    return jax.random.categorical(key, jnp.log(probs), shape=(n,)).astype(jnp.int32)


def _adam(lr: float, cfg) -> optax.GradientTransformation:
    return optax.adam(lr, b1=cfg.betas[0], b2=cfg.betas[1], eps=cfg.adam_eps)


def _class_probs(cfg):
    """``cfg.data.class_probs`` as a tuple, or None (the balanced domain) when unset."""
    probs = cfg.data.get("class_probs", None)
    return None if probs is None else tuple(float(p) for p in probs)


def make_step(arch: GanArch, cfg, key: jax.Array):
    """``step(state, t, ctx)``: ``cfg.d_steps`` D updates, one G update, then the G EMA update.

    Real and fake classes follow ``cfg.data.class_probs`` when set (uniform otherwise), so a
    class of mass 0 is never shown to D nor asked of G: its embedding row keeps its init.
    """
    g_tx, d_tx = _adam(cfg.g_lr, cfg), _adam(cfg.d_lr, cfg)
    n, nz = cfg.batch_size, arch.noise_dim
    probs = _class_probs(cfg)

    def fakes(k):
        kz, kc, kn = jax.random.split(k, 3)
        return jax.random.normal(kz, (n, nz)), sample_classes(kc, n, probs), kn

    def d_update(state, k):
        k_real, k_fake, k_loss = jax.random.split(k, 3)
        real, c_real = real_batch(k_real, n, cfg.data.bias, cfg.resolution, probs)
        z, c_fake, k_noise = fakes(k_fake)
        fake = jax.lax.stop_gradient(arch.generate(state["g"], z, c_fake, k_noise))
        d = arch.refresh(state["d"])

        def loss(params):
            D = lambda x, c: arch.discriminate({**d, "params": params}, x, c)  # noqa: E731
            return arch.d_loss(D, real, c_real, fake, c_fake, k_loss)

        (value, aux), grads = jax.value_and_grad(loss, has_aux=True)(d["params"])
        updates, opt = d_tx.update(grads, state["d_opt"], d["params"])
        d = {**d, "params": optax.apply_updates(d["params"], updates)}
        return {**state, "d": d, "d_opt": opt}, {"d_loss": value, **aux}

    def g_update(state, k):
        z, c, k_noise = fakes(k)
        g = arch.refresh(state["g"])

        def loss(params):
            D = lambda x, c: arch.discriminate(state["d"], x, c)  # noqa: E731
            return arch.g_loss(D, arch.generate({**g, "params": params}, z, c, k_noise), c)

        (value, aux), grads = jax.value_and_grad(loss, has_aux=True)(g["params"])
        updates, opt = g_tx.update(grads, state["g_opt"], g["params"])
        g = {**g, "params": optax.apply_updates(g["params"], updates)}
        return {**state, "g": g, "g_opt": opt}, {"g_loss": value, **aux}

    def step(state, t, ctx):
        del ctx  # batches are rendered inside the step
        k = jax.random.fold_in(key, t)
        metrics = {}
        for i in range(cfg.d_steps):  # unrolled: XLA:CPU runs conv gradients in loops slowly
            state, metrics = d_update(state, jax.random.fold_in(k, i))
        state, g_metrics = g_update(state, jax.random.fold_in(k, cfg.d_steps))
        decay = jnp.where(t < cfg.ema_start, 0.0, cfg.ema_decay)
        ema = jax.tree.map(lambda e, p: decay * e + (1 - decay) * p, state["g_ema"], state["g"])
        return {**state, "g_ema": ema}, {**metrics, **g_metrics}

    return step


def upsample_to_128(x: jax.Array) -> jax.Array:
    """[-1, 1] images ``[N, r, r, 3]`` -> [0, 1] images ``[N, 128, 128, 3]`` (nearest)."""
    f = shapes.SIZE // x.shape[1]
    return jnp.clip(jnp.repeat(jnp.repeat((x + 1) / 2, f, axis=1), f, axis=2), 0.0, 1.0)


def _per_class(pred: np.ndarray, label: np.ndarray) -> list[float]:
    return [float(np.mean(pred[label == j] == j)) for j in range(N_CLASSES)]


def evaluate_generator(arch: GanArch, g: dict, key: jax.Array, n: int = 2000, bias: float = 0.5,
                       resolution: int = 32, batch: int = 250) -> dict:
    """Class consistency of G's samples and a feature Fréchet distance to real 32 px images.

    The shipped attribute classifier (128 px input, nearest-upsampled from 32 px) names each
    sample's class; ``eval_class_consistency_per_class[c]`` is the share of class-``c`` samples
    it calls ``c`` (``eval_class_share``: shares of the predicted classes). ``eval_real32_*`` is
    the same for real images pooled to 32 px (the classifier's ceiling at this resolution). The
    Fréchet distance uses the shipped 64-d feature network on ``n`` images per side;
    ``eval_feature_fd_real_vs_real`` compares two independent real sets of that size.
    """
    from jaxlatent.metrics.fid import fid_from_features
    from jaxlatent.models import shapes_classifier

    classifier, features = load_model("shapes_classifier"), load_model("shapes_features")

    @jax.jit
    def judge(x):
        shape, colour = shapes_classifier.predict(classifier.params, upsample_to_128(x))
        return 2 * shape + colour, features.apply_fn(features.params, upsample_to_128(x))

    real = jax.jit(lambda k, m: real_batch(k, m, bias, resolution), static_argnums=1)
    n = max(n // N_CLASSES, 1) * N_CLASSES
    rows = {name: [] for name in ("pred", "label", "feat", "rpred", "rlabel", "rfeat", "rfeat2")}
    for i in range(0, n, batch):
        m, k = min(batch, n - i), jax.random.fold_in(key, i)
        c = jnp.arange(i, i + m) % N_CLASSES
        fake = arch.sample(g, jax.random.normal(k, (m, arch.noise_dim)), c, k)
        for name, value in zip(("pred", "feat"), judge(fake)):
            rows[name].append(value)
        x, c_real = real(jax.random.fold_in(k, 1), m)
        for name, value in zip(("rpred", "rfeat", "label", "rlabel"), judge(x) + (c, c_real)):
            rows[name].append(value)
        rows["rfeat2"].append(judge(real(jax.random.fold_in(k, 2), m)[0])[1])
    r = {name: np.concatenate([np.asarray(v) for v in values]) for name, values in rows.items()}
    out = {"eval_real32_acc_per_class": _per_class(r["rpred"], r["rlabel"])}
    out["eval_real32_acc"] = float(np.mean(out["eval_real32_acc_per_class"]))
    if arch.conditional:
        out["eval_class_consistency_per_class"] = _per_class(r["pred"], r["label"])
        out["eval_class_consistency"] = float(np.mean(out["eval_class_consistency_per_class"]))
    out["eval_class_share"] = [float(np.mean(r["pred"] == j)) for j in range(N_CLASSES)]
    out["eval_feature_fd"] = fid_from_features(r["feat"], r["rfeat"])
    out["eval_feature_fd_real_vs_real"] = fid_from_features(r["rfeat2"], r["rfeat"])
    return out


def save_sample_grid(path: str, arch: GanArch, g: dict, key: jax.Array, per_class: int = 8) -> None:
    """One row per class (or 4 rows of unconditional samples) of 32 px samples, shown at 64 px."""
    from jaxlatent.outputs import save_image_grid

    c = jnp.repeat(jnp.arange(N_CLASSES), per_class)
    x = arch.sample(g, jax.random.normal(key, (c.shape[0], arch.noise_dim)), c, key)
    x = np.asarray(x).reshape(N_CLASSES, per_class, *x.shape[1:])
    labels = CLASS_NAMES if arch.conditional else None
    title = "G samples, one row per class" if arch.conditional else "G samples (unconditional)"
    save_image_grid(path, list(x), value_range=(-1.0, 1.0), title=title, row_labels=labels, scale=2)


def make_task(cfg: ml_collections.ConfigDict, key: jax.Array) -> TrainTask:
    """The GAN task of ``cfg.arch``: state = G, D, G EMA and both Adam states."""
    if cfg.arch not in ARCHS:
        raise KeyError(f"unknown GAN arch {cfg.arch!r}; known: {sorted(ARCHS)}")
    probs = _class_probs(cfg)
    arch = ARCHS[cfg.arch](cfg.model.to_dict(), cfg.resolution, cfg.loss.to_dict(),
                           **({"class_probs": probs} if probs is not None else {}))
    name = cfg.get("weights_name", None) or f"shapes_{cfg.arch}"
    arch = arch._replace(sample=jax.jit(arch.sample))  # shared by evaluate and export
    init_key, loop_key, eval_key = jax.random.split(key, 3)
    g_tx, d_tx = _adam(cfg.g_lr, cfg), _adam(cfg.d_lr, cfg)

    def init(_):
        g, d = jax.jit(arch.init)(init_key)
        return {"g": g, "d": d, "g_ema": jax.tree.map(jnp.copy, g),
                "g_opt": g_tx.init(g["params"]), "d_opt": d_tx.init(d["params"])}

    def evaluate(state):
        g = arch.finalize_g(state["g_ema"], eval_key)
        return evaluate_generator(arch, g, jax.random.fold_in(eval_key, 1), cfg.eval_size,
                                  cfg.data.bias, cfg.resolution)

    def export(state, path, summary):
        g, d = arch.finalize_g(state["g_ema"], eval_key), arch.finalize_d(state["d"])
        g_meta, d_meta = arch.metadata
        d_path = os.path.join(os.path.dirname(path), "discriminator.npz")
        params_io.save_params(path, jax.tree.map(np.asarray, g), **g_meta, training=summary)
        params_io.save_params(d_path, jax.tree.map(np.asarray, d), **d_meta, training=summary)
        save_sample_grid(os.path.join(os.path.dirname(path), "samples.png"), arch, g,
                         jax.random.fold_in(eval_key, 2))
        if cfg.get("export", False):
            shutil.copyfile(d_path, embedded.weights_path(f"{name}_discriminator"))
            summary["exported_discriminator_to"] = embedded.weights_path(f"{name}_discriminator")

    return TrainTask(f"{name}_generator", init, make_step(arch, cfg, loop_key),
                     evaluate, export=export)
