"""Helpers shared by the converter scripts (the only place, with them, that imports torch)."""

import hashlib


def load_state_dict(path):
    """Reads a torch state dict (plain or wrapped in ``{"state_dict": ...}``) as float32 numpy
    arrays, with ``weights_only=True`` (no code execution)."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return {k: v.detach().cpu().float().numpy() for k, v in state.items()
            if hasattr(v, "detach")}


def sha256(path):
    """SHA-256 of a file, stored in the converted file's metadata."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
