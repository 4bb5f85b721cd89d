"""QDGS objective and measures from CLIP prompts, over StyleGAN2 W+ in the normalised q-space.

Chang et al., "Quality-Diversity Generative Sampling for Learning with Synthetic Data", AAAI 2024
(arXiv 2312.14369), sec. 5.1 and eq. 2; official code ``qdgs/clip.py`` (``MakeCutouts``),
``qdgs/discriminator.py`` (losses, ``find_good_start_latent``), ``qdgs/utils.py`` (q-space).

- q-space: w = q·σ_w + w̄, σ_w the per-(layer, dim) std of 10,000 untruncated mapped z (ddof 1),
  w̄ the generator's ``w_avg``; a solution is the flattened q ``[num_ws·w_dim]``.
- image = (synthesis(w, noise "const") + 1) / 2, not clamped; one random square cutout
  (``make_cutouts``) pooled to CLIP's resolution; CLIP mean/std; L2-normalised embedding.
- d(x, prompt) = Σ over the "|"-separated prompts of the great-circle angle, mean over cutouts.
- loss = w0·(d_pos − d_neg) + w1·reg + w2·(1 − uniq), reg = (max(‖q‖, q_norm) − q_norm)²;
  measure k = d(pos_k) − d(neg_k). QDGS maximises f = 100 − 50·loss (`search.qd.qdgs`).
- uniq: the official code keeps a FIFO memory of ≤ 100 CLIP embeddings, appended as a side
  effect of every call. Here it is explicit state: `Memory` is read from ``ctx["memory"]`` and
  the caller advances it with `update_memory` after each evaluated batch
  (`jaxlatent.methods.qdgs_clip_setup` does so as the official code, including the start search).

Departures from the official code: CLIP runs in float32 (``clip.load`` gives fp16 on CUDA);
each solution draws its own cutout (the official ``MakeCutouts`` shares one crop across a batch),
and the objective and measure gradients of one solution share it (official: a new crop per
backward pass); the start search scores each draw with its own ‖q‖ (by reading, the official
``find_good_start_latent`` passes the concatenated batch, so its regulariser is one number for
all 16 draws).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from jaxlatent import preprocess
from jaxlatent.metrics import clip_score
from jaxlatent.models.clip import tokenize

# Faces defaults (official generate_data.py, task facial_recognition; peer-code.md §3.4).
FACES_OBJECTIVE = ("A detailed photo of an individual with diverse features.",
                   "An obscure, fake, or discolored photo of a person.")
FACES_MEASURES = (("A person with dark skin.", "A person with light skin."),
                  ("A masculine person.", "A feminine person."),
                  ("A person with long hair.", "A person with short hair."),
                  ("A person in their 20s.", "A person in their 50s."))
FACES_WEIGHTS = (1.0, 0.5, 0.2)  # prompt, q-norm regulariser, uniqueness


def make_cutouts(image: jax.Array, key: jax.Array, cut_size: int = 224, cutn: int = 1,
                 cut_pow: float = 0.5, cutouts: str = "random") -> jax.Array:
    """Square cutouts of one image, adaptive-average-pooled to ``cut_size``.

    Args:
      image: ``[H, W, 3]``.
      key: PRNG key (one crop per cutout).
      cut_size, cutn, cut_pow: official ``MakeCutouts(224, cutn=1, cut_pow=0.5)``.
      cutouts: ``"random"`` (official) or ``"center_full"`` (deterministic: the centred
        min(H, W) square, i.e. the whole image when square, pooled to ``cut_size``).

    Returns:
      ``[cutn, cut_size, cut_size, 3]``.
    """
    h, w = image.shape[:2]
    if cutouts not in ("random", "center_full"):
        raise ValueError(f"cutouts must be 'random' or 'center_full', got {cutouts!r}")

    def one(k):
        if cutouts == "random":
            size, top, left = preprocess.qdgs_cutout_params(k, h, w, cut_size, cut_pow)
        else:
            size, top, left = min(h, w), (h - min(h, w)) // 2, (w - min(h, w)) // 2
        return preprocess.crop_and_pool(image[None], size, top, left, cut_size)[0]

    if cutouts == "center_full":  # no randomness: ``key`` may be None
        return jnp.broadcast_to(one(None), (cutn, cut_size, cut_size, image.shape[-1]))
    return jax.vmap(one)(jax.random.split(key, cutn))


def great_circle(a: jax.Array, b: jax.Array) -> jax.Array:
    """Official ``cos_sim_loss``: 2·asin(‖â − b̂‖ / 2), ``[..., E] x [..., E] -> [...]``."""
    return clip_score.spherical_distance(a, b)


def prompt_distance(embeds: jax.Array, targets: jax.Array) -> jax.Array:
    """Official ``prompts_dist_loss(...).mean(0)``: Σ over prompts, mean over cutouts.

    Args:
      embeds: ``[cutn, E]`` image embeddings; targets: ``[P, E]`` prompt embeddings.
    """
    return jnp.mean(jnp.sum(great_circle(embeds[:, None], targets[None]), axis=1))


def split_prompts(text: str) -> list[str]:
    """``"a | b"`` -> ``["a", "b"]`` (official ``embed_prompt``)."""
    return [phrase.strip() for phrase in text.split("|") if phrase]


def embed_texts(clip_model, texts: Sequence[str]) -> jax.Array:
    """L2-normalised CLIP text embeddings ``[P, E]`` (official ``embed_text``), one jitted call."""
    tokens = tokenize(list(texts), context_length=clip_model.info["config"].context_length)
    emb = jax.jit(lambda p, t: clip_model.apply_fn(p, t, method="text"))(clip_model.params, tokens)
    return emb / jnp.linalg.norm(emb, axis=-1, keepdims=True)


def embed_prompt_pairs(clip_model, pairs: Sequence[Sequence[str]]) -> list[tuple[jax.Array, ...]]:
    """[(positive, negative), ...] strings -> [(pos [P, E], neg [N, E]), ...] ("|" splits).

    All prompts go through CLIP's text tower in one batch (computed once, on the host side).
    """
    groups = [[split_prompts(text) for text in pair] for pair in pairs]
    emb = embed_texts(clip_model, [t for pair in groups for g in pair for t in g])
    out, i = [], 0
    for pair in groups:
        sizes = [len(g) for g in pair]
        out.append(tuple(emb[i + sum(sizes[:k]):i + sum(sizes[:k + 1])] for k in range(len(pair))))
        i += sum(sizes)
    return out


def q_space_stats(map_fn: Callable, params, z_dim: int, num_ws: int, w_avg: jax.Array,
                  key: jax.Array, n: int = 10_000, batch: int = 1000, q_norm_scale: float = 0.5):
    """σ_w ``[num_ws, w_dim]`` (ddof 1) and q_norm = scale · mean ‖q‖ over ``n`` mapped z's.

    Official ``StyleGAN2.init_stats``: ws = mapping(z) for 10,000 z ~ N(0, I) (no truncation),
    σ_w = ws.std(0), q = (ws − w_avg)/σ_w flattened, q_norm = 0.5·mean ‖q‖. Layers are equal
    (the mapping output is broadcast), so ‖q‖ = √num_ws · ‖(w − w_avg)/σ‖.
    """
    fn = jax.jit(map_fn)
    z = jax.random.normal(key, (n, z_dim))
    w = jnp.concatenate([fn(params, z[i:i + batch]) for i in range(0, n, batch)])
    std = jnp.std(w, axis=0, ddof=1)
    q_norms = jnp.sqrt(num_ws) * jnp.linalg.norm((w - w_avg) / std, axis=1)
    return jnp.broadcast_to(std, (num_ws, std.shape[0])), q_norm_scale * jnp.mean(q_norms)


def start_draws(map_fn: Callable, params, key: jax.Array, n: int, z_dim: int, w_avg, w_std,
                psi: float = 0.7) -> jax.Array:
    """Official ``Generator.randn``: q = (mapping(z, ψ) − w̄)/σ_w flattened, ``[n, num_ws·w_dim]``.

    All layers of a draw are equal (the truncated W is broadcast), as in the official code.
    """
    w = map_fn(params, jax.random.normal(key, (n, z_dim)))
    w = w_avg + psi * (w - w_avg)
    return ((w[:, None, :] - w_avg) / w_std).reshape(n, -1)


def q_to_images(synthesis_fn: Callable, ctx: dict, q: jax.Array) -> jax.Array:
    """Flattened q ``[B, num_ws·w_dim]`` -> (G(q·σ + w̄) + 1)/2, ``[B, H, W, 3]``, unclamped."""
    ws = q.reshape((q.shape[0],) + ctx["w_std"].shape) * ctx["w_std"] + ctx["w_avg"]
    return (synthesis_fn(ctx["generator"], ws, noise="const") + 1.0) / 2.0


class Memory(NamedTuple):
    """Uniqueness memory (official ``archive_memory``): oldest row first, ``count`` valid rows."""

    embeds: jax.Array  # [capacity, cutn, E]
    count: jax.Array  # [] int32


def init_memory(capacity: int, cutn: int, dim: int) -> Memory:
    return Memory(jnp.zeros((capacity, cutn, dim), jnp.float32), jnp.zeros((), jnp.int32))


def uniqueness(embeds: jax.Array, memory: Memory) -> jax.Array:
    """Official uniqueness: 100·(min over memory of d, mean over cutouts) / len(memory); 1 if empty.

    Args:
      embeds: ``[cutn, E]`` normalised image embeddings; memory: `Memory`.
    """
    valid = (jnp.arange(memory.embeds.shape[0]) < memory.count)[:, None]
    rows = jnp.where(valid[..., None], memory.embeds, 1.0)  # unused zero rows: NaN gradients
    d = great_circle(embeds[None], rows)  # [capacity, cutn]
    nearest = jnp.mean(jnp.min(jnp.where(valid, d, 2 * jnp.pi), axis=0))
    count = jnp.maximum(memory.count, 1).astype(d.dtype)
    return jnp.where(memory.count > 0, 100.0 * nearest / count, 1.0)


def update_memory(memory: Memory, embeds: jax.Array, losses: jax.Array, key: jax.Array,
                  threshold: float = 1.0) -> Memory:
    """Appends at most one embedding of a batch, as the official side effect of each call.

    The official loop visits the batch in random order and appends the first one with
    loss < 1, then drops the oldest entry beyond capacity (100).

    Args:
      memory: current memory; embeds: ``[B, cutn, E]``; losses: ``[B]`` total losses.
      key: PRNG key for the visiting order.
    """
    perm = jax.random.permutation(key, losses.shape[0])
    ok = losses[perm] < threshold
    new = embeds[perm[jnp.argmax(ok)]]
    cap = memory.embeds.shape[0]
    full = memory.count >= cap
    buf = jnp.where(full, jnp.roll(memory.embeds, -1, axis=0), memory.embeds)
    buf = buf.at[jnp.minimum(memory.count, cap - 1)].set(new)
    grown = Memory(buf, jnp.minimum(memory.count + 1, cap))
    return jax.tree.map(lambda a, b: jnp.where(jnp.any(ok), a, b), grown, memory)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Static settings of the CLIP objective (defaults: official faces run)."""

    weights: tuple[float, float, float] = FACES_WEIGHTS
    cut_size: int = 224  # CLIP's image resolution
    cutn: int = 1
    cut_pow: float = 0.5
    cutouts: str = "random"  # "center_full": deterministic full-image pooling (not official)


def _safe_norm(x):
    sq = jnp.sum(x * x)
    return jnp.where(sq > 0, jnp.sqrt(jnp.where(sq > 0, sq, 1.0)), 0.0)  # no NaN gradient at 0


def make_objective(synthesis_fn: Callable, clip_image_fn: Callable, settings: Settings):
    """The QDGS CLIP objective over flattened q (official ``compute_objective_loss``).

    Args:
      synthesis_fn: ``(params, ws [N, num_ws, w_dim], noise=...) -> images [N, H, W, 3]`` in
        [-1, 1] (StyleGAN2 ``info["synthesis_fn"]``).
      clip_image_fn: ``(params, normalised images [N, R, R, 3]) -> [N, E]`` (CLIP
        ``encode_image``).
      settings: `Settings`.

    Returns:
      ``objective(q [num_ws·w_dim], ctx, *, key) -> (loss [], aux)`` to minimise, with
      ``aux = {"measures": [M], "embed": [cutn, E], "prompt": [], "reg": [], "uniq": []}``.
      ``ctx``: ``generator``, ``clip`` (params), ``w_std`` [num_ws, w_dim], ``w_avg`` [w_dim],
      ``q_norm`` [], ``text`` = {"objective": (pos [P, E], neg [P', E]), "measures": ((pos,
      neg), ...)} and, when the uniqueness weight is > 0, ``memory`` (`Memory`).
    """
    w_prompt, w_reg, w_uniq = settings.weights

    def objective(q, ctx, *, key=None):
        if key is None and settings.cutouts == "random":
            raise ValueError("random CLIP cutouts need key=...")
        image = q_to_images(synthesis_fn, ctx, q[None])[0]
        cuts = make_cutouts(image, key, settings.cut_size, settings.cutn, settings.cut_pow,
                            settings.cutouts)
        emb = clip_image_fn(ctx["clip"], preprocess.normalize_clip(cuts, "[0,1]"))
        emb = emb / jnp.linalg.norm(emb, axis=-1, keepdims=True)
        pair = lambda p: prompt_distance(emb, p[0]) - prompt_distance(emb, p[1])  # noqa: E731
        prompt = pair(ctx["text"]["objective"])
        zero = jnp.zeros(())
        reg = (jnp.maximum(_safe_norm(q), ctx["q_norm"]) - ctx["q_norm"]) ** 2 if w_reg else zero
        uniq = uniqueness(emb, ctx["memory"]) if w_uniq else zero
        loss = w_prompt * prompt + w_reg * reg + (w_uniq * (1.0 - uniq) if w_uniq else zero)
        measures = jnp.stack([pair(p) for p in ctx["text"]["measures"]])
        return loss, {"measures": measures, "embed": emb, "prompt": prompt, "reg": reg,
                      "uniq": uniq}

    return objective
