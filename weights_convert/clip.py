"""Converts an OpenAI CLIP checkpoint to a jaxlatent ``.npz``.

Usage:
  python weights_convert/clip.py --input ViT-B-32.pt --output clip_vit_b32.npz

The input is OpenAI's release file ``ViT-B-32.pt`` (a TorchScript archive; fp16 weights upcast
to float32) or a plain state dict with the same keys (``torch.save(model.state_dict())``).
Neither runs code: a plain state dict is read with ``torch.load(weights_only=True)``, and a
TorchScript archive is *not* loaded with ``torch.jit.load`` (which compiles the archive's code
and runs its ``__setstate__`` methods) but read as data by `weights_convert.torchscript`: its
``data.pkl`` is unpickled by a restricted unpickler that only builds tensors, containers and
inert stand-ins for the module objects, and the parameter/buffer names are read from the
``__parameters__`` / ``__buffers__`` declarations of its code as text. ``--arch ViT-B/32`` (default) checks the file
against the official ViT-B/32 key set; ``--arch infer`` infers the hyper-parameters from the file
as OpenAI's ``build_model`` does. This script is the only place that imports torch; the mapping is
`jaxlatent.models.clip.convert` (pure numpy).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import collections  # noqa: E402
import pickle  # noqa: E402
import re  # noqa: E402
import zipfile  # noqa: E402

import numpy as np  # noqa: E402

from jaxlatent import params as params_lib  # noqa: E402
from weights_convert.common import sha256  # noqa: E402
from jaxlatent.models import clip  # noqa: E402


def load_state_dict(path):
    """TorchScript archive or plain (possibly wrapped) state dict -> ``{key: float32 array}``.

    Raises:
      ValueError: not a torch file, or a file holding Python objects other than tensors
        (refused without running them).
    """
    import torch

    params_lib.check_torch_file(path, "CLIP checkpoint")
    if _is_torchscript(path):
        return {k: v.astype(np.float32) for k, v in read_torchscript(path).items()}
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f"refusing to load CLIP checkpoint {path!r}: it holds Python objects "
                         f"other than tensors ({str(err).strip().splitlines()[0]})") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    return {k: v.detach().cpu().float().numpy() for k, v in state.items() if hasattr(v, "detach")}

# -- TorchScript archives, read as data (no torch.jit.load) -----------------------------------
_DTYPES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
           "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
           "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}
_IDENTITY = {"restore_type_tag", "build_intlist", "build_doublelist", "build_boollist",
             "build_tensorlist"}


class _ScriptObject:
    """Inert stand-in for a pickled TorchScript object: it only stores its attributes."""

    qualname = ""

    def __init__(self, *args):
        del args

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.__dict__.update(state)


class _Unpickler(pickle.Unpickler):
    """Builds only numpy arrays, containers and `_ScriptObject` stand-ins; refuses any other global."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self.archive, self.prefix, self.classes = archive, prefix, {}

    def find_class(self, module, name):
        if module.startswith("__torch__"):
            qualname = f"{module}.{name}"
            return self.classes.setdefault(
                qualname, type(name, (_ScriptObject,), {"qualname": qualname}))
        if module == "torch" and name in _DTYPES:
            return np.dtype(_DTYPES[name])
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return lambda data, *_: data
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch.jit._pickle" and name in _IDENTITY:
            return lambda value, *_: value
        raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")

    def persistent_load(self, pid):
        _, dtype, key, _, numel = pid
        data = self.archive.read(f"{self.prefix}/data/{key}")
        return np.frombuffer(data, dtype=dtype)[:numel]


def _rebuild_tensor(storage, offset, size, stride, *_):
    flat = storage[offset:]
    strides = [s * storage.itemsize for s in stride]
    return np.lib.stride_tricks.as_strided(flat, tuple(size), strides).copy()


def _is_torchscript(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.count("/") >= 2 and n.split("/")[1] == "code" for n in archive.namelist())


def read_torchscript(path: str) -> dict[str, np.ndarray]:
    """``{name: array}`` of a TorchScript archive's parameters and buffers, without running it.

    Raises:
      ValueError: the archive's ``data.pkl`` references anything but tensors, containers and
        TorchScript objects (the unpickling stops there; nothing is executed).
    """
    with zipfile.ZipFile(path) as archive:
        pkl = next(n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/data.pkl"))
        prefix = pkl.split("/")[0]
        try:
            with archive.open(pkl) as f:
                root = _Unpickler(f, archive, prefix).load()
        except pickle.UnpicklingError as err:
            raise ValueError(f"refusing to load TorchScript archive {path!r}: {err}") from None
        declared = _declared_tensors(archive, prefix)
    state = {}
    _collect(root, "", declared, state)
    return state


def _declared_tensors(archive: zipfile.ZipFile, prefix: str) -> dict[str, set]:
    """``{class qualname: names in __parameters__ + __buffers__}``, parsed from the code as text."""
    declared, head = {}, f"{prefix}/code/"
    for name in archive.namelist():
        if not (name.startswith(head) and name.endswith(".py")):
            continue
        module = name[len(head):-3].replace("/", ".")
        current = None
        for line in archive.read(name).decode("utf-8", "replace").splitlines():
            match = re.match(r"class (\w+)\(", line)
            if match:
                current = declared.setdefault(f"{module}.{match.group(1)}", set())
            elif current is not None and re.match(r"  __(parameters|buffers)__ = \[", line):
                current.update(re.findall(r'"([^"]+)"', line))
    return declared


def _collect(obj: _ScriptObject, prefix: str, declared: dict, state: dict) -> None:
    names = declared.get(type(obj).qualname)
    for name, value in vars(obj).items():
        if isinstance(value, _ScriptObject):
            _collect(value, f"{prefix}{name}.", declared, state)
        elif isinstance(value, np.ndarray) and (names is None or name in names):
            state[prefix + name] = value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="ViT-B-32.pt (TorchScript) or state dict")
    parser.add_argument("--output", required=True, help="destination .npz")
    parser.add_argument("--arch", default="ViT-B/32", choices=["ViT-B/32", "infer"])
    args = parser.parse_args(argv)
    state = load_state_dict(args.input)
    config = clip.VIT_B32 if args.arch == "ViT-B/32" else clip.infer_config(state)
    params = clip.convert(state, config)
    params_lib.save_params(args.output, params, config=config._asdict(),
                           source=os.path.basename(args.input),
                           source_sha256=sha256(args.input), model="clip_vit_b32")
    print(f"wrote {args.output} ({config})")


if __name__ == "__main__":
    main()
