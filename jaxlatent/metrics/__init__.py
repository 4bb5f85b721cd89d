"""jaxlatent.metrics."""
