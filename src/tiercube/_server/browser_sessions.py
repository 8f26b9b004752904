"""Browser sessions: who signed in to the explorer, held by the server, named by an unguessable token.

A browser keeps the token in an HttpOnly cookie; an embedded explorer (a
notebook widget), which browsers give no cookie inside another site's page,
keeps it in memory and sends it in a header. Because a cookie rides along on
requests that other sites' pages make, a cookie is accepted only with the
session's CSRF token in a header, which only the explorer's own page can read
(it comes from ``GET /explorer/grant``, which no other origin may read).

A session ends after ``IDLE`` seconds without use, when it signs out, and
when its user's password changes or the user is deleted: it remembers the
password hash it was opened with, as the authenticator's cache does.

A user holds at most ``PER_USER`` sessions: opening one more ends that
user's least recently used, never another user's (a ReadOnly user once opened
10,080 in 10 s and signed everyone else out). Past ``LIMIT`` sessions in all,
idle ones are ended first, then new ones refused.

A notebook widget's session (``cube.explore()``) is a token of one purpose:
its caller carries a scope (read and query that one cube, never more than
the opener's grant), it ends ``WIDGET_LIFETIME`` seconds after it was opened
whatever its use, and, opened with a token, it ends with that token.
"""

from __future__ import annotations

import collections
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from tiercube._wire.messages import Caller
from tiercube.errors import ServerUnavailableError

IDLE = 12 * 3600.0
# A widget's session lives this long at most: its token sits in a notebook's saved output.
WIDGET_LIFETIME = 3600.0
# Sessions in all, so that signing in cannot exhaust memory; past it, new ones are refused.
LIMIT = 10_000
# Sessions of one user; past it, that user's least recently used ends.
PER_USER = 100


@dataclass
class BrowserSession:
    token: str
    csrf: str
    caller: Caller
    # The password hash the user signed in with; None for the owner, who has no password.
    password_hash: str | None
    last_used: float
    # When it ends whatever its use (time.monotonic()); None: only when idle.
    ends: float | None = None
    # The token a widget's session was opened with: it ends when that token does.
    opened_with: str | None = None

    def csrf_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.csrf.encode())


class BrowserSessions:
    """The open sessions, at most ``per_user`` of one user and ``limit`` in all."""

    def __init__(self, idle: float = IDLE, limit: int = LIMIT, per_user: int = PER_USER) -> None:
        self.idle = idle
        self.limit = limit
        self.per_user = per_user
        self._sessions: collections.OrderedDict[str, BrowserSession] = collections.OrderedDict()
        # Each user's tokens, least recently used first.
        self._by_user: dict[str, collections.OrderedDict[str, None]] = {}
        self._lock = threading.Lock()

    def open(
        self, caller: Caller, password_hash: str | None, *, lifetime: float | None = None, opened_with: str | None = None
    ) -> BrowserSession:
        """A new session for ``caller``, ending ``lifetime`` seconds from now whatever its use (None: only when
        idle); ``ServerUnavailableError`` when the server holds ``limit`` that are in use."""
        now = time.monotonic()
        ends = now + lifetime if lifetime is not None else None
        session = BrowserSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), caller, password_hash, now, ends, opened_with)
        with self._lock:
            own = self._by_user.setdefault(caller.username, collections.OrderedDict())
            while len(own) >= self.per_user:
                self._remove(next(iter(own)))
            if len(self._sessions) >= self.limit:
                self._end_idle(session.last_used)
            if len(self._sessions) >= self.limit:
                raise ServerUnavailableError(
                    f"the server holds {self.limit:,} explorer sessions, the most it keeps; "
                    "sign out of explorers no longer used, or try again later"
                )
            self._sessions[session.token] = session
            self._by_user.setdefault(caller.username, collections.OrderedDict())[session.token] = None
        return session

    def find(self, token: str) -> BrowserSession | None:
        """The live session ``token`` names, its idle time restarted; None if there is none (any more)."""
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if now - session.last_used > self.idle or (session.ends is not None and now > session.ends):
                self._remove(token)
                return None
            session.last_used = now
            self._sessions.move_to_end(token)
            self._by_user[session.caller.username].move_to_end(token)
            return session

    def close(self, token: str) -> None:
        with self._lock:
            if token in self._sessions:
                self._remove(token)

    def _end_idle(self, now: float) -> None:
        """End the sessions idle for longer than ``idle``: they are the least recently used, first in order."""
        for token, session in list(self._sessions.items()):
            if now - session.last_used <= self.idle:
                return
            self._remove(token)

    def _remove(self, token: str) -> None:
        session = self._sessions.pop(token)
        own = self._by_user[session.caller.username]
        del own[token]
        if not own:
            del self._by_user[session.caller.username]
