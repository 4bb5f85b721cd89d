"""jaxlatent.data."""
