"""rosinality/stylegan2-pytorch checkpoints (``ckpt["g_ema"]``, ``ckpt["d"]``) -> Flax variables.

Pure numpy: the caller (weights_convert/stylegan2.py) reads the ``.pt`` file. The expected torch
key set is generated from the hyper-parameters (it depends on the resolution), checked with
`check_state_dict_keys`, and every key is either renamed (plus a layout transpose) or, for the
fixed FIR-filter buffers, compared with the value the port hard-codes.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from jaxlatent.models.stylegan2 import layers, presets
from jaxlatent.params import check_state_dict_keys, unflatten


class Entry(NamedTuple):
    """One torch key: its shape, and either a Flax path + transform or a fixed buffer value."""

    key: str
    shape: tuple[int, ...]
    path: str | None = None
    fn: Callable[[np.ndarray], np.ndarray] | None = None
    fixed: np.ndarray | None = None


def linear_kernel(w: np.ndarray) -> np.ndarray:
    """torch Linear weight [out, in] -> Flax kernel [in, out]."""
    return np.ascontiguousarray(w.T)


def conv_kernel(w: np.ndarray) -> np.ndarray:
    """torch conv weight OIHW -> Flax HWIO (transpose (2, 3, 1, 0))."""
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def modconv_kernel(w: np.ndarray) -> np.ndarray:
    """rosinality modulated-conv weight [1, O, I, k, k] -> HWIO."""
    return conv_kernel(w[0])


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    """[1, C, H, W] buffers / constants -> [1, H, W, C]."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def _same(x: np.ndarray) -> np.ndarray:
    return np.asarray(x)


def _linear(key: str, path: str, i: int, o: int) -> list[Entry]:
    return [Entry(f"{key}.weight", (o, i), f"{path}/kernel", linear_kernel),
            Entry(f"{key}.bias", (o,), f"{path}/bias", _same)]


def _modconv(key: str, path: str, i: int, o: int, k: int, sd: int) -> list[Entry]:
    return [Entry(f"{key}.weight", (1, o, i, k, k), f"{path}/kernel", modconv_kernel),
            *_linear(f"{key}.modulation", f"{path}/modulation", sd, i)]


def _styled(key: str, path: str, i: int, o: int, sd: int, up: bool) -> list[Entry]:
    out = _modconv(f"{key}.conv", f"{path}/conv", i, o, 3, sd)
    out += [Entry(f"{key}.noise.weight", (1,), f"{path}/noise/weight", _same),
            Entry(f"{key}.activate.bias", (o,), f"{path}/activate/bias", _same)]
    if up:
        out.append(Entry(f"{key}.conv.blur.kernel", (4, 4), fixed=layers.make_kernel() * 4))
    return out


def _to_rgb(key: str, path: str, i: int, sd: int, up: bool) -> list[Entry]:
    out = _modconv(f"{key}.conv", f"{path}/conv", i, 3, 1, sd)
    out.append(Entry(f"{key}.bias", (1, 3, 1, 1), f"{path}/bias", lambda b: b.reshape(3)))
    if up:
        out.append(Entry(f"{key}.upsample.kernel", (4, 4), fixed=layers.make_kernel() * 4))
    return out


def generator_entries(cfg: Mapping[str, Any]) -> list[Entry]:
    """Every key of rosinality ``Generator.state_dict()`` for ``cfg`` (`presets.generator_config`)."""
    sd, ch = cfg["style_dim"], presets.channels_of(cfg)
    res = sorted(ch)
    out = []
    for i in range(1, cfg["n_mlp"] + 1):
        out += _linear(f"style.{i}", f"params/style_{i}", cfg["z_dim"] if i == 1 else sd, sd)
    out.append(Entry("input.input", (1, ch[4], 4, 4), "params/input/input", nchw_to_nhwc))
    out += _styled("conv1", "params/conv1", ch[4], ch[4], sd, False)
    out += _to_rgb("to_rgb1", "params/to_rgb1", ch[4], sd, False)
    for j, (r0, r1) in enumerate(zip(res[:-1], res[1:])):
        out += _styled(f"convs.{2 * j}", f"params/convs_{2 * j}", ch[r0], ch[r1], sd, True)
        out += _styled(f"convs.{2 * j + 1}", f"params/convs_{2 * j + 1}", ch[r1], ch[r1], sd, False)
        out += _to_rgb(f"to_rgbs.{j}", f"params/to_rgbs_{j}", ch[r1], sd, True)
    for i in range(2 * presets.log2(cfg["size"]) - 3):
        r = 2 ** ((i + 5) // 2)
        out.append(Entry(f"noises.noise_{i}", (1, 1, r, r), f"buffers/noises/noise_{i}", nchw_to_nhwc))
    return out


def _conv_layer(key: str, path: str, i: int, o: int, k: int, down: bool, act: bool) -> list[Entry]:
    idx = 1 if down else 0
    out = [Entry(f"{key}.0.kernel", (4, 4), fixed=layers.make_kernel())] if down else []
    out.append(Entry(f"{key}.{idx}.weight", (o, i, k, k), f"{path}/conv/kernel", conv_kernel))
    if act:
        out.append(Entry(f"{key}.{idx + 1}.bias", (o,), f"{path}/activate/bias", _same))
    return out


def discriminator_entries(cfg: Mapping[str, Any]) -> list[Entry]:
    """Every key of rosinality ``Discriminator.state_dict()`` for ``cfg``."""
    ch, size = presets.channels_of(cfg), cfg["size"]
    out = _conv_layer("convs.0", "params/convs_0", 3, ch[size], 1, False, True)
    for k, i in enumerate(range(presets.log2(size), 2, -1), start=1):
        c0, c1, key, path = ch[2**i], ch[2 ** (i - 1)], f"convs.{k}", f"params/convs_{k}"
        out += _conv_layer(f"{key}.conv1", f"{path}/conv1", c0, c0, 3, False, True)
        out += _conv_layer(f"{key}.conv2", f"{path}/conv2", c0, c1, 3, True, True)
        out += _conv_layer(f"{key}.skip", f"{path}/skip", c0, c1, 1, True, False)
    out += _conv_layer("final_conv", "params/final_conv", ch[4] + 1, ch[4], 3, False, True)
    out += _linear("final_linear.0", "params/final_linear_0", ch[4] * 16, ch[4])
    out += _linear("final_linear.1", "params/final_linear_1", ch[4], 1)
    return out


def expected_keys(entries: list[Entry]) -> dict[str, tuple[int, ...]]:
    """``{torch_key: shape}`` for `check_state_dict_keys`."""
    return {e.key: e.shape for e in entries}


def apply_entries(entries: list[Entry], state: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Checks ``state`` against ``entries`` and returns the nested Flax variables dict."""
    state = {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}
    check_state_dict_keys(expected_keys(entries), state, what)
    flat = {}
    for e in entries:
        if e.fixed is not None:
            if not np.allclose(state[e.key], e.fixed, atol=1e-6):
                raise ValueError(f"{what}: buffer {e.key} is not the [1, 3, 3, 1] FIR filter this "
                                 "port hard-codes; other blur kernels are not supported")
            continue
        flat[e.path] = e.fn(state[e.key]).astype(np.float32)
    return unflatten(flat)


def infer_generator_config(state: Mapping[str, Any]) -> dict:
    """Reads size, style_dim, z_dim, n_mlp and channels from a rosinality ``g_ema`` state dict."""
    try:
        n_mlp = sum(1 for k in state if k.startswith("style.") and k.endswith(".weight"))
        style_dim, z_dim = np.shape(state["style.1.weight"])
        size = 2 ** (sum(1 for k in state if re.fullmatch(r"to_rgbs\.\d+\.bias", k)) + 2)
        ch = {4: np.shape(state["input.input"])[1]}
        for j in range(presets.log2(size) - 2):
            ch[2 ** (j + 3)] = np.shape(state[f"convs.{2 * j}.conv.weight"])[1]
    except KeyError as err:
        raise ValueError(f"cannot read StyleGAN2 hyper-parameters: key {err} is missing; "
                         "pass the config explicitly (--size, --channel-multiplier, ...)") from err
    return presets.generator_config(size, style_dim, n_mlp, channels=ch, z_dim=z_dim)


def infer_discriminator_config(state: Mapping[str, Any], mbstd_group: int | None = 4) -> dict:
    """Reads size and channels from a rosinality discriminator state dict."""
    try:
        n_blocks = sum(1 for k in state if k.startswith("convs.") and k.endswith(".skip.1.weight"))
        size = 2 ** (n_blocks + 2)
        ch = {size: np.shape(state["convs.0.0.weight"])[0]}
        for k in range(1, n_blocks + 1):
            ch[size >> k] = np.shape(state[f"convs.{k}.conv2.1.weight"])[0]
    except KeyError as err:
        raise ValueError(f"cannot read discriminator hyper-parameters: key {err} is missing") from err
    return presets.discriminator_config(size, channels=ch, mbstd_group=mbstd_group)


def numpy_mapping(variables: Mapping[str, Any], cfg: Mapping[str, Any], z: np.ndarray) -> np.ndarray:
    """The mapping network in numpy (float64), Z [N, z_dim] -> W [N, w_dim], for w_avg."""
    x = z / np.sqrt(np.mean(z**2, axis=1, keepdims=True) + 1e-8)
    lr = cfg["lr_mlp"]
    for i in range(1, cfg["n_mlp"] + 1):
        p = variables["params"][f"style_{i}"]
        x = x @ (p["kernel"] * (lr / math.sqrt(x.shape[1]))) + p["bias"] * lr
        x = np.where(x >= 0, x, 0.2 * x) * math.sqrt(2.0)
    return x


def estimate_w_avg(variables: Mapping[str, Any], cfg: Mapping[str, Any], n: int = 10_000,
                   seed: int = 0) -> np.ndarray:
    """Mean of W over ``n`` z ~ N(0, I) from ``np.random.default_rng(seed)`` (float32 [w_dim])."""
    z = np.random.default_rng(seed).standard_normal((n, cfg["z_dim"]))
    return numpy_mapping(variables, cfg, z).mean(0).astype(np.float32)


def convert_generator(state: Mapping[str, Any], config: Mapping[str, Any] | None = None,
                      latent_avg: Any = None, what: str = "rosinality g_ema") -> tuple[dict, dict]:
    """rosinality ``g_ema`` state dict (numpy arrays) -> (Flax variables, metadata).

    Args:
      state: ``{torch_key: array}``.
      config: `presets.generator_config`; inferred from the shapes when None.
      latent_avg: the checkpoint's ``latent_avg`` [w_dim] (TF-converted files have it); when
        None, w_avg is estimated from 10,000 mapped z's (seed 0) and the metadata says so.
    """
    cfg = dict(config) if config is not None else infer_generator_config(state)
    variables = apply_entries(generator_entries(cfg), state, what)
    if latent_avg is not None:
        w_avg, source = np.asarray(latent_avg, np.float32).reshape(-1), "checkpoint latent_avg"
    else:
        w_avg, source = estimate_w_avg(variables, cfg), "estimated: mean of 10000 mapped z (seed 0)"
    variables["buffers"]["w_avg"] = w_avg
    return variables, {**cfg, "source_format": "rosinality", "w_avg_source": source}


def convert_discriminator(state: Mapping[str, Any], config: Mapping[str, Any] | None = None,
                          what: str = "rosinality d") -> tuple[dict, dict]:
    """rosinality discriminator state dict -> (Flax variables, metadata)."""
    cfg = dict(config) if config is not None else infer_discriminator_config(state)
    return apply_entries(discriminator_entries(cfg), state, what), {**cfg, "source_format": "rosinality"}
