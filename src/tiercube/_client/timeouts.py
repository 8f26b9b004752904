"""How long the client waits for a server: one place for the numbers, importable without httpx."""

from __future__ import annotations

DEFAULT_TIMEOUT = 300.0
"""Seconds a call waits for the server's answer unless ``connect(timeout=)`` says otherwise.

Long enough for a load of several gigabytes or a query at the server's own
``query_timeout``; short enough that a stopped server fails calls instead of
hanging them forever.
"""

CONNECT_TIMEOUT = 10.0
"""Seconds to open a connection (a frozen server still accepts them: its kernel does)."""

HEALTH_TIMEOUT = 5.0
"""Seconds ``session.health()`` waits by default: a live server answers it in about a millisecond."""
