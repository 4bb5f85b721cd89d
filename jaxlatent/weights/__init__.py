"""Shipped weights of the embedded shapes models (see README, "Embedded models")."""
