"""jaxlatent: steer pretrained image generators by searching their inputs, in JAX/Flax."""

__version__ = "0.1.0"
