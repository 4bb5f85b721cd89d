"""GAN losses of the official training codes, as pure functions of a discriminator callable.

``D(x, c) -> (score [N], class logits [N, C] or None)``; every loss returns ``(value, aux)``.

* WGAN-GP with drift and AC-GAN terms: pytorch_GAN_zoo ``BaseGAN.optimizeParameters``
  (Gulrajani et al. 2017, Eq. 3; Karras et al. 2018, Sec. A.1), sums over the batch as the zoo.
* Hinge: BigGAN-PyTorch ``losses.loss_hinge_dis`` / ``loss_hinge_gen``.
* Non-saturating logistic with R1: Mescheder et al. 2018, Eq. 9 (rosinality ``train.py``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


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

