"""jaxlatent.search."""
