"""Multi-scale Glow for feature vectors: the density model of DivRare (Lee et al., AAAI 2025).

A JAX/Flax port of DivRareGen ``models/glow.py`` (rosinality's Glow rewritten with 1-D convs):
a D-vector is treated as D channels of length 1; each of ``n_block`` blocks mixes the whole current
feature axis with an LU linear map (``initial_permute``), squeezes ``group`` features into
channels, runs ``n_flow`` Glow steps, then splits half of the channels off under a learned Gaussian
prior (the last block's prior is a ZeroConv of zeros).

    log p(x) = Σ_blocks log N(z_b; μ_b, σ_b) + Σ log|det ∂f/∂x|           (Glow Eq. 1–3, nats)

Input is the min-max scaled feature (``minmax_scale``); `build_shapes_flow` returns it as a
registry `Model` whose ``info["scaler"]`` holds ``data_min``/``data_range``.
"""

from __future__ import annotations

import os
from typing import Any

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.models.glow_layers import Flow, InvConv1dLU, ZeroConv1d
from jaxlatent.models.registry import Model
from jaxlatent.params import check_params, load_params, save_params

# DivRareGen nf_train.py defaults: 4096-d VGG16 fc2, 4 blocks × 32 flows, group 4, hidden 512.
OFFICIAL = dict(n_features=4096, n_block=4, n_flow=32, group=4, hidden=512)
# Embedded shapes domain: 64-d features (models/shapes_features.py), trains in minutes on CPU.
SMALL = dict(n_features=64, n_block=2, n_flow=8, group=4, hidden=64)
PRESETS = {"official": OFFICIAL, "small": SMALL}
WEIGHTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "weights", "shapes_flow.npz")


def gaussian_log_p(x, mean, log_sd):
    """Σ over one sample's ``[L, C]`` of log N(x; mean, exp(log_sd)) → ``[B]``."""
    return distrax.Independent(distrax.Normal(mean, jnp.exp(log_sd)), 2).log_prob(x)


class Block(nn.Module):
    """initial_permute (LU over n_F) → squeeze by ``group`` → flows → split with a learned prior."""

    n_channel: int
    n_F: int
    n_flow: int
    split: bool = True
    group: int = 4
    hidden: int = 512

    def setup(self):
        c = self.n_channel * self.group
        self.initial_permute = InvConv1dLU(self.n_F)
        self.flows = [Flow(c, self.hidden) for _ in range(self.n_flow)]
        self.prior = ZeroConv1d(c if self.split else 2 * c)

    def _prior(self, kept):
        source = kept if self.split else jnp.zeros_like(kept)
        return jnp.split(self.prior(source), 2, axis=-1)

    def forward(self, x, ddi: bool = False):
        """x ``[B, n_F, n_channel]`` → (kept ``[B, n_F/g, c/2]``, logdet, log_p, z ``[B, ...]``)."""
        b = x.shape[0]
        h, logdet = self.initial_permute.bijector().forward_and_log_det(x.transpose(0, 2, 1))
        h = h.reshape(b, self.n_channel * self.group, self.n_F // self.group).transpose(0, 2, 1)
        for flow in self.flows:
            h, det = flow.bijector(h if ddi else None).forward_and_log_det(h)
            logdet = logdet + det
        kept, z = jnp.split(h, 2, axis=-1) if self.split else (h, h)
        mean, log_sd = self._prior(kept)
        return kept, logdet, gaussian_log_p(z, mean, log_sd), z

    def inverse(self, kept, z):
        """Reconstructs the block input from the kept half and this block's latent z."""
        h = jnp.concatenate([kept, z], axis=-1) if self.split else z
        for flow in self.flows[::-1]:
            h = flow.bijector().inverse(h)
        b = h.shape[0]
        h = h.transpose(0, 2, 1).reshape(b, self.n_channel, self.n_F)
        return self.initial_permute.bijector().inverse(h).transpose(0, 2, 1)


class Glow(nn.Module):
    """The whole flow; ``__call__(x [B, D]) -> log p(x) [B]`` in nats."""

    n_features: int = 4096
    n_block: int = 4
    n_flow: int = 32
    group: int = 4
    hidden: int = 512

    def setup(self):
        if self.n_features % self.group**self.n_block or self.group % 2:
            raise ValueError(f"n_features={self.n_features} must be divisible by "
                             f"group**n_block={self.group}**{self.n_block} (group even)")
        blocks, n_channel, n_f = [], 1, self.n_features
        for i in range(self.n_block):
            last = i == self.n_block - 1
            blocks.append(Block(n_channel, n_f, self.n_flow, split=not last, group=self.group,
                                hidden=self.hidden))
            n_channel, n_f = n_channel * self.group // 2, n_f // self.group
        self.blocks = blocks

    def forward(self, x, ddi: bool = False):
        """x ``[B, D]`` → (z list, logdet ``[B]``, prior log_p ``[B]``). ``ddi`` inits ActNorm."""
        h = x[:, :, None]
        logdet = log_p = jnp.zeros(x.shape[:1], x.dtype)
        zs = []
        for block in self.blocks:
            h, det, lp, z = block.forward(h, ddi)
            zs.append(z)
            logdet, log_p = logdet + det, log_p + lp
        return zs, logdet, log_p

    def __call__(self, x, ddi: bool = False):
        _, logdet, log_p = self.forward(x, ddi)
        return log_p + logdet

    def inverse(self, zs):
        """The z list of `forward` → x ``[B, D]``."""
        h = None
        for block, z in zip(self.blocks[::-1], zs[::-1]):
            h = block.inverse(h, z)
        return h[:, :, 0]


def flatten_z(zs):
    """Concatenates the per-block latents into ``[B, D]``."""
    return jnp.concatenate([z.reshape(z.shape[0], -1) for z in zs], axis=1)


def unflatten_z(model: Glow, z_flat):
    """Inverse of `flatten_z` for ``model``'s block shapes."""
    shapes = jax.eval_shape(lambda v, x: model.apply(v, x, method="forward")[0],
                            _abstract_variables(model), jax.ShapeDtypeStruct(z_flat.shape[:1] + (
                                model.n_features,), z_flat.dtype))
    sizes = np.cumsum([int(np.prod(s.shape[1:])) for s in shapes])[:-1]
    return [p.reshape(s.shape) for p, s in zip(jnp.split(z_flat, sizes, axis=1), shapes)]


def _abstract_variables(model: Glow):
    x = jax.ShapeDtypeStruct((2, model.n_features), jnp.float32)
    return jax.eval_shape(model.init, jax.random.key(0), x)


def make_glow(preset: str = "small", **overrides) -> Glow:
    """A `Glow` from a preset (``"official"`` or ``"small"``) with keyword overrides."""
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
    return Glow(**{**PRESETS[preset], **overrides})


def count_params(model: Glow) -> int:
    """Trainable parameter count from `jax.eval_shape` (nothing is allocated)."""
    return sum(int(np.prod(l.shape)) for l in jax.tree.leaves(_abstract_variables(model)["params"]))


def minmax_scale(features, data_min, data_range):
    """(f − data_min)/data_range, unclipped (as DivRareGen at optimisation time)."""
    return (features - data_min) / data_range


def save_flow(path: str, model: Glow, variables, scaler: dict, **metadata) -> None:
    """Writes variables (params + buffers) and the min-max scaler to one npz."""
    cfg = {f: getattr(model, f) for f in OFFICIAL}
    tree = {**variables, "scaler": {k: np.asarray(v) for k, v in scaler.items()}}
    save_params(path, tree, config=cfg, **metadata)


def build_shapes_flow(path: str | None = None, *, key=None, preset: str = "small",
                      **options: Any) -> Model:
    """Registry builder: ``apply_fn(params, x [B, D] scaled) -> log p(x) [B]`` in nats.

    Args:
      path: an npz from `save_flow`; None loads the shipped ``jaxlatent/weights/shapes_flow.npz``
        unless ``key`` is given.
      key: random initialisation (identity-like flow, unit scaler; ActNorm not data-initialised).
      preset, **options: architecture (`make_glow`); a file's stored config takes precedence.

    Returns:
      `Model` with ``info``: ``scaler`` (``data_min``, ``data_range``), ``config``, ``n_params``.
    """
    if path is None and key is not None:
        model = make_glow(preset, **options)
        variables = model.init(key, jnp.zeros((2, model.n_features)))
        n = model.n_features
        scaler = {"data_min": np.zeros(n, np.float32), "data_range": np.ones(n, np.float32)}
        return _as_model(model, variables, scaler, trained=False)
    path = path or WEIGHTS
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"flow weights not found: {path!r}. Train and export them with "
            "jaxlatent.training.flow (see docs/flow_knn.md), or pass key= for a random flow.")
    tree, meta = load_params(path)
    model = make_glow(preset, **{**options, **meta.get("config", {})})
    scaler = tree.pop("scaler")
    # Zero-stride stand-ins: check_params reads shapes through np.asarray (no allocation).
    expected = jax.tree.map(lambda s: np.broadcast_to(np.zeros((), s.dtype), s.shape),
                            _abstract_variables(model))
    check_params(expected, tree, f"flow weights {path!r}")
    variables = jax.tree.map(jnp.asarray, tree)
    return _as_model(model, variables, scaler, trained=True, **meta)


def log_prob(model: Glow, variables, x):
    """log p(x) in nats for one vector ``[D]`` (→ scalar) or a batch ``[B, D]`` (→ ``[B]``)."""
    return model.apply(variables, x[None])[0] if x.ndim == 1 else model.apply(variables, x)


def forward(model: Glow, variables, x):
    """x ``[B, D]`` → (z ``[B, D]`` flattened latents, log|det| ``[B]``, prior log p ``[B]``)."""
    zs, logdet, log_p = model.apply(variables, x, method="forward")
    return flatten_z(zs), logdet, log_p


def inverse(model: Glow, variables, z):
    """Flattened latents ``[B, D]`` → x ``[B, D]`` (exact inverse of `forward`)."""
    return model.apply(variables, unflatten_z(model, z), method="inverse")


def _as_model(model, variables, scaler, **info):
    def apply_fn(params, x):
        return log_prob(model, params, x)

    cfg = {f: getattr(model, f) for f in OFFICIAL}
    info = dict(info, scaler=scaler, config=cfg, n_params=count_params(model))
    return Model(apply_fn, variables, info)
