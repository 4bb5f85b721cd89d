"""jaxlatent.methods."""
