"""Gradient-free population strategies of the search protocol (one module each)."""
