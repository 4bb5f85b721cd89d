"""HEVOL in the browser: a person picks images, the protocol's (μ/μ + λ) evolution follows."""
