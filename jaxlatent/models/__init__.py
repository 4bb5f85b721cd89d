"""Flax ports and embedded models, reached by name through `registry.load_model`."""

from jaxlatent.models.registry import MODELS, Model, load_model

__all__ = ["MODELS", "Model", "load_model"]
