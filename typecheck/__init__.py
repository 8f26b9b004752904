"""Type-level tests of the public API; each check_*.py also runs under pytest."""
