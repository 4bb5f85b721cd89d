"""Parameter pytrees on disk: flat `.npz` files with `/`-joined keys, loaded without pickle.

Every converted or embedded model in jaxlatent is stored this way (big_vision style): the file
holds one array per leaf, keyed by the leaf's path in the nested-dict pytree, e.g.
``"features_0/kernel"``. Loading uses ``allow_pickle=False``, so a file can never run code.

`check_params` compares a loaded tree against the tree a module expects and raises one clear
error that names every missing key, unexpected key, shape mismatch and dtype-kind mismatch
(e.g. int32 arrays where the module has float32 weights).
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from typing import Any, Mapping

import numpy as np

SEP = "/"


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    """Flattens a nested dict of arrays into ``{"a/b/c": array}``."""
    flat = {}
    for name, value in tree.items():
        key = f"{prefix}{SEP}{name}" if prefix else str(name)
        if isinstance(value, Mapping):
            flat.update(flatten(value, key))
        else:
            flat[key] = np.asarray(value)
    return flat


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of `flatten`."""
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        node = tree
        *parents, leaf = key.split(SEP)
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def save_params(path: str, params: Mapping[str, Any], **metadata: Any) -> None:
    """Writes a params pytree to ``path`` (.npz) atomically.

    Args:
      path: destination file; its folder is created.
      params: nested dict of arrays (e.g. a Flax ``variables`` dict).
      **metadata: small JSON-able values stored under ``__meta__/<name>`` as 0-d string arrays.
    """
    flat = flatten(params)
    for name, value in metadata.items():
        flat[f"__meta__{SEP}{name}"] = np.asarray(json.dumps(value))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, **flat)
    os.replace(tmp, path)


def load_params(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reads a params file written by `save_params`.

    Returns:
      ``(params, metadata)``: the nested dict of numpy arrays and the decoded metadata.

    Raises:
      FileNotFoundError: naming the missing file and how such files are made.
      ValueError: the file is not a readable ``.npz`` (truncated, not a zip, pickled objects)
        or its metadata is not JSON.
    """
    if not os.path.isfile(path):
        what = "is a directory, not a file" if os.path.isdir(path) else "not found"
        raise FileNotFoundError(
            f"params file {what}: {path!r}. Converted checkpoints are made by the scripts in "
            "weights_convert/ (see README, 'Bring your own checkpoints')."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            flat = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as err:
        raise ValueError(
            f"params file {path!r} is not a readable .npz file ({type(err).__name__}: {err}); "
            "it may be truncated or not written by jaxlatent.params.save_params: convert or copy "
            "it again"
        ) from None
    meta = {k[len("__meta__") + 1 :]: _meta_value(path, k, v) for k, v in flat.items()
            if k.startswith("__meta__" + SEP)}
    params = unflatten({k: v for k, v in flat.items() if not k.startswith("__meta__" + SEP)})
    return params, meta


def _meta_value(path: str, key: str, value: np.ndarray) -> Any:
    try:
        return json.loads(str(value))
    except json.JSONDecodeError:
        raise ValueError(
            f"params file {path!r}: metadata entry {key!r} is not JSON ({str(value)[:60]!r}); "
            "the file was not written by jaxlatent.params.save_params: convert it again"
        ) from None


def check_params(expected: Mapping[str, Any], got: Mapping[str, Any], what: str) -> None:
    """Raises ValueError unless ``got`` has exactly the keys and shapes of ``expected``.

    Args:
      expected: the pytree the module needs (arrays or ShapeDtypeStructs).
      got: the pytree that was loaded or converted.
      what: a name for the error message, e.g. ``"vgg16 checkpoint 'vgg.npz'"``.
    """
    compare_shapes(_shapes(expected), _shapes(got), what)
    want, have = _kinds(expected), _kinds(got)
    wrong = sorted(k for k in want if k in have and want[k] != have[k])
    if wrong:
        lines = [f"{what} does not match the model:"]
        for k in wrong[:20]:
            lines.append(f"  dtype mismatch at {k}: expected {want[k]}, got {have[k]}")
        raise ValueError("\n".join(lines))


def check_state_dict_keys(
    expected: Mapping[str, tuple[int, ...]], state: Mapping[str, Any], what: str
) -> None:
    """Checks an official (PyTorch-layout) flat state dict before conversion.

    Args:
      expected: ``{torch_key: shape}`` the converter consumes.
      state: ``{torch_key: array}`` read from the official file.
      what: a name for the error message.
    """
    compare_shapes(
        {k: tuple(v) for k, v in expected.items()},
        {k: tuple(np.shape(v)) for k, v in state.items()},
        what,
    )


def compare_shapes(
    want: Mapping[str, tuple[int, ...]], have: Mapping[str, tuple[int, ...]], what: str
) -> None:
    """Raises one ValueError listing missing keys, unexpected keys and shape mismatches."""
    missing = sorted(set(want) - set(have))
    unexpected = sorted(set(have) - set(want))
    wrong = sorted(k for k in set(want) & set(have) if tuple(want[k]) != tuple(have[k]))
    if missing or unexpected or wrong:
        lines = [f"{what} does not match the model:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {_short(missing)}")
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {_short(unexpected)}")
        for k in wrong[:20]:
            lines.append(f"  shape mismatch at {k}: expected {want[k]}, got {have[k]}")
        raise ValueError("\n".join(lines))


def _shapes(tree: Mapping[str, Any], prefix: str = "") -> dict[str, tuple[int, ...]]:
    """``{"a/b": shape}`` for arrays or ShapeDtypeStructs, without converting leaves."""
    out = {}
    for name, value in tree.items():
        key = f"{prefix}{SEP}{name}" if prefix else str(name)
        if isinstance(value, Mapping):
            out.update(_shapes(value, key))
        else:
            out[key] = tuple(getattr(value, "shape", np.shape(value)))
    return out


def _kinds(tree: Mapping[str, Any]) -> dict[str, str]:
    """``{"a/b": "floating" | "integer" | "bool" | ...}`` of the leaves that have a dtype."""
    kinds = {"f": "floating", "i": "integer", "u": "integer", "b": "bool", "c": "complex"}
    out = {}
    for key, value in _leaves(tree):
        dtype = getattr(value, "dtype", None)
        if dtype is not None:
            out[key] = kinds.get(np.dtype(dtype).kind, str(np.dtype(dtype)))
    return out


def _leaves(tree: Mapping[str, Any], prefix: str = ""):
    for name, value in tree.items():
        key = f"{prefix}{SEP}{name}" if prefix else str(name)
        if isinstance(value, Mapping):
            yield from _leaves(value, key)
        else:
            yield key, value


def check_torch_file(path: str, what: str = "checkpoint") -> None:
    """Checks that ``path`` can be a ``torch.save`` file before a converter reads it.

    Raises:
      FileNotFoundError: missing, or a directory.
      ValueError: empty, truncated zip, or neither a zip archive nor a pickle (e.g. a text file).
    """
    if not os.path.isfile(path):
        state = "is a directory" if os.path.isdir(path) else "does not exist"
        raise FileNotFoundError(f"{what} {path!r} {state}; expected a file written by torch.save")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise ValueError(f"{what} {path!r} is empty (0 bytes); download or copy it again")
    if head.startswith(b"PK") and not zipfile.is_zipfile(path):
        raise ValueError(f"{what} {path!r} is a truncated zip archive; download or copy it again")
    if not head.startswith(b"PK") and head[:1] != b"\x80":
        raise ValueError(
            f"{what} {path!r} is not a PyTorch checkpoint (it starts with {head!r}); expected a "
            "file written by torch.save (a zip archive or a pickle)"
        )


def _short(keys: list[str], limit: int = 12) -> str:
    text = ", ".join(keys[:limit])
    return text + (f", ... (+{len(keys) - limit})" if len(keys) > limit else "")
