"""BigGAN-AM objectives (Li et al., ACCV 2020, Eqs. 1-3): search only the class embedding c.

For one embedding ``c [D]`` and the latent batch ``Z = {z^i}`` of the current step::

    L_AM(c) = E_z log P(y = y_c | G(c, z))                                     (Eq. 2)
    L_D(c)  = E_{(i, j)} ||phi(G(c, z^i)) - phi(G(c, z^j))|| / ||z^i - z^j||   (Eq. 1)
    L_AM-D  = L_AM + lambda * L_D                                              (Eq. 3, maximised)

The objective returns ``-L_AM-D`` (minimised): the mean cross-entropy to the target over Z minus
``lambda`` times the mean over **disjoint** pairs ``(z^0, z^1), (z^2, z^3), ...`` of the latent
batch (10 pairs of 20 latents; the official code draws ``z_num // 2`` random pairs and, as
released, crashes on its non-scalar loss: peer-code.md section 2.3). ``phi`` is ``"pixel"`` (the
classifier's input pixels), ``"features"`` (its conv features, AlexNet conv5 after the pool for
real checkpoints) or ``"softmax"``; ``None`` drops Eq. 1 (AM-S, AM-L).

Latents: ``ctx["z_bank"] [R, N, dz]`` holds every redraw; the objective uses redraw
``min(counter // steps_per_z, R - 1)``, where ``counter = ctx["memory"]`` is the problem's step
count (advanced by `count_steps`, the runner's objective memory). The bank is shared by all
problems and the key is unused, so every class and trial sees the same latent sequence (the
official code resets the torch RNG per run for the same reason).

Clamping (``clamp``): ``"in_graph"`` applies ``clip(c, low, high)`` inside the forward pass (the
official code: the stored parameter is not projected and clamped coordinates get zero gradient);
``"project"`` leaves the forward pass alone and the search projects the parameter after every
step (the paper's wording; `jaxlatent.methods.biggan_am_setup.Projected`); ``"none"``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

PHIS = (None, "pixel", "features", "softmax")
CLAMPS = ("in_graph", "project", "none")


class Settings(NamedTuple):
    """Static parts of the objective (hashable: the runner caches its program on them).

    Attributes:
      generate: ``(g_params, z [N, dz], c [N, D]) -> images [N, R, R, 3]`` in [-1, 1].
      classify: ``(p_params, images) -> {"logits": [N, K], "features": [N, F], "pixels": [N,
        H, W, 3]}`` (the AM classifier; "pixels" is what it was fed).
      phi: the Eq. 1 feature (`PHIS`); None: no diversity term.
      clamp: `CLAMPS`.
      steps_per_z: steps between latent redraws (20).
    """

    generate: Callable
    classify: Callable
    phi: str | None = None
    clamp: str = "in_graph"
    steps_per_z: int = 20


def check_settings(settings: Settings) -> None:
    if settings.phi not in PHIS:
        raise ValueError(f"unknown diversity feature phi={settings.phi!r}; known: {PHIS}")
    if settings.clamp not in CLAMPS:
        raise ValueError(f"unknown clamp mode {settings.clamp!r}; known: {CLAMPS}")
    if settings.steps_per_z < 1:
        raise ValueError(f"steps_per_z must be >= 1, got {settings.steps_per_z}")


def clamp_embedding(c: jax.Array, low, high, mode: str) -> jax.Array:
    """The embedding the generator sees: ``clip(c, low, high)`` for ``"in_graph"``, else c."""
    return jnp.clip(c, low, high) if mode == "in_graph" else c


def z_batch(bank: jax.Array, counter, steps_per_z: int) -> jax.Array:
    """``bank [R, N, dz]`` -> the ``[N, dz]`` latents of step ``counter`` (redraw every k steps)."""
    index = jnp.minimum(jnp.asarray(counter) // steps_per_z, bank.shape[0] - 1)
    return bank[index]


def disjoint_pairs(n: int) -> np.ndarray:
    """``[n // 2, 2]`` pairs (0, 1), (2, 3), ... of a batch of n latents (each latent once)."""
    if n < 2:
        raise ValueError(f"the diversity term needs at least 2 latents, got {n}")
    return np.arange(2 * (n // 2), dtype=np.int32).reshape(-1, 2)


def am_loss(logits: jax.Array, target) -> jax.Array:
    """``-L_AM`` (Eq. 2 as a loss): mean cross-entropy of ``logits [N, K]`` to class ``target``."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(logp[:, target])


def diversity(phi: jax.Array, z: jax.Array, pairs) -> jax.Array:
    """``L_D`` (Eq. 1): mean over pairs of ``||phi_i - phi_j|| / ||z_i - z_j||``.

    Args:
      phi: ``[N, ...]`` features of the N images.
      z: ``[N, dz]`` their latents.
      pairs: ``[P, 2]`` indices.
    """
    phi = phi.reshape(phi.shape[0], -1)
    pairs = jnp.asarray(pairs)
    num = jnp.sqrt(jnp.sum((phi[pairs[:, 0]] - phi[pairs[:, 1]]) ** 2, axis=-1) + 1e-12)
    den = jnp.linalg.norm(z[pairs[:, 0]] - z[pairs[:, 1]], axis=-1)
    return jnp.mean(num / den)


def phi_of(out: dict, phi: str) -> jax.Array:
    """The Eq. 1 feature from the classifier's outputs."""
    if phi == "pixel":
        return out["pixels"]
    if phi == "features":
        return out["features"]
    return jax.nn.softmax(out["logits"], axis=-1)


def make_objective(settings: Settings) -> Callable:
    """``objective(c [D], ctx, *, key=None) -> (value, aux)`` = ``-(L_AM + lambda L_D)``.

    ``ctx``: ``generator``, ``classifier`` (parameters), ``z_bank [R, N, dz]``, ``memory`` (the
    step counter), ``target`` (int class), ``lam`` (lambda), ``low``, ``high`` (clamp range) and
    ``pairs [P, 2]`` (when ``phi`` is set). aux: ``ce``, ``target_prob`` (mean P(y_c)),
    ``am_acc`` (share of Z the AM classifier assigns to y_c), ``diversity`` (L_D, 0 without phi).
    """
    check_settings(settings)

    def objective(c, ctx, *, key=None):
        del key  # deterministic: the latents come from the shared bank
        c_used = clamp_embedding(c, ctx["low"], ctx["high"], settings.clamp)
        z = z_batch(ctx["z_bank"], ctx["memory"], settings.steps_per_z)
        images = settings.generate(ctx["generator"], z, jnp.broadcast_to(c_used, (z.shape[0],)
                                                                        + c_used.shape))
        out = settings.classify(ctx["classifier"], images)
        ce = am_loss(out["logits"], ctx["target"])
        div = jnp.float32(0.0)
        if settings.phi is not None:
            div = diversity(phi_of(out, settings.phi), z, ctx["pairs"])
        probs = jax.nn.softmax(out["logits"], axis=-1)
        aux = {"ce": ce, "diversity": div, "target_prob": jnp.mean(probs[:, ctx["target"]]),
               "am_acc": jnp.mean(jnp.argmax(out["logits"], -1) == ctx["target"])}
        return ce - ctx["lam"] * div, aux

    return objective


def count_steps(memory, candidates, evaluation, key):
    """Runner ``memory_update``: the problem's step counter advances by one per evaluation."""
    del candidates, evaluation, key
    return memory + 1
