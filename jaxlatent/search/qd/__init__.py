"""CMA-MAEGA quality-diversity search (pyribs-compatible) in JAX."""
