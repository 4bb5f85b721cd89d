"""Each tiny GAN's networks, losses and export as a `GanArch` (used by `jaxlatent.training.gan`).

* ``pgan``: AC-GAN conditional `jaxlatent.models.pgan` nets, WGAN-GP + drift + class terms,
  N(0, 1) weights (equalised lr) and zero biases as the zoo.
* ``biggan``: `jaxlatent.models.biggan` G with the projection D of
  `jaxlatent.models.biggan.discriminator`, spectral norm on every weight but G's shared
  embedding, batch statistics in G's batch norms (`_train_bn`), N(0, 0.02) init, hinge loss;
  export folds SN and stores standing statistics.
* ``stylegan2``: unconditional `jaxlatent.models.stylegan2` nets, logistic loss with R1; export
  stores the W average.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util

from jaxlatent.models import biggan, pgan
from jaxlatent.models.biggan.discriminator import BigGANDiscriminator
from jaxlatent.models.biggan.layers import BN, CCBN
from jaxlatent.models.shapes_gans import N_CLASSES, biggan_config, pgan_config, stylegan2_config
from jaxlatent.models.stylegan2 import builders as sg2
from jaxlatent.models.stylegan2 import mapping as sg2_mapping
from jaxlatent.training.gan_losses import (hinge_d_loss, hinge_g_loss, logistic_g_loss,
                                           logistic_r1_d_loss, wgan_g_loss, wgan_gp_d_loss)
from jaxlatent.training.spectral_norm import sn_apply, sn_fold, sn_init, sn_refresh


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


def _pgan(model: dict, r: int, loss: dict, class_probs=None) -> GanArch:
    del class_probs  # classes are drawn in `jaxlatent.training.gan` only
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


def _biggan(model: dict, r: int, loss: dict, class_probs=None) -> GanArch:
    """``class_probs``: class masses of the standing-statistics batches (default uniform)."""
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
            if class_probs is None:
                c = jax.random.randint(kc, (batch,), 0, N_CLASSES)
            else:
                c = jax.random.categorical(kc, jnp.log(jnp.asarray(class_probs)), shape=(batch,))
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


def _stylegan2(model: dict, r: int, loss: dict, class_probs=None) -> GanArch:
    del class_probs  # classes are drawn in `jaxlatent.training.gan` only
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
