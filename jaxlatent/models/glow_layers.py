"""Layers of the vector Glow (DivRareGen ``models/glow.py``) as distrax bijectors + Flax modules.

Layout is channels-last ``[B, L, C]`` (torch ``[B, C, L, 1]``). Each Flax module owns parameters
named like the official ``state_dict`` (``loc``, ``w_l``, ``net_0``, ``conv``, ``scale``) and
returns a `distrax.Bijector` whose event is one sample's ``[L, C]`` array, so log-dets are ``[B]``.

Non-trainable LU buffers (the fixed permutation and the sign of the U diagonal) live in the
``"buffers"`` collection; the masks and identity of the official code are not stored.

References:
  Kingma & Dhariwal, "Glow", NeurIPS 2018 (ActNorm Sec. 3.1, LU 1×1 conv Sec. 3.2, affine coupling
  Sec. 3.3); rosinality/glow-pytorch conventions (s = sigmoid(log_s + 2), ZeroConv × exp(3·scale)).
"""

from __future__ import annotations

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jax import lax

HIGHEST = lax.Precision.HIGHEST


class LUMix(distrax.Bijector):
    """y = W x over the last axis with W = P·(L + I)·(U + diag(sign·exp(w_s))), event ``[L, C]``.

    log|det| = L · Σ w_s (Glow Eq. 10). The inverse uses two triangular solves.
    """

    def __init__(self, w_l, w_s, w_u, perm, s_sign):
        super().__init__(event_ndims_in=2)
        c = w_s.shape[0]
        self.lower = jnp.tril(w_l, -1) + jnp.eye(c, dtype=w_l.dtype)
        self.upper = jnp.triu(w_u, 1) + jnp.diag(s_sign * jnp.exp(w_s))
        self.w_s, self.perm = w_s, perm

    def weight(self):
        """The ``[C_out, C_in]`` matrix (torch conv weight without its kernel axis)."""
        return jnp.matmul(self.lower, self.upper, precision=HIGHEST)[self.perm]

    def _log_det(self, x):
        return jnp.broadcast_to(x.shape[-2] * jnp.sum(self.w_s), x.shape[:-2])

    def forward_and_log_det(self, x):
        return jnp.matmul(x, self.weight().T, precision=HIGHEST), self._log_det(x)

    def inverse_and_log_det(self, y):
        flat = y.reshape(-1, y.shape[-1])
        v = flat[:, jnp.argsort(self.perm)].T  # P^T y
        a = jsl.solve_triangular(self.lower, v, lower=True, unit_diagonal=True)
        x = jsl.solve_triangular(self.upper, a, lower=False).T
        return x.reshape(y.shape), -self._log_det(y)


def lu_init(key, c: int):
    """Official initialisation: LU of a random orthogonal matrix (Glow Sec. 3.2)."""
    q, _ = jnp.linalg.qr(jax.random.normal(key, (c, c)))
    p, w_l, u = jsl.lu(q)
    w_s = jnp.diag(u)
    return dict(perm=jnp.argmax(p, axis=1).astype(jnp.int32), w_l=w_l, w_s=jnp.log(jnp.abs(w_s)),
                w_u=jnp.triu(u, 1), s_sign=jnp.sign(w_s))


class InvConv1dLU(nn.Module):
    """LU-parametrised invertible linear map over the last (channel) axis."""

    features: int

    def setup(self):
        c = self.features
        init = lu_init(self.make_rng("params"), c) if self.is_initializing() else None

        def pick(name, shape, dtype=jnp.float32):
            # Flax may call an init fn only to check shapes (mutable apply), hence the zeros.
            return lambda *_: init[name] if init is not None else jnp.zeros(shape, dtype)

        self.w_l = self.param("w_l", pick("w_l", (c, c)))
        self.w_s = self.param("w_s", pick("w_s", (c,)))
        self.w_u = self.param("w_u", pick("w_u", (c, c)))
        self.perm = self.variable("buffers", "perm", pick("perm", (c,), jnp.int32)).value
        self.s_sign = self.variable("buffers", "s_sign", pick("s_sign", (c,))).value

    def bijector(self) -> LUMix:
        return LUMix(self.w_l, self.w_s, self.w_u, self.perm, self.s_sign)


class ActNorm(nn.Module):
    """y = scale·(x + loc) per channel; data-dependent init loc = −mean, scale = 1/(std + 1e-6)."""

    features: int

    def setup(self):
        self.loc = self.param("loc", nn.initializers.zeros, (self.features,))
        self.scale = self.param("scale", nn.initializers.ones, (self.features,))

    def bijector(self, x=None) -> distrax.Bijector:
        """With ``x``, first re-initialises loc/scale from it (needs ``mutable=["params"]``)."""
        loc, scale = self.loc, self.scale
        if x is not None:  # torch: per-channel mean and unbiased std over batch and length
            flat = x.reshape(-1, x.shape[-1])
            loc, scale = -flat.mean(0), 1.0 / (flat.std(0, ddof=1) + 1e-6)
            self.put_variable("params", "loc", loc)
            self.put_variable("params", "scale", scale)
        affine = distrax.Chain([distrax.ScalarAffine(0.0, scale), distrax.ScalarAffine(loc)])
        return distrax.Block(affine, 2)


class ZeroConv1d(nn.Module):
    """k=3 conv over the length axis, input padded with **1**, output × exp(3·scale), zero init."""

    features: int

    def setup(self):
        self.conv = nn.Conv(self.features, (3,), padding="VALID", kernel_init=nn.initializers.zeros)
        self.scale = self.param("scale", nn.initializers.zeros, (self.features,))

    def __call__(self, x):  # [B, L, C_in] -> [B, L, features]
        x = jnp.pad(x, ((0, 0), (1, 1), (0, 0)), constant_values=1.0)
        return self.conv(x) * jnp.exp(self.scale * 3.0)


class AffineCoupling(nn.Module):
    """x_b ↦ (x_b + t)·sigmoid(log_s + 2) with (log_s, t) = net(x_a); x_a = first channel half."""

    features: int
    hidden: int = 512

    def setup(self):
        normal = nn.initializers.normal(0.05)
        self.net_0 = nn.Conv(self.hidden, (3,), padding=((1, 1),), kernel_init=normal)
        self.net_2 = nn.Conv(self.hidden, (1,), kernel_init=normal)
        self.net_4 = ZeroConv1d(self.features)

    def conditioner(self, x_a):
        h = nn.relu(self.net_2(nn.relu(self.net_0(x_a))))
        log_s, t = jnp.split(self.net_4(h), 2, axis=-1)
        return jax.nn.sigmoid(log_s + 2.0), t

    def bijector(self) -> distrax.Bijector:
        def inner(params):
            s, t = params
            return distrax.Chain([distrax.ScalarAffine(0.0, s), distrax.ScalarAffine(t)])

        return distrax.SplitCoupling(self.features // 2, 2, self.conditioner, inner)


class Flow(nn.Module):
    """ActNorm → LU 1×1 conv → affine coupling (one Glow step, Fig. 2a)."""

    features: int
    hidden: int = 512

    def setup(self):
        self.actnorm = ActNorm(self.features)
        self.invconv = InvConv1dLU(self.features)
        self.coupling = AffineCoupling(self.features, self.hidden)

    def bijector(self, x=None) -> distrax.Bijector:
        """distrax applies a Chain's last element first. ``x``: data-dependent ActNorm init."""
        return distrax.Chain([self.coupling.bijector(), self.invconv.bijector(),
                              self.actnorm.bijector(x)])
