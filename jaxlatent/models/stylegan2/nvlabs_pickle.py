"""Reads NVlabs network pickles (stylegan2-ada-pytorch ``.pkl``) without NVlabs code.

A released pickle is ``pickle.dump(dict(training_set_kwargs=..., G=..., D=..., G_ema=...,
augment_pipe=...))``. Each network is an object of a class made by
``torch_utils.persistence.persistent_class``, pickled as
``_reconstruct_persistent_obj(meta)`` with ``meta = dict(type='class', version, module_src,
class_name, state)``; ``state`` is the module's ``__dict__`` (``_init_kwargs``, ``_parameters``,
``_buffers``, ``_modules``, ...); stylegan3 uses the same format (not tried here). NVlabs' own
loader ``exec``s ``module_src``; here the unpickler resolves only the globals in `ALLOWED`, each
to an inert stand-in:

* ``_reconstruct_persistent_obj`` -> `PersistentObject`, which records the source string (never
  executed) and the state;
* ``dnnlib.util.EasyDict`` -> a plain dict subclass; ``collections.OrderedDict``, ``builtins.set``;
* tensors: ``torch.storage._load_from_bytes`` (storage bytes, a legacy ``torch.save`` of one
  storage) is read with ``torch.load(weights_only=True)``; ``torch._utils._rebuild_tensor_v2`` /
  ``_rebuild_parameter`` rebuild through ``torch._utils._rebuild_tensor`` after a bounds check and
  return numpy arrays (hooks and requires_grad are dropped);
* numpy scalars, dtypes and arrays (``weight_gain`` attributes, StyleGAN3 sizes) -> numpy's own
  data constructors, object dtypes refused.

Every other global raises `RefusedGlobal` naming it (``module.name``) before anything runs. torch
is imported only when a tensor is rebuilt (the converter script is the only caller).
"""

from __future__ import annotations

import collections
import io
import pickle
import warnings
from typing import Any

import numpy as np

try:  # numpy >= 2 pickles as numpy._core; released files (numpy 1.x) say numpy.core
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray

EXPECTED = "an NVlabs network pickle (stylegan2-ada-pytorch .pkl with G_ema)"
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


class NvlabsPickleError(ValueError):
    """The file is not a readable NVlabs network pickle (the message names the file)."""


class RefusedGlobal(NvlabsPickleError, pickle.UnpicklingError):
    """The pickle references a global outside `ALLOWED`."""


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict (no attribute access)."""


class PersistentObject:
    """Stand-in for an NVlabs persistent object: the pickled ``meta``, nothing executed.

    Attributes:
      class_name: name of the class in the pickled module (``"Generator"``, ...).
      module_src: the pickled module source, recorded and never executed.
      version: ``torch_utils.persistence`` format version (6 in all releases).
      state: the object's ``__dict__`` (``_parameters``, ``_buffers``, ``_modules``, ...).
    """

    def __init__(self, meta: dict):
        self.class_name, self.module_src = meta["class_name"], meta["module_src"]
        self.version, self.state = meta.get("version"), dict(meta["state"])

    def __repr__(self) -> str:
        return f"PersistentObject({self.class_name!r})"

    def init_kwargs(self) -> dict:
        """``init_kwargs`` as plain dicts/lists/Python scalars (numpy scalars converted)."""
        if self.state.get("_init_args"):
            raise NvlabsPickleError(f"{self.class_name} was built with positional arguments; "
                                    "only keyword arguments (as in NVlabs training) are read")
        return _plain(self.state.get("_init_kwargs", {}))

    def state_dict(self, prefix: str = "") -> dict[str, np.ndarray]:
        """What ``module.state_dict()`` would give: dotted names -> numpy arrays.

        Parameters, then persistent buffers, then submodules recursively; ``None`` entries and
        names in ``_non_persistent_buffers_set`` are left out, as torch does.
        """
        s, where = self.state, f"{self.class_name} at {prefix[:-1] or '<root>'!r}"
        if not all(isinstance(s.get(k), dict) for k in ("_parameters", "_buffers", "_modules")):
            raise NvlabsPickleError(f"{where}: no _parameters/_buffers/_modules dicts; "
                                    "not the state of a torch.nn.Module")
        skip = set(s.get("_non_persistent_buffers_set") or ())
        out = {}
        for kind in ("_parameters", "_buffers"):
            for name, value in s[kind].items():
                if value is not None and not (kind == "_buffers" and name in skip):
                    if not isinstance(value, np.ndarray):
                        raise NvlabsPickleError(f"{where}: {kind}[{name!r}] is not a tensor")
                    out[prefix + name] = value
        for name, module in s["_modules"].items():
            if module is None:
                continue
            if not isinstance(module, PersistentObject):
                raise NvlabsPickleError(f"{where}: submodule {name!r} is {type(module).__name__}")
            out.update(module.state_dict(f"{prefix}{name}."))
        return out


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x.item() if isinstance(x, np.generic) else x


def _reconstruct_persistent_obj(meta: Any) -> PersistentObject:
    """Stand-in for ``torch_utils.persistence._reconstruct_persistent_obj``: records ``meta``."""
    ok = (isinstance(meta, dict) and meta.get("type") == "class"
          and isinstance(meta.get("class_name"), str) and isinstance(meta.get("module_src"), str)
          and isinstance(meta.get("state"), dict))
    if not ok:
        raise NvlabsPickleError("persistent object meta is not dict(type='class', class_name, "
                                "module_src, state)")
    return PersistentObject(meta)


def _load_storage(data: bytes):
    """Stand-in for ``torch.storage._load_from_bytes``: ``torch.load(weights_only=True)``."""
    import torch

    if not isinstance(data, bytes):
        raise NvlabsPickleError("tensor storage is not bytes")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "TypedStorage is deprecated")
        storage = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if not isinstance(storage, torch.storage.TypedStorage):
        raise NvlabsPickleError(f"tensor storage holds {type(storage).__name__}, not a storage")
    return storage


def _rebuild_tensor(storage, offset, size, stride, *_unused) -> np.ndarray:
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: the tensor as a numpy array.

    Refuses views outside the storage (torch would grow the storage and read uninitialised
    memory). requires_grad, hooks and metadata (``*_unused``) are dropped.
    """
    import torch

    if not isinstance(storage, torch.storage.TypedStorage):
        raise NvlabsPickleError(f"tensor rebuilt from {type(storage).__name__}, not a storage")
    size, stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "TypedStorage is deprecated")
        numel = storage.size()
        if (offset < 0 or min(stride, default=0) < 0 or len(size) != len(stride)
                or (min(size, default=1) > 0 and last >= numel)):
            raise NvlabsPickleError(f"tensor view (offset {offset}, size {size}, stride "
                                    f"{stride}) exceeds its storage of {numel} elements")
        t = torch._utils._rebuild_tensor(storage, offset, size, stride)
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy().copy()


def _rebuild_parameter(data, *_unused) -> np.ndarray:
    """Stand-in for ``torch._utils._rebuild_parameter(_with_state)``: the data array."""
    if not isinstance(data, np.ndarray):
        raise NvlabsPickleError(f"parameter data is {type(data).__name__}, not a tensor")
    return data


def _numpy_scalar(dtype, data=None):
    """``numpy.core.multiarray.scalar`` for non-object dtypes."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise NvlabsPickleError(f"numpy scalar of dtype {dtype!r} is not plain data")
    return _multiarray.scalar(dtype, data)


def _numpy_reconstruct(subtype, shape, typecode):
    """``numpy.core.multiarray._reconstruct`` for plain ``numpy.ndarray`` only."""
    if subtype is not np.ndarray:
        raise NvlabsPickleError(f"numpy array subtype {subtype!r} is not numpy.ndarray")
    return _multiarray._reconstruct(subtype, shape, typecode)


ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): np.ndarray,
    **{(m, "scalar"): _numpy_scalar for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "_reconstruct"): _numpy_reconstruct
       for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        hint = (" (a TF-era pickle: convert it to a PyTorch pickle first with "
                "stylegan2-ada-pytorch's `python legacy.py --source=IN.pkl --dest=OUT.pkl`)"
                if module.startswith("dnnlib.tflib") else "")
        raise RefusedGlobal(f"refusing global {module}.{name}: not one of the "
                            f"{len(ALLOWED)} names an NVlabs network pickle needs{hint}")

    def persistent_load(self, pid):
        raise NvlabsPickleError("persistent ids do not occur in NVlabs network pickles")


def file_kind(path: str) -> str:
    """``"zip"`` (torch.save), ``"torch_legacy"`` (old torch.save) or ``"pickle"``.

    Raises:
      NvlabsPickleError: the file is empty.
    """
    with open(path, "rb") as f:
        head = f.read(len(_TORCH_LEGACY_MAGIC))
    if not head:
        raise NvlabsPickleError(f"{path}: empty file; expected {EXPECTED} or a torch checkpoint")
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    return "torch_legacy" if head == _TORCH_LEGACY_MAGIC else "pickle"


def load_network_pickle(path: str) -> dict[str, Any]:
    """Unpickles ``path`` with only `ALLOWED` globals; returns the top-level dict.

    Raises:
      RefusedGlobal: a global outside `ALLOWED` (nothing from the file has run).
      NvlabsPickleError: empty, truncated or non-pickle file, or not a dict with ``G_ema``.
    """
    if file_kind(path) != "pickle":
        raise NvlabsPickleError(f"{path}: a torch.save checkpoint, not {EXPECTED}")
    try:
        with open(path, "rb") as f:
            data = _Unpickler(f).load()
    except NvlabsPickleError as err:
        raise type(err)(f"{path}: {err}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, IndexError, KeyError, TypeError,
            AttributeError, UnicodeDecodeError, OverflowError, MemoryError, RuntimeError) as err:
        raise NvlabsPickleError(f"{path}: not a readable pickle ({type(err).__name__}: "
                                f"{str(err).splitlines()[0] if str(err) else ''}); "
                                f"expected {EXPECTED}") from None
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), PersistentObject):
        got = sorted(map(str, data))[:10] if isinstance(data, dict) else type(data).__name__
        raise NvlabsPickleError(f"{path}: no persistent 'G_ema' network (got {got}); "
                                f"expected {EXPECTED}")
    return data


def network(data: dict[str, Any], name: str, path: str) -> PersistentObject:
    """``data[name]`` (``"G_ema"``, ``"D"``) as a `PersistentObject`, or a clear error."""
    net = data.get(name)
    if not isinstance(net, PersistentObject):
        raise NvlabsPickleError(f"{path}: no persistent {name!r} network (keys: {sorted(data)})")
    return net
