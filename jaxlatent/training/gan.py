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

import functools
import os
import shutil
from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import traverse_util

from jaxlatent import params as params_io
from jaxlatent.data import shapes
from jaxlatent.models import biggan, embedded, pgan
from jaxlatent.models.biggan.layers import BN, CCBN, conv
from jaxlatent.models.registry import Model, load_model
from jaxlatent.models.stylegan2 import builders as sg2
from jaxlatent.models.stylegan2 import mapping as sg2_mapping
from jaxlatent.models.stylegan2 import presets as sg2_presets
from jaxlatent.training.tasks import TrainTask

N_CLASSES = 4
# Architecture of each shipped (and `key=`-initialised) model; configs/train_gan.py uses these.
MODELS = {
    "pgan": dict(noise_dim=32, depth_scale0=32, depth_other_scales=[32, 16, 16]),
    "biggan": dict(g_ch=8, d_ch=8, dim_z=32, shared_dim=32),
    "stylegan2": dict(style_dim=64, n_mlp=2, channels=[64, 64, 32, 32]),
}


def real_batch(key: jax.Array, n: int, bias: float, resolution: int) -> tuple[jax.Array, jax.Array]:
    """``n`` shapes ``[n, r, r, 3]`` in [-1, 1] (average-pooled from 128 px) and classes ``[n]``."""
    images, labels = shapes.sample(key, n, bias)
    f = shapes.SIZE // resolution
    x = images.reshape(n, resolution, f, resolution, f, 3).mean((2, 4))
    return 2.0 * x - 1.0, shapes.group(labels)


# ----------------------------------------------------------------------------------- losses
def _input_grads(D, x, c):
    """∂ΣD(x)/∂x flattened per sample, ``[N, H·W·C]``."""
    return jax.grad(lambda v: jnp.sum(D(v, c)[0]))(x).reshape(x.shape[0], -1)


def _cross_entropy(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def wgan_gp_d_loss(D, real, c_real, fake, c_fake, key, *, lambda_gp, epsilon_drift, class_weight):
    """Zoo critic loss (sums over the batch) + AC-GAN cross-entropy on real classes."""
    s_real, logits_real = D(real, c_real)
    s_fake, _ = D(fake, c_fake)
    alpha = jax.random.uniform(key, (real.shape[0], 1, 1, 1))
    norms = jnp.sqrt(jnp.sum(_input_grads(D, alpha * real + (1 - alpha) * fake, c_fake) ** 2, 1))
    gp = lambda_gp * jnp.sum((norms - 1.0) ** 2)
    drift = epsilon_drift * jnp.sum(s_real**2)
    classif = class_weight * _cross_entropy(logits_real, c_real)
    wasserstein = jnp.sum(s_real) - jnp.sum(s_fake)
    loss = -wasserstein + gp + drift + classif
    return loss, {"d_wasserstein": wasserstein, "d_gp": gp, "d_drift": drift, "d_classif": classif}


def wgan_g_loss(D, fake, c_fake, *, class_weight, **_):
    s_fake, logits = D(fake, c_fake)
    classif = class_weight * _cross_entropy(logits, c_fake)
    return -jnp.sum(s_fake) + classif, {"g_classif": classif}


def hinge_d_loss(D, real, c_real, fake, c_fake, key, **_):
    """mean relu(1 - D(x)) + mean relu(1 + D(G(z))) (``loss_hinge_dis``)."""
    del key
    l_real = jnp.mean(jax.nn.relu(1.0 - D(real, c_real)[0]))
    l_fake = jnp.mean(jax.nn.relu(1.0 + D(fake, c_fake)[0]))
    return l_real + l_fake, {"d_real": l_real, "d_fake": l_fake}


def hinge_g_loss(D, fake, c_fake, **_):
    return -jnp.mean(D(fake, c_fake)[0]), {}


def logistic_r1_d_loss(D, real, c_real, fake, c_fake, key, *, r1_gamma):
    """softplus(D(G(z))) + softplus(-D(x)) + γ/2·E‖∇D(x)‖² (Mescheder et al. 2018, Eq. 9)."""
    del key
    l_fake = jnp.mean(jax.nn.softplus(D(fake, c_fake)[0]))
    l_gan = l_fake + jnp.mean(jax.nn.softplus(-D(real, c_real)[0]))
    r1 = jnp.mean(jnp.sum(_input_grads(D, real, c_real) ** 2, 1))
    return l_gan + 0.5 * r1_gamma * r1, {"d_logistic": l_gan, "d_r1": r1}


def logistic_g_loss(D, fake, c_fake, **_):
    return jnp.mean(jax.nn.softplus(-D(fake, c_fake)[0])), {}


# ---------------------------------------------------------------------------- spectral norm
def _normalize(x, eps=1e-8):
    return x / jnp.maximum(jnp.linalg.norm(x), eps)


def _sn_paths(params, skip=("shared",)):
    flat = traverse_util.flatten_dict(params)
    return {p: w for p, w in flat.items() if p[-1] in ("kernel", "embedding") and p[0] not in skip}


def _matrix(path, w):
    """torch's ``W.view(out, -1)`` up to a column permutation (which leaves σ unchanged)."""
    return w if path[-1] == "embedding" else w.reshape(-1, w.shape[-1]).T


def sn_init(params: Any, key: jax.Array) -> dict:
    """Power-iteration vectors ``{"u", "v"}`` per normalised weight (u ~ N(0, I) as in torch).

    ``v`` is zero until the first `sn_refresh`, which must precede `sn_apply`.
    """
    out = {}
    for i, (path, w) in enumerate(sorted(_sn_paths(params).items())):
        rows, cols = _matrix(path, w).shape
        out[path] = {"u": jax.random.normal(jax.random.fold_in(key, i), (rows,)),
                     "v": jnp.zeros((cols,))}
    return traverse_util.unflatten_dict(out)


def sn_refresh(params: Any, sn: dict) -> dict:
    """One power iteration without gradients: v = ‖uW‖⁻¹uW, u = ‖vWᵀ‖⁻¹vWᵀ (``layers.SN.W_``)."""
    flat, out = traverse_util.flatten_dict(sn, is_leaf=lambda _, x: "u" in x), {}
    weights = _sn_paths(params)
    for path, uv in flat.items():
        w = jax.lax.stop_gradient(_matrix(path, weights[path]))
        v = _normalize(uv["u"] @ w)
        out[path] = {"u": _normalize(v @ w.T), "v": v}
    return traverse_util.unflatten_dict(out)


def sn_apply(params: Any, sn: dict) -> Any:
    """W / σ with σ = v Wᵀ u from the stored vectors (gradients flow through W only)."""
    flat = traverse_util.flatten_dict(params)
    for path, uv in traverse_util.flatten_dict(sn, is_leaf=lambda _, x: "u" in x).items():
        sigma = uv["v"] @ _matrix(path, flat[path]).T @ uv["u"]
        flat[path] = flat[path] / sigma
    return traverse_util.unflatten_dict(flat)


def sn_fold(params: Any, sn: dict) -> Any:
    """Eval-mode weights: one non-updating iteration from the stored u, as the converter folds."""
    return sn_apply(params, sn_refresh(params, sn))


# ----------------------------------------------------------------- BigGAN discriminator, BN
class DBlock(nn.Module):
    """BigGAN-PyTorch ``layers.DBlock`` (wide): [relu] conv3 relu conv3 [avgpool] + shortcut."""

    out_channels: int
    preactivation: bool
    downsample: bool

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        pool = lambda t: nn.avg_pool(t, (2, 2), strides=(2, 2))  # noqa: E731
        h = jax.nn.relu(x) if self.preactivation else x
        h = conv(self.out_channels, 3, "conv2")(jax.nn.relu(conv(self.out_channels, 3, "conv1")(h)))
        h = pool(h) if self.downsample else h
        learnable = x.shape[-1] != self.out_channels or self.downsample
        if self.preactivation:
            x = conv(self.out_channels, 1, "conv_sc")(x) if learnable else x
            x = pool(x) if self.downsample else x
        else:
            x = pool(x) if self.downsample else x
            x = conv(self.out_channels, 1, "conv_sc")(x) if learnable else x
        return h + x


class BigGANDiscriminator(nn.Module):
    """BigGAN-PyTorch ``Discriminator`` at 32 px (``D_arch[32]``, no attention), projection head.

    ``(x [N, 32, 32, 3], y [N] int) -> [N]``: linear(Σ_hw relu h) + ⟨embed[y], Σ_hw relu h⟩.
    """

    ch: int = 64
    n_classes: int = 10

    @nn.compact
    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        for i, down in enumerate((True, True, False, False)):
            x = DBlock(4 * self.ch, i > 0, down, name=f"blocks_{i}_0")(x)
        h = jnp.sum(jax.nn.relu(x), axis=(1, 2))
        table = self.param("embedding", nn.initializers.normal(1.0), (self.n_classes, 4 * self.ch))
        return nn.Dense(1, name="linear")(h)[:, 0] + jnp.sum(table[y] * h, axis=1)


def _train_bn(next_fun, args, kwargs, context):
    """Interceptor: BigGAN's (conditional) batch norms use batch statistics (training mode).

    The port normalises with stored statistics; the input is mapped so that its stored-statistics
    normalisation equals the batch one, and the batch mean / biased variance are sown.
    """
    if context.method_name != "__call__" or not isinstance(context.module, (CCBN, BN)):
        return next_fun(*args, **kwargs)
    x, module = args[0], context.module
    mean, var = jnp.mean(x, axis=(0, 1, 2)), jnp.var(x, axis=(0, 1, 2))
    module.sow("intermediates", "batch_mean", mean)
    module.sow("intermediates", "batch_var", var)
    s_mean = module.get_variable("batch_stats", "stored_mean")
    s_var = module.get_variable("batch_stats", "stored_var")
    x = (x - mean) * jax.lax.rsqrt(var + module.eps) * jnp.sqrt(s_var + module.eps) + s_mean
    return next_fun(x, *args[1:], **kwargs)


# ---------------------------------------------------------------------------- architectures
class GanArch(NamedTuple):
    """One architecture's networks, losses and files.

    Networks are dicts of Flax collections; only ``"params"`` is trained. ``generate(g, z, c,
    key)`` returns images in [-1, 1]; ``discriminate(d, x, c)`` returns ``(score [N], class
    logits [N, C] or None)``; ``refresh`` runs the spectral-norm power iteration (or nothing);
    ``finalize_g/d`` give eval-mode variables as exported, and ``sample(variables, z, c, key)``
    draws from finalized G variables.
    """

    init: Callable[[jax.Array], tuple[dict, dict]]
    generate: Callable
    discriminate: Callable
    refresh: Callable[[dict], dict]
    d_loss: Callable
    g_loss: Callable
    finalize_g: Callable[[dict, jax.Array], dict]
    finalize_d: Callable[[dict], dict]
    sample: Callable
    metadata: tuple[dict, dict]  # (G file metadata, D file metadata)
    noise_dim: int
    conditional: bool = True


def _renormal(variables: dict, key: jax.Array, std: float, names=("kernel", "embedding")) -> dict:
    """Redraws weights named in ``names`` from N(0, std²) and sets biases to zero."""
    flat = traverse_util.flatten_dict(variables["params"])
    for i, (path, w) in enumerate(sorted(flat.items())):
        if path[-1] in names:
            flat[path] = std * jax.random.normal(jax.random.fold_in(key, i), w.shape)
        elif path[-1] == "bias":
            flat[path] = jnp.zeros_like(w)
    return {**variables, "params": traverse_util.unflatten_dict(flat)}


def pgan_config(model: dict, n_classes: int = N_CLASSES) -> dict:
    """`jaxlatent.models.pgan` config of the conditional (AC-GAN) tiny PGAN."""
    return dict(dim_latent=model["noise_dim"] + n_classes, category_dim=n_classes,
                depth_scale0=model["depth_scale0"],
                depth_other_scales=list(model["depth_other_scales"]), dim_output=3, alpha=0.0,
                leak=0.2, equalized=True, mini_batch_std=True, tanh=False,
                size_decision_layer=1 + n_classes)


def _pgan(model: dict, r: int, loss: dict) -> GanArch:
    pcfg = pgan_config(model)
    G, D = pgan.make_generator(pcfg), pgan.make_discriminator(pcfg)

    def init(key):
        kg, kd = jax.random.split(key)
        g = G.init(kg, jnp.zeros((1, pcfg["dim_latent"])))
        d = D.init(kd, jnp.zeros((2, r, r, 3)))
        return _renormal(g, kg, 1.0), _renormal(d, kd, 1.0)  # zoo: N(0, 1), initBiasToZero

    def sample(g, z, c, key=None):
        return G.apply(g, jnp.concatenate([z, jax.nn.one_hot(c, N_CLASSES)], axis=1))

    def discriminate(d, x, c):
        out = D.apply(d, x)
        return out[:, 0], out[:, 1:]

    meta = (dict(config=pcfg, net_kind="generator"), dict(config=pcfg, net_kind="discriminator"))
    return GanArch(init, sample, discriminate, lambda net: net,
                   functools.partial(wgan_gp_d_loss, **loss),
                   functools.partial(wgan_g_loss, **loss),
                   lambda g, key: g, lambda d: d, sample, meta, model["noise_dim"])


def biggan_config(model: dict, resolution: int = 32,
                  n_classes: int = N_CLASSES) -> tuple[dict, dict]:
    """(generator config for `jaxlatent.models.biggan`, discriminator config) of the tiny BigGAN."""
    g = dict(arch="biggan", resolution=resolution, G_ch=model["g_ch"], dim_z=model["dim_z"],
             shared_dim=model["shared_dim"], attention="", hier=True, n_classes=n_classes,
             bn_eps=1e-5)
    return g, dict(arch="biggan_discriminator", resolution=resolution, D_ch=model["d_ch"],
                   n_classes=n_classes)


def _biggan(model: dict, r: int, loss: dict) -> GanArch:
    gcfg, dcfg = biggan_config(model, r)
    G = biggan.make_module(gcfg)
    D = BigGANDiscriminator(dcfg["D_ch"], N_CLASSES)
    z_dim = G.z_size

    def init(key):
        kg, kd, ku = jax.random.split(key, 3)
        g = G.init(kg, jnp.zeros((1, z_dim)), jnp.zeros((1, gcfg["shared_dim"])))
        g = _renormal(g, kg, 0.02)
        d = _renormal(D.init(kd, jnp.zeros((2, r, r, 3)), jnp.zeros((2,), jnp.int32)), kd, 0.02)
        g["sn"] = sn_refresh(g["params"], sn_init(g["params"], jax.random.fold_in(ku, 0)))
        d["sn"] = sn_refresh(d["params"], sn_init(d["params"], jax.random.fold_in(ku, 1)))
        return g, d

    def refresh(net):
        return {**net, "sn": sn_refresh(net["params"], net["sn"])}

    def train_apply(g, z, c, mutable=False):
        params = sn_apply(g["params"], g["sn"])
        y = biggan.embed_classes({"params": params}, c)
        with nn.intercept_methods(_train_bn):
            return G.apply({"params": params, "batch_stats": g["batch_stats"]}, z, y,
                           mutable=["intermediates"] if mutable else False)

    def sample(g, z, c, key=None):
        return G.apply(g, z, biggan.embed_classes(g, c))

    def finalize_g(g, key, n_batches=16, batch=64):
        """Folded SN weights and standing statistics (mean of batch stats over 16 batches)."""
        g = refresh(g)

        @jax.jit
        def batch_stats(k):
            kz, kc = jax.random.split(k)
            z = jax.random.normal(kz, (batch, z_dim))
            c = jax.random.randint(kc, (batch,), 0, N_CLASSES)
            return train_apply(g, z, c, mutable=True)[1]["intermediates"]

        stats = [batch_stats(jax.random.fold_in(key, i)) for i in range(n_batches)]
        mean = jax.tree.map(lambda *s: jnp.mean(jnp.stack(s), 0), *stats)
        bs = jax.tree.map(lambda x: x, g["batch_stats"])
        for path, value in traverse_util.flatten_dict(mean).items():
            name = "stored_mean" if path[-1] == "batch_mean" else "stored_var"
            node = bs
            for part in path[:-1]:
                node = node[part]
            node[name] = value[0]
        return {"params": sn_fold(g["params"], g["sn"]), "batch_stats": bs}

    return GanArch(
        init, lambda g, z, c, key: train_apply(g, z, c),
        lambda d, x, c: (D.apply({"params": sn_apply(d["params"], d["sn"])}, x, c), None),
        refresh, hinge_d_loss, hinge_g_loss, finalize_g,
        lambda d: {"params": sn_fold(d["params"], d["sn"])}, sample, (dict(config=gcfg), dcfg),
        z_dim)


def stylegan2_config(model: dict, resolution: int = 32) -> tuple[dict, dict]:
    """(generator, discriminator) configs of `jaxlatent.models.stylegan2` for the tiny model."""
    sizes = [2**i for i in range(2, resolution.bit_length())]
    channels = dict(zip(sizes, model["channels"]))
    g = sg2_presets.generator_config(resolution, style_dim=model["style_dim"],
                                     n_mlp=model["n_mlp"], channels=channels)
    return g, sg2_presets.discriminator_config(resolution, channels=channels, mbstd_group=4)


def _stylegan2(model: dict, r: int, loss: dict) -> GanArch:
    gcfg, dcfg = stylegan2_config(model, r)
    G, D = sg2.generator_module(gcfg), sg2.discriminator_module(dcfg)

    def init(key):
        kg, kd = jax.random.split(key)
        return G.init(kg, jnp.zeros((1, gcfg["z_dim"]))), D.init(kd, jnp.zeros((2, r, r, 3)))

    def sample(g, z, c, key):
        return G.apply(g, z, noise="random", key=key)

    def finalize_g(g, key):
        fn = lambda z: G.apply(g, z, method=type(G).map)  # noqa: E731
        w_avg, _ = sg2_mapping.estimate_w_stats(fn, gcfg["z_dim"], G.num_ws, key, 4096, 4096)
        return {**g, "buffers": {**g["buffers"], "w_avg": w_avg}}

    return GanArch(init, sample, lambda d, x, c: (D.apply(d, x)[:, 0], None), lambda net: net,
                   functools.partial(logistic_r1_d_loss, **loss), logistic_g_loss, finalize_g,
                   lambda d: d, sample, ({**gcfg, "source_format": "trained"}, dcfg),
                   gcfg["z_dim"], conditional=False)


ARCHS = {"pgan": _pgan, "biggan": _biggan, "stylegan2": _stylegan2}


# ------------------------------------------------------------------------------- training
def _adam(lr: float, cfg) -> optax.GradientTransformation:
    return optax.adam(lr, b1=cfg.betas[0], b2=cfg.betas[1], eps=cfg.adam_eps)


def make_step(arch: GanArch, cfg, key: jax.Array):
    """``step(state, t, ctx)``: ``cfg.d_steps`` D updates, one G update, then the G EMA update."""
    g_tx, d_tx = _adam(cfg.g_lr, cfg), _adam(cfg.d_lr, cfg)
    n, nz = cfg.batch_size, arch.noise_dim

    def fakes(k):
        kz, kc, kn = jax.random.split(k, 3)
        return jax.random.normal(kz, (n, nz)), jax.random.randint(kc, (n,), 0, N_CLASSES), kn

    def d_update(state, k):
        k_real, k_fake, k_loss = jax.random.split(k, 3)
        real, c_real = real_batch(k_real, n, cfg.data.bias, cfg.resolution)
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
    from jaxlatent.images import save_grid

    c = jnp.repeat(jnp.arange(N_CLASSES), per_class)
    x = arch.sample(g, jax.random.normal(key, (c.shape[0], arch.noise_dim)), c, key)
    x = np.asarray(jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2))
    x = x.reshape(N_CLASSES, per_class, *x.shape[1:])
    save_grid(path, list(x), value_range=(-1.0, 1.0))


def make_task(cfg: ml_collections.ConfigDict, key: jax.Array) -> TrainTask:
    """The GAN task of ``cfg.arch``: state = G, D, G EMA and both Adam states."""
    if cfg.arch not in ARCHS:
        raise KeyError(f"unknown GAN arch {cfg.arch!r}; known: {sorted(ARCHS)}")
    arch = ARCHS[cfg.arch](cfg.model.to_dict(), cfg.resolution, cfg.loss.to_dict())
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
            shutil.copyfile(d_path, embedded.weights_path(f"shapes_{cfg.arch}_discriminator"))
            summary["exported_discriminator_to"] = embedded.weights_path(
                f"shapes_{cfg.arch}_discriminator")

    return TrainTask(f"shapes_{cfg.arch}_generator", init, make_step(arch, cfg, loop_key),
                     evaluate, export=export)


# --------------------------------------------------------------------- shipped-model builders
def _shipped_path(name: str, path: str | None, key: jax.Array | None) -> str | None:
    if path is not None or key is not None:
        return path
    path = embedded.weights_path(name)
    if not os.path.isfile(path):
        arch = name.split("_")[1]
        raise FileNotFoundError(
            f"weights for {name!r} not found at {path!r}; train them with `python run.py "
            f"--config=configs/train_gan.py:arch={arch} --workdir=runs/train_gan_{arch} "
            f"--config.export=True`")
    return path


def build_biggan_discriminator(path: str | None = None, *, key: jax.Array | None = None,
                               **model: Any) -> Model:
    """`BigGANDiscriminator` from a file written by this module (SN folded) or at random.

    ``apply_fn(params, x [N, R, R, 3] in [-1, 1], y [N] int) -> [N]``.
    """
    if path is not None:
        variables, cfg = params_io.load_params(path)
    elif key is not None:
        cfg = biggan_config({**MODELS["biggan"], **model})[1]
    else:
        raise ValueError("pass path= (a discriminator.npz from configs/train_gan.py) or key=")
    module = BigGANDiscriminator(cfg["D_ch"], cfg["n_classes"])
    r = cfg["resolution"]
    args = (jnp.zeros((2, r, r, 3)), jnp.zeros((2,), jnp.int32))
    if path is None:
        variables = jax.jit(module.init)(key, *args)
    else:
        expected = jax.eval_shape(module.init, jax.random.key(0), *args)
        params_io.check_params(expected, variables, f"BigGAN discriminator {path!r}")
    variables = jax.tree.map(jnp.asarray, variables)
    info = dict(name="biggan_discriminator", config=cfg, resolution=r, n_classes=cfg["n_classes"])
    return Model(lambda params, x, y: module.apply(params, x, y), variables, info)


def build_shapes_pgan_generator(path=None, *, key=None) -> Model:
    """Shipped conditional PGAN G: ``apply_fn(params, concat(z [N, 32], one_hot(c, 4)))``."""
    path = _shipped_path("shapes_pgan_generator", path, key)
    return pgan.build_generator(path, key=key, **({} if path else pgan_config(MODELS["pgan"])))


def build_shapes_pgan_discriminator(path=None, *, key=None) -> Model:
    """Shipped PGAN D: ``apply_fn(params, x [N, 32, 32, 3]) -> [N, 1 + 4]`` (column 0 realism)."""
    path = _shipped_path("shapes_pgan_discriminator", path, key)
    return pgan.build_discriminator(path, key=key, **({} if path else pgan_config(MODELS["pgan"])))


def build_shapes_biggan_generator(path=None, *, key=None) -> Model:
    """Shipped conditional BigGAN G: ``apply_fn(params, z [N, 32], info["embed"](c))``."""
    path = _shipped_path("shapes_biggan_generator", path, key)
    return biggan.build(path, key=key, **({} if path else biggan_config(MODELS["biggan"])[0]))


def build_shapes_biggan_discriminator(path=None, *, key=None) -> Model:
    """Shipped BigGAN projection D (see `build_biggan_discriminator`)."""
    path = _shipped_path("shapes_biggan_discriminator", path, key)
    return build_biggan_discriminator(path, key=key)


def build_shapes_stylegan2_generator(path=None, *, key=None) -> Model:
    """Shipped unconditional StyleGAN2 G (see `jaxlatent.models.stylegan2.build_generator`)."""
    path = _shipped_path("shapes_stylegan2_generator", path, key)
    if path is not None:
        return sg2.build_generator(path)
    g, _ = stylegan2_config(MODELS["stylegan2"])
    return sg2.build_generator(key=key, size=g["size"], style_dim=g["style_dim"],
                               n_mlp=g["n_mlp"], channels=g["channels"])


def build_shapes_stylegan2_discriminator(path=None, *, key=None) -> Model:
    """Shipped StyleGAN2 D (see `jaxlatent.models.stylegan2.build_discriminator`)."""
    path = _shipped_path("shapes_stylegan2_discriminator", path, key)
    if path is not None:
        return sg2.build_discriminator(path)
    _, d = stylegan2_config(MODELS["stylegan2"])
    return sg2.build_discriminator(key=key, size=d["size"], channels=d["channels"], mbstd_group=4)
