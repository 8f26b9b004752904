"""Endpoints, one module per capability group of the contract."""
