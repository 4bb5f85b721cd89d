"""jaxlatent.training."""
