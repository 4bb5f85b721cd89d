"""Spectral-norm folding and torch -> Flax renaming shared by the BigGAN converters (pure numpy).

Spectral normalisation (Miyato et al. 2018) divides a weight by an estimate sigma of its largest
singular value. In eval mode the two references estimate sigma differently, and each estimate is
reproduced here exactly so the converted kernel equals the weight the reference convolves with:

* ``torch.nn.utils.spectral_norm`` (pytorch-pretrained-biggan): no power iteration at eval;
  sigma = u^T W v with the stored ``weight_u`` and ``weight_v``.
* BigGAN-PyTorch ``layers.SN.W_``: one power iteration from the stored ``u0`` *without* updating
  it, v = normalize(u W), u' = normalize(v W^T), sigma = v W^T u'^T (the stored ``sv0`` is a
  training-time log and is not used).
"""

from __future__ import annotations

import numpy as np


def _normalize(x: np.ndarray, eps: float) -> np.ndarray:
    """``F.normalize``: x / max(||x||, eps)."""
    return x / max(float(np.linalg.norm(x)), eps)


def fold_torch_sn(weight_orig: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """W / (u^T W_mat v) with W_mat = weight_orig reshaped to ``[out, -1]`` (torch eval)."""
    w = np.asarray(weight_orig, np.float64)
    sigma = np.asarray(u, np.float64) @ (w.reshape(w.shape[0], -1) @ np.asarray(v, np.float64))
    return (w / sigma).astype(np.float32)


def fold_biggan_pytorch_sn(weight: np.ndarray, u0: np.ndarray, eps: float) -> np.ndarray:
    """W / sigma with sigma from one non-updating power iteration from ``u0`` (``SN.W_``)."""
    w = np.asarray(weight, np.float64)
    w_mat = w.reshape(w.shape[0], -1)
    v = _normalize(np.asarray(u0, np.float64).reshape(-1) @ w_mat, eps)
    u = _normalize(v @ w_mat.T, eps)
    sigma = v @ w_mat.T @ u
    return (w / sigma).astype(np.float32)


def flax_path(torch_prefix: str) -> list[str]:
    """``"blocks.0.0.conv1"`` -> ``["blocks_0_0", "conv1"]`` (index segments join their parent)."""
    out: list[str] = []
    for part in torch_prefix.split("."):
        if part.isdigit() and out:
            out[-1] += f"_{part}"
        elif part:
            out.append(part)
    return out


def kernel(weight: np.ndarray) -> np.ndarray:
    """Torch Linear ``[out, in]`` -> ``[in, out]``; Conv OIHW -> HWIO."""
    weight = np.asarray(weight, np.float32)
    if weight.ndim == 4:
        return weight.transpose(2, 3, 1, 0)
    if weight.ndim == 2:
        return weight.T
    raise ValueError(f"not a linear/conv weight: shape {weight.shape}")


def put(tree: dict, collection: str, path: list[str], value: np.ndarray) -> None:
    """Sets ``tree[collection][path...] = value`` creating nested dicts."""
    node = tree.setdefault(collection, {})
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = np.asarray(value, np.float32)
