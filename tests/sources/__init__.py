"""Per-source loader tests (shared checks live in tests/factories/sources.py)."""
