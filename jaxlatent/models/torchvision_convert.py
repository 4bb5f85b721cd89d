"""Pure-numpy converters from torchvision / lpips state dicts to jaxlatent Flax params.

Layout rules (flax ``pytorch_to_jax_flax`` guide):

- Conv2d ``weight`` OIHW -> ``kernel`` HWIO via ``transpose(2, 3, 1, 0)``; ``bias`` unchanged.
- Linear ``weight`` (out, in) -> ``kernel`` (in, out).
- The first Linear after ``torch.flatten`` consumes a (C, H, W)-ordered vector in torch but an
  (H, W, C)-ordered one in the NHWC port, so its rows are permuted (`linear_after_flatten`).

Module ``a.b.c`` parameter ``weight`` becomes ``a_b_c/kernel``: the Flax modules are named after
the torch path with dots replaced by underscores. The expected torch key sets are computed from
the architecture (`vgg_state_shapes`, `alexnet_state_shapes`) and pinned by the fixtures
``tests/fixtures/*_keys.json``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from jaxlatent.params import check_state_dict_keys

VGG_CFGS = {
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"),
}
# (out_channels, kernel) of AlexNet's convs at torchvision `features` indices.
ALEXNET_CONVS = {0: (64, 11), 3: (192, 5), 6: (384, 3), 8: (256, 3), 10: (256, 3)}
LPIPS_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}


def _scaled(c: int, width: float) -> int:
    return max(1, int(round(c * width)))


def vgg_state_shapes(
    arch: str, width: float = 1.0, hidden: int = 4096, num_classes: int = 1000, pool: int = 7
) -> dict[str, tuple[int, ...]]:
    """The torchvision ``vgg16``/``vgg19`` state-dict key set (width < 1: small test configs)."""
    shapes, c_in, idx = {}, 3, 0
    for v in VGG_CFGS[arch]:
        if v == "M":
            idx += 1
            continue
        c = _scaled(v, width)
        shapes[f"features.{idx}.weight"] = (c, c_in, 3, 3)
        shapes[f"features.{idx}.bias"] = (c,)
        c_in, idx = c, idx + 2
    dims = [(0, c_in * pool * pool, hidden), (3, hidden, hidden), (6, hidden, num_classes)]
    for i, d_in, d_out in dims:
        shapes[f"classifier.{i}.weight"] = (d_out, d_in)
        shapes[f"classifier.{i}.bias"] = (d_out,)
    return shapes


def alexnet_state_shapes(
    width: float = 1.0, hidden: int = 4096, num_classes: int = 1000, pool: int = 6
) -> dict[str, tuple[int, ...]]:
    """The torchvision ``alexnet`` state-dict key set."""
    shapes, c_in = {}, 3
    for idx, (c, k) in ALEXNET_CONVS.items():
        c = _scaled(c, width)
        shapes[f"features.{idx}.weight"] = (c, c_in, k, k)
        shapes[f"features.{idx}.bias"] = (c,)
        c_in = c
    for i, d_in, d_out in [(1, c_in * pool * pool, hidden), (4, hidden, hidden),
                           (6, hidden, num_classes)]:
        shapes[f"classifier.{i}.weight"] = (d_out, d_in)
        shapes[f"classifier.{i}.bias"] = (d_out,)
    return shapes


def lpips_head_shapes(net: str, width: float = 1.0) -> dict[str, tuple[int, ...]]:
    """The lpips v0.1 linear-head key set (``alex.pth`` / ``vgg.pth``)."""
    return {f"lin{i}.model.1.weight": (1, _scaled(c, width), 1, 1)
            for i, c in enumerate(LPIPS_CHANNELS[net])}


def conv(weight: np.ndarray, bias: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """torch Conv2d (OIHW) -> Flax ``nn.Conv`` params (HWIO)."""
    out = {"kernel": np.ascontiguousarray(np.transpose(weight, (2, 3, 1, 0)), np.float32)}
    if bias is not None:
        out["bias"] = np.asarray(bias, np.float32)
    return out


def linear(weight: np.ndarray, bias: np.ndarray) -> dict[str, np.ndarray]:
    """torch Linear (out, in) -> Flax ``nn.Dense`` params (in, out)."""
    return {"kernel": np.ascontiguousarray(weight.T, np.float32),
            "bias": np.asarray(bias, np.float32)}


def linear_after_flatten(weight: np.ndarray, bias: np.ndarray, channels: int):
    """Linear fed by torch.flatten of NCHW [C, H, W] -> Dense fed by NHWC flatten [H, W, C]."""
    d_out, d_in = weight.shape
    hw = d_in // channels
    side = int(round(hw**0.5))
    if side * side * channels != d_in:
        raise ValueError(f"cannot split {d_in} inputs into {channels} channels x square map")
    w = weight.reshape(d_out, channels, side, side).transpose(2, 3, 1, 0).reshape(d_in, d_out)
    return {"kernel": np.ascontiguousarray(w, np.float32), "bias": np.asarray(bias, np.float32)}


def convert_sequential(
    state: Mapping[str, np.ndarray], flatten_linear: str | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Converts every ``<seq>.<i>.weight/bias`` of a torchvision feature/classifier net.

    4-d weights are convs, 2-d weights linears; ``flatten_linear`` names the module (e.g.
    ``"classifier.0"``) that follows the NCHW flatten.
    """
    params, last_conv_channels = {}, None
    for name in _module_names(state):
        w, b = state[f"{name}.weight"], state.get(f"{name}.bias")
        flax_name = name.replace(".", "_")
        if w.ndim == 4:
            params[flax_name] = conv(w, b)
            last_conv_channels = w.shape[0]
        elif name == flatten_linear:
            params[flax_name] = linear_after_flatten(w, b, last_conv_channels)
        else:
            params[flax_name] = linear(w, b)
    return params


def _module_names(state: Mapping[str, np.ndarray]) -> Sequence[str]:
    """Module paths in torch order (features before classifier, then by index)."""
    names = {k.rsplit(".", 1)[0] for k in state if k.endswith(".weight")}

    def order(name):
        seq, idx = name.rsplit(".", 1)
        return (seq != "features", int(idx))

    return sorted(names, key=order)


def convert_vgg(state: Mapping[str, np.ndarray], arch: str = "vgg16", **small) -> dict:
    """torchvision VGG state dict -> `jaxlatent.models.vgg.VGG` params (checks keys first)."""
    check_state_dict_keys(vgg_state_shapes(arch, **small), state, f"{arch} state dict")
    return convert_sequential(state, flatten_linear="classifier.0")


def convert_alexnet(state: Mapping[str, np.ndarray], **small) -> dict:
    """torchvision AlexNet state dict -> `jaxlatent.models.alexnet.AlexNet` params."""
    check_state_dict_keys(alexnet_state_shapes(**small), state, "alexnet state dict")
    return convert_sequential(state, flatten_linear="classifier.1")


def convert_lpips(
    backbone: Mapping[str, np.ndarray], heads: Mapping[str, np.ndarray], net: str, width=1.0
) -> dict:
    """torchvision backbone + lpips v0.1 heads -> `jaxlatent.models.lpips.LPIPS` params.

    Only the backbone's ``features.*`` entries are used (a full torchvision state dict or one
    holding just ``features.*``); the classifier, if present, is dropped.
    """
    arch = {"alex": "alexnet", "vgg": "vgg16"}[net]
    full = alexnet_state_shapes(width) if net == "alex" else vgg_state_shapes("vgg16", width)
    backbone = {k: v for k, v in backbone.items() if k.startswith("features.")}
    check_state_dict_keys({k: v for k, v in full.items() if k.startswith("features.")},
                          backbone, f"lpips-{net} backbone ({arch}) state dict")
    check_state_dict_keys(lpips_head_shapes(net, width), heads, f"lpips-{net} v0.1 heads")
    params = {"net": convert_sequential(backbone)}
    for i in range(len(LPIPS_CHANNELS[net])):
        params[f"lin{i}"] = {"model_1": conv(heads[f"lin{i}.model.1.weight"])}
    return params
