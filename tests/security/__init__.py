"""Attacks on every surface, one module per class of hole (docs/security.md)."""
