"""jaxlatent.objectives."""
