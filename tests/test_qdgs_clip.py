"""QDGS with CLIP prompts on StyleGAN2 q-space: cutouts vs torch, distances, q-space, the
uniqueness memory, and the `qdgs_clip` config end-to-end on tiny random StyleGAN2 and CLIP
checkpoints (finite, non-zero Jacobians with the uniqueness term active)."""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import load_config
from jaxlatent import experiment, preprocess
from jaxlatent import params as params_io
from jaxlatent.models import clip
from jaxlatent.models.stylegan2 import build_generator, builders, presets
from jaxlatent.objectives import qdgs_clip as qc

TINY_CLIP = clip.CLIPConfig(embed_dim=16, image_resolution=32, vision_layers=1, vision_width=64,
                            vision_patch_size=16, context_length=32, vocab_size=49408,
                            transformer_width=64, transformer_heads=1, transformer_layers=1)
TINY_SG2 = dict(size=8, style_dim=8, n_mlp=1, channels={4: 8, 8: 8})


def write_tiny_stylegan2(path, seed=0):
    """A random StyleGAN2 file as `make_random_checkpoint` writes it, with the layers' init
    distributions drawn in numpy: jitting Flax's init compiles for 20-30 s on XLA:CPU here."""
    cfg = presets.generator_config(**TINY_SG2)
    module = builders.generator_module(cfg)
    abstract = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, 8)))
    shapes = params_io.flatten(jax.tree.map(lambda a: np.zeros(a.shape, np.float32), abstract))
    rng = np.random.default_rng(seed)
    flat = {}
    for name, s in shapes.items():
        if name.endswith("modulation/bias"):
            flat[name] = np.ones(s.shape, np.float32)
        elif name.endswith(("bias", "noise/weight", "w_avg")):
            flat[name] = np.zeros(s.shape, np.float32)
        else:  # kernels (raw N(0, 1); the mapping's scaled by 1/lr_mul), const input, noise maps
            scale = 1 / cfg["lr_mlp"] if name.startswith("params/style_") else 1.0
            flat[name] = (scale * rng.normal(size=s.shape)).astype(np.float32)
    params = params_io.unflatten(flat)
    z = jax.random.normal(jax.random.key(seed), (1024, 8))
    params["buffers"]["w_avg"] = np.asarray(module.apply(params, z, method=module.map).mean(0))
    params_io.save_params(path, params, **cfg, source_format="random")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("qdgs_clip")
    g_path, c_path = str(root / "g.npz"), str(root / "clip.npz")
    write_tiny_stylegan2(g_path)
    model = clip.build(key=jax.random.key(1), config=TINY_CLIP)
    params_io.save_params(c_path, jax.tree.map(np.asarray, model.params),
                          config=TINY_CLIP._asdict(), model="clip_vit_b32")
    return g_path, c_path


def smoke_config(paths):
    config = load_config("qdgs_clip", "smoke")
    config.generator.path, config.clip.path = paths
    return config


@pytest.mark.parity
@pytest.mark.parametrize("shape", [(128, 128, 224, 224), (256, 256, 224, 224), (7, 5, 3, 8),
                                   (231, 240, 224, 224)])
def test_adaptive_avg_pool2d_matches_torch(shape):
    torch = pytest.importorskip("torch")
    h, w, oh, ow = shape
    x = np.random.default_rng(0).normal(size=(2, h, w, 3)).astype(np.float32)
    want = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(x).permute(0, 3, 1, 2),
                                                   (oh, ow)).permute(0, 2, 3, 1).numpy()
    got = np.asarray(preprocess.adaptive_avg_pool2d(jnp.asarray(x), (oh, ow)))
    np.testing.assert_allclose(got, want, atol=1e-6)  # measured <= 2.4e-7


@pytest.mark.parity
def test_random_cutout_is_torch_crop_then_pool():
    torch = pytest.importorskip("torch")

    def torch_pool(x, size):  # [H, W, 3] numpy -> [size, size, 3]
        x = torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None]
        return torch.nn.functional.adaptive_avg_pool2d(x, size)[0].permute(1, 2, 0).numpy()

    image = np.random.default_rng(1).uniform(size=(40, 36, 3)).astype(np.float32)
    cutouts = jax.jit(lambda x, k: qc.make_cutouts(x, k, cut_size=32, cutn=2))
    box = jax.jit(lambda k: preprocess.qdgs_cutout_params(k, 40, 36, 32, 0.5))
    sizes = set()
    for i in range(4):
        key = jax.random.key(i)
        got = np.asarray(cutouts(image, key))
        for c, k in enumerate(jax.random.split(key, 2)):
            size, top, left = (int(v) for v in box(k))
            assert 32 <= size <= 36 and 0 <= top <= 40 - size and 0 <= left <= 36 - size
            sizes.add(size)
            want = torch_pool(image[top:top + size, left:left + size], 32)
            np.testing.assert_allclose(got[c], want, atol=1e-6)
    assert len(sizes) > 1  # the side is random
    # A 16-px image with cut_size 32: the crop is always the whole image, pooled up.
    small = image[:16, :16]
    np.testing.assert_allclose(cutouts(small, jax.random.key(0))[1], torch_pool(small, 32),
                               atol=1e-6)
    centred = jax.jit(lambda x: qc.make_cutouts(x, None, 32, cutouts="center_full"))(image)
    np.testing.assert_allclose(centred[0], torch_pool(image[2:38], 32), atol=1e-6)


def test_great_circle_and_prompt_sums():
    def angle(x, y):  # independent reference: arccos of the cosine, float64
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        cos = np.sum(x * y, -1) / np.linalg.norm(x, axis=-1) / np.linalg.norm(y, axis=-1)
        return np.arccos(np.clip(cos, -1, 1))

    e = np.eye(3, dtype=np.float32)
    x, y = np.stack([e[0], e[0], 2 * e[0]]), np.stack([e[1], -3 * e[0], e[0]])
    np.testing.assert_allclose(jax.jit(qc.great_circle)(x, y), [math.pi / 2, math.pi, 0], atol=1e-6)
    a, b = np.random.default_rng(0).normal(size=(2, 4, 8)).astype(np.float32)
    np.testing.assert_allclose(jax.jit(qc.great_circle)(a, b), angle(a, b), atol=1e-5)
    assert qc.split_prompts("A cat. | A dog.|") == ["A cat.", "A dog."]
    embeds, targets = a[:2], b[:3]  # 2 cutouts, 3 "|"-separated prompts
    want = np.mean([sum(angle(c, t) for t in targets) for c in embeds])  # sum prompts, mean cuts
    np.testing.assert_allclose(jax.jit(qc.prompt_distance)(embeds, targets), want, atol=1e-5)


def test_q_space_round_trip_and_stats(checkpoints):
    g = build_generator(checkpoints[0])
    gi, w_avg = g.info, g.params["buffers"]["w_avg"]
    w_std, q_norm = qc.q_space_stats(gi["map_fn"], g.params, gi["z_dim"], gi["num_ws"], w_avg,
                                     jax.random.key(0), n=300, batch=128)
    w = np.asarray(gi["map_fn"](g.params, jax.random.normal(jax.random.key(0), (300, 8))))
    np.testing.assert_allclose(w_std[3], w.std(0, ddof=1), rtol=1e-4)
    q = (w - np.asarray(w_avg)) / np.asarray(w_std[0])
    want_norm = 0.5 * np.sqrt(gi["num_ws"]) * np.linalg.norm(q, axis=1).mean()
    np.testing.assert_allclose(q_norm, want_norm, rtol=1e-4)
    ctx = {"generator": g.params, "w_std": w_std, "w_avg": w_avg}
    qs = jnp.repeat(jnp.asarray(q[:2, None]), gi["num_ws"], 1).reshape(2, -1)  # W -> q
    want = jax.jit(lambda p, w: (g.apply_fn(p, w, space="w") + 1) / 2)(g.params, jnp.asarray(w[:2]))
    got = jax.jit(lambda c, q: qc.q_to_images(gi["synthesis_fn"], c, q))(ctx, qs)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_memory_is_a_fifo_of_low_loss_embeddings():
    update = jax.jit(qc.update_memory)
    mem = qc.init_memory(3, 1, 2)
    assert float(qc.uniqueness(jnp.ones((1, 2)), mem)) == 1.0  # empty memory
    rows = jnp.eye(2)[None, None].repeat(5, 0)[:, :, 0] * jnp.arange(1, 6)[:, None, None]  # [5,1,2]
    mem = update(mem, rows[:1], jnp.array([1.5]), jax.random.key(0))
    assert int(mem.count) == 0  # loss >= 1 is never stored
    for i in range(5):
        mem = update(mem, rows[i:i + 1], jnp.array([0.5]), jax.random.key(i))
    assert int(mem.count) == 3
    np.testing.assert_array_equal(mem.embeds[:, 0, 0], [3.0, 4.0, 5.0])  # oldest dropped
    probe = jnp.array([[0.0, 1.0]])  # orthogonal to every stored direction
    np.testing.assert_allclose(qc.uniqueness(probe, mem), 100 * (math.pi / 2) / 3, rtol=1e-6)
    batch = jnp.stack([rows[0], -rows[0]])
    picked = {float(update(qc.init_memory(2, 1, 2), batch, jnp.array([0.0, 0.0]),
                           jax.random.key(k)).embeds[0, 0, 0]) for k in range(8)}
    assert picked == {1.0, -1.0}  # the visiting order is random


def test_missing_checkpoint_paths_name_the_converters(tmp_path):
    with pytest.raises(ValueError, match=r"generator\.path.*weights_convert/stylegan2\.py.*"
                                         r"clip\.path.*weights_convert/clip\.py"):
        experiment.run(load_config("qdgs_clip", "smoke"), str(tmp_path))


def test_qdgs_clip_smoke_end_to_end(tmp_path, checkpoints):
    summary = experiment.run(smoke_config(checkpoints), str(tmp_path))
    for name in ["archive.npz", "heatmap.png", "curves.png", "elites.png", "dataset.npz",
                 "summary.json", "metrics.jsonl"]:
        assert os.path.exists(tmp_path / name), name
    with np.load(tmp_path / "archive.npz") as f:
        assert f["solutions"].shape[1] == 32 and len(f["solutions"]) == summary["num_elites"] >= 1
        assert np.all(np.isfinite(f["objectives"])) and f["measures"].shape[1] == 4
    with np.load(tmp_path / "dataset.npz") as f:
        assert set(np.unique(f["labels"])) <= set(range(9))
    assert sum(summary["label_counts"]) == summary["num_elites"]
    # The Jacobian of objective + 4 measures through tiny StyleGAN2 + CLIP, with the uniqueness
    # term active (memory not empty): finite (the loop stops on NaN metrics) and non-zero.
    rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert len(rows) == 4 and all(r["memory"] >= 1 and 0 < r["jac_norm"] < np.inf for r in rows)
    grown = np.diff([r["memory"] for r in rows])
    assert np.all((grown >= 0) & (grown <= 2))  # at most one per evaluated batch (θ, branches)
