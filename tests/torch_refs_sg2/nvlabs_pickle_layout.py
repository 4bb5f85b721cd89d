"""Writes pickles with the structure of released NVlabs network pickles, without NVlabs code.

Written from the documented format of ``torch_utils.persistence`` (stylegan2-ada-pytorch /
stylegan3): a persistent object pickles as ``torch_utils.persistence._reconstruct_persistent_obj(
meta)`` with ``meta = dict(type='class', version=6, module_src, class_name, state)`` and
``state`` the module's ``__dict__``; the file is ``pickle.dump`` of ``dict(training_set_kwargs,
G, D, G_ema, augment_pipe)``. The modules here are real ``torch.nn.Module`` objects (so the
state holds torch's own ``_parameters``/``_buffers``/``_modules``/hook dicts and tensors pickle
through torch), built from a flat NVlabs state dict; class names and a few plain attributes
(numpy-scalar ``weight_gain``, ``block_resolutions``) follow the NVlabs module tree.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types

import numpy as np
import torch

BUFFERS = ("w_avg", "resample_filter", "noise_const", "p", "Hz_geom")
G_CLASSES = {"": "Generator", "mapping": "MappingNetwork", "synthesis": "SynthesisNetwork",
             "b": "SynthesisBlock", "conv0": "SynthesisLayer", "conv1": "SynthesisLayer",
             "torgb": "ToRGBLayer", "affine": "FullyConnectedLayer", "fc": "FullyConnectedLayer"}
D_CLASSES = {"": "Discriminator", "b": "DiscriminatorBlock", "b4": "DiscriminatorEpilogue",
             "mbstd": "MinibatchStdLayer", "fc": "FullyConnectedLayer",
             "out": "FullyConnectedLayer"}  # everything else: Conv2dLayer


def _reconstruct_persistent_obj(meta):
    """Pickled by name; a plain ``pickle.load`` inside `nvlabs_module_names` gives the metas."""
    return meta


class EasyDict(dict):
    """Pickles as ``dnnlib.util.EasyDict`` (a dict with attribute access)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
EasyDict.__module__ = "dnnlib.util"


class Persistent(torch.nn.Module):
    """A module that pickles like an NVlabs ``persistent_class`` instance."""

    orig_class_name = "Module"
    orig_module_src = ""

    def __reduce_ex__(self, protocol):
        meta = dict(type="class", version=6, module_src=self.orig_module_src,
                    class_name=self.orig_class_name, state=dict(vars(self)))
        return _reconstruct_persistent_obj, (meta,)


def _module(class_name: str, src: str, init_kwargs: dict | None = None) -> Persistent:
    cls = type(class_name, (Persistent,), dict(orig_class_name=class_name, orig_module_src=src))
    mod = cls()
    mod._init_args, mod._init_kwargs = (), dict(init_kwargs or {})
    if class_name in ("FullyConnectedLayer", "Conv2dLayer", "ToRGBLayer"):
        mod.weight_gain, mod.act_gain = np.float64(0.125), np.sqrt(np.float64(2))
    return mod


def _class_of(path: list[str], classes: dict) -> str:
    last = path[-1] if path else ""
    if last in classes:
        return classes[last]
    key = last.rstrip("0123456789")
    return classes.get(key, "Conv2dLayer" if classes is D_CLASSES else "FullyConnectedLayer")


def module_tree(flat: dict, classes: dict, init_kwargs: dict, src: str) -> Persistent:
    """Nested persistent modules whose ``state_dict()`` is ``flat`` (same names and order).

    Names in `BUFFERS` become buffers, all else parameters (``requires_grad=False``, as
    NVlabs' snapshot copies).
    """
    root = _module(classes[""], src, init_kwargs)
    for key, value in flat.items():
        *path, leaf = key.split(".")
        mod = root
        for i, part in enumerate(path):
            if part not in mod._modules:
                mod.add_module(part, _module(_class_of(path[: i + 1], classes), src))
            mod = mod._modules[part]
        if leaf in BUFFERS:
            mod.register_buffer(leaf, value.clone())
        else:
            mod.register_parameter(leaf, torch.nn.Parameter(value.clone(), requires_grad=False))
    return root


def augment_pipe(src: str) -> Persistent:
    """An ``AugmentPipe`` with its buffers ``p`` and ``Hz_geom`` (contents irrelevant here)."""
    pipe = _module("AugmentPipe", src, dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1))
    pipe.register_buffer("p", torch.zeros([]))
    pipe.register_buffer("Hz_geom", torch.linspace(-0.1, 0.1, 12))
    return pipe


@contextlib.contextmanager
def nvlabs_module_names():
    """Makes ``torch_utils.persistence`` / ``dnnlib.util`` resolvable while pickling."""
    fake = {name: types.ModuleType(name) for name in
            ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util")}
    fake["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
    fake["torch_utils"].persistence = fake["torch_utils.persistence"]
    fake["dnnlib.util"].EasyDict = EasyDict
    fake["dnnlib"].util, fake["dnnlib"].EasyDict = fake["dnnlib.util"], EasyDict
    saved = {name: sys.modules.get(name) for name in fake}
    sys.modules.update(fake)
    try:
        yield
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod


def write_pickle(path: str, data: dict, protocol: int) -> None:
    """``pickle.dump(data)`` as NVlabs' training loop does, with the fake NVlabs names."""
    with nvlabs_module_names(), open(path, "wb") as f:
        pickle.dump(data, f, protocol=protocol)
