"""SSIM and MS-SSIM with the numerics of pytorch-msssim 1.0.0, for NHWC float32 images.

References:
  Wang, Simoncelli & Bovik, "Multiscale structural similarity for image quality assessment",
  2003 (MS-SSIM, Eq. 7); Wang et al., "Image quality assessment: from error visibility to
  structural similarity", TIP 2004 (SSIM, Eq. 13). Reference code: pytorch-msssim 1.0.0
  (``ssim``, ``ms_ssim``), which these functions match to about 1e-6.

- Window: 11-tap Gaussian, sigma 1.5, built in float32, applied separably with no padding
  ("valid"); an axis shorter than the window is not filtered (as pytorch-msssim).
- ``data_range`` is required (pytorch-msssim defaults to 255, a common bug with [0, 1] images).
- MS-SSIM: weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); relu(cs) at levels 0-3 and relu(ssim)
  at the last; between levels a 2x2 average pool with zero padding of (H % 2, W % 2) on both
  sides counted in the mean (torch ``avg_pool2d``; TF pads symmetrically at the end instead).
  The smaller side must exceed (win - 1) * 2^4 = 160.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """pytorch-msssim ``_fspecial_gauss_1d`` in float32: [size]."""
    coords = np.arange(size, dtype=np.float32) - np.float32(size // 2)
    g = np.exp(-(coords**2) / np.float32(2 * sigma**2)).astype(np.float32)
    return (g / g.sum()).astype(np.float32)


def _filter(x: jax.Array, win: np.ndarray) -> jax.Array:
    """Separable 'valid' Gaussian over H then W of NHWC ``x`` (skips axes shorter than win).

    A depthwise convolution per axis, like pytorch-msssim's grouped ``F.conv2d``.
    """
    k, c = len(win), x.shape[-1]
    for axis, shape in ((1, (k, 1, 1, c)), (2, (1, k, 1, c))):
        if x.shape[axis] < k:
            continue
        kernel = jnp.broadcast_to(jnp.asarray(win).reshape(shape[:3] + (1,)), shape)
        x = jax.lax.conv_general_dilated(
            x, kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=c, precision=jax.lax.Precision.HIGHEST)
    return x


def _ssim_cs(x, y, data_range, win, k=(0.01, 0.03)):
    """Per-channel (ssim, cs), each [N, C] (pytorch-msssim ``_ssim``)."""
    c1, c2 = (k[0] * data_range) ** 2, (k[1] * data_range) ** 2
    # One filter pass over the five moments stacked along channels.
    mu1, mu2, xx, yy, xy = jnp.split(_filter(jnp.concatenate(
        [x, y, x * x, y * y, x * y], axis=-1), win), 5, axis=-1)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq, sigma2_sq, sigma12 = xx - mu1_sq, yy - mu2_sq, xy - mu1_mu2
    cs_map = (2 * sigma12 + c2) / (sigma1_sq + sigma2_sq + c2)
    ssim_map = ((2 * mu1_mu2 + c1) / (mu1_sq + mu2_sq + c1)) * cs_map
    return jnp.mean(ssim_map, axis=(1, 2)), jnp.mean(cs_map, axis=(1, 2))


def ssim(x: jax.Array, y: jax.Array, *, data_range: float, win_size: int = 11,
         win_sigma: float = 1.5, k=(0.01, 0.03), per_image: bool = False) -> jax.Array:
    """SSIM of NHWC float32 images ``x``, ``y`` [N, H, W, C] with value range ``data_range``.

    Returns:
      scalar mean over batch and channels, or [N] (channel mean) when ``per_image``.

    Examples:
      >>> import jax.numpy as jnp
      >>> float(ssim(jnp.ones((1, 16, 16, 1)), jnp.ones((1, 16, 16, 1)), data_range=1.0))
      1.0
    """
    s, _ = _ssim_cs(x, y, data_range, gaussian_window(win_size, win_sigma), k)
    s = jnp.mean(s, axis=1)
    return s if per_image else jnp.mean(s)


def _avg_pool_2x2(x: jax.Array) -> jax.Array:
    """torch ``avg_pool2d(kernel_size=2, padding=(H % 2, W % 2))`` on NHWC (pads counted)."""
    ph, pw = x.shape[1] % 2, x.shape[2] % 2
    x = jnp.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    h, w = x.shape[1] // 2, x.shape[2] // 2
    x = x[:, : 2 * h, : 2 * w]
    return x.reshape(x.shape[0], h, 2, w, 2, x.shape[3]).mean(axis=(2, 4))


def ms_ssim(x: jax.Array, y: jax.Array, *, data_range: float, win_size: int = 11,
            win_sigma: float = 1.5, weights: Sequence[float] = MS_WEIGHTS, k=(0.01, 0.03),
            per_image: bool = False) -> jax.Array:
    """MS-SSIM (Wang et al. 2003, Eq. 7) of NHWC images with pytorch-msssim semantics.

    Args:
      x, y: float32 [N, H, W, C]; min(H, W) > (win_size - 1) * 2**(len(weights) - 1).
      data_range: value range, e.g. 1.0 for [0, 1] images, 2.0 for [-1, 1], 255 for uint8 scale.
    Returns:
      scalar (mean over batch) or [N] when ``per_image``.
    """
    levels = len(weights)
    min_side = (win_size - 1) * 2 ** (levels - 1)
    if min(x.shape[1:3]) <= min_side:
        raise ValueError(f"ms_ssim needs images with smaller side > {min_side} "
                         f"(win_size {win_size}, {levels} levels); got {x.shape[1:3]}")
    win = gaussian_window(win_size, win_sigma)
    values = []
    for level in range(levels):
        s, cs = _ssim_cs(x, y, data_range, win, k)
        if level < levels - 1:
            values.append(jax.nn.relu(cs))
            x, y = _avg_pool_2x2(x), _avg_pool_2x2(y)
    values.append(jax.nn.relu(s))
    w = jnp.asarray(weights, jnp.float32)[:, None, None]
    val = jnp.mean(jnp.prod(jnp.stack(values) ** w, axis=0), axis=1)  # [N]
    return val if per_image else jnp.mean(val)


def pairwise_ms_ssim(images: jax.Array, pairs: jax.Array, *, data_range: float, **kw) -> jax.Array:
    """MS-SSIM of ``images[pairs[:, 0]]`` vs ``images[pairs[:, 1]]``: [P] (diversity protocol).

    Following Odena et al. (AC-GAN), lower mean pairwise MS-SSIM within a class = more diverse.
    """
    return ms_ssim(images[pairs[:, 0]], images[pairs[:, 1]], data_range=data_range,
                   per_image=True, **kw)
