"""Resampling and normalisation in jaxlatent.preprocess against torch (and PIL for bicubic)."""

import jax
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from jaxlatent import preprocess as pp

SIZES = [((1024, 1024), (224, 224)), ((256, 200), (224, 224)), ((128, 128), (224, 224)),
         ((37, 53), (20, 71)), ((50, 30), (7, 9))]


def _pair(shape, seed=0):
    x = np.random.default_rng(seed).uniform(-1, 1, (2, *shape, 3)).astype(np.float32)
    return x, torch.from_numpy(x.transpose(0, 3, 1, 2))


def _nhwc(t):
    return t.numpy().transpose(0, 2, 3, 1)


@pytest.mark.parametrize("src,dst", SIZES)
def test_nearest_matches_torch_exactly(src, dst):
    x, xt = _pair(src)
    want = _nhwc(F.interpolate(xt, size=dst, mode="nearest"))
    np.testing.assert_array_equal(np.asarray(pp.resize_nearest_torch(x, dst)), want)


def test_nearest_differs_from_half_pixel_jax():
    # Guards the reason this function exists: jax.image.resize picks other pixels at 1024 -> 224.
    x, _ = _pair((1024, 1024))
    ours = np.asarray(pp.resize_nearest_torch(x, (224, 224)))
    theirs = np.asarray(jax.image.resize(x, (2, 224, 224, 3), "nearest"))
    assert np.abs(ours - theirs).max() > 0.1


@pytest.mark.parametrize("src,dst", SIZES)
def test_bilinear_matches_torch(src, dst):
    x, xt = _pair(src, seed=1)
    want = _nhwc(F.interpolate(xt, size=dst, mode="bilinear", align_corners=False))
    np.testing.assert_allclose(np.asarray(pp.resize_bilinear_torch(x, dst)), want, atol=1e-6)


@pytest.mark.parametrize("src,dst", [((64, 64), (224, 224)), ((97, 61), (40, 50))])
def test_bicubic_matches_pil_float(src, dst):
    x = np.random.default_rng(2).uniform(0, 1, (1, *src, 3)).astype(np.float32)
    want = np.stack([np.asarray(Image.fromarray(x[0, ..., c], mode="F").resize(
        (dst[1], dst[0]), Image.BICUBIC)) for c in range(3)], -1)
    got = np.asarray(pp.resize_bicubic_pil(x, dst))[0]
    np.testing.assert_allclose(got, want, atol=2e-5)  # documented tolerance vs PIL


@pytest.mark.parametrize("src,dst", SIZES)
def test_adaptive_avg_pool_matches_torch(src, dst):
    x, xt = _pair(src, seed=3)
    want = _nhwc(F.adaptive_avg_pool2d(xt, dst))
    np.testing.assert_allclose(np.asarray(pp.adaptive_avg_pool2d(x, dst)), want, atol=1e-6)


@pytest.mark.parametrize("shape,side,oy,ox", [((256, 256), 231, 7, 20), ((128, 128), 128, 0, 0),
                                              ((240, 300), 224, 16, 76)])
def test_crop_and_pool_matches_torch(shape, side, oy, ox):
    x, xt = _pair(shape, seed=4)
    want = _nhwc(F.adaptive_avg_pool2d(xt[:, :, oy:oy + side, ox:ox + side], 224))
    got = jax.jit(pp.crop_and_pool)(x, side, oy, ox)
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-6)


def test_qdgs_cutout_draws_valid_crops():
    x, _ = _pair((240, 256), seed=5)
    a = np.asarray(jax.jit(pp.qdgs_cutout)(x, jax.random.key(1)))
    side, oy, ox = pp.qdgs_cutout_params(jax.random.key(1), 240, 256)
    np.testing.assert_array_equal(a, np.asarray(jax.jit(pp.crop_and_pool)(x, side, oy, ox)))
    keys = jax.random.split(jax.random.key(2), 256)
    draw = jax.jit(jax.vmap(lambda k: pp.qdgs_cutout_params(k, 240, 256)))
    sides, oys, oxs = (np.asarray(v) for v in draw(keys))
    assert sides.min() >= 224 and sides.max() <= 240 and len(np.unique(sides)) > 8
    assert (oys >= 0).all() and (oys + sides <= 240).all() and (oxs + sides <= 256).all()
    # side = floor(sqrt(U) * 16 + 224): P(side < 232) = P(U < 1/4) = 1/4.
    assert 0.15 < np.mean(sides < 232) < 0.35
    # 128-px inputs: the crop is always the whole image, pooled up to 224 (QDGS shapes domain).
    small, small_t = _pair((128, 128), seed=6)
    np.testing.assert_allclose(np.asarray(jax.jit(pp.qdgs_cutout)(small, jax.random.key(3))),
                               _nhwc(F.adaptive_avg_pool2d(small_t, 224)), atol=1e-6)


def test_normalisations():
    x = np.random.default_rng(7).uniform(-1, 1, (1, 4, 4, 3)).astype(np.float32)
    u = (x + 1) / 2
    m, s = np.array(pp.IMAGENET_MEAN), np.array(pp.IMAGENET_STD)
    np.testing.assert_allclose(pp.normalize_imagenet(x, "[-1,1]"), (u - m) / s, atol=1e-5)
    np.testing.assert_allclose(pp.normalize_imagenet(u, "[0,1]"), (u - m) / s, atol=1e-5)
    cm, cs = np.array(pp.CLIP_MEAN), np.array(pp.CLIP_STD)
    np.testing.assert_allclose(pp.normalize_clip(u), (u - cm) / cs, atol=1e-5)
    with pytest.raises(ValueError, match="input_range"):
        pp.normalize_imagenet(x, "0..255")
    with pytest.raises(KeyError, match="torch_nearest"):
        pp.resize(x, 8, "lanczos")
