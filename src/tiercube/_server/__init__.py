"""The session server: a starlette application over an in-memory engine.

Only the server process imports this package; ``import tiercube`` never does.
"""
