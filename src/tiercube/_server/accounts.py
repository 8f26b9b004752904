"""The users of a server: names, roles and password hashes, and the checks remembered for them.

Every change goes through ``Accounts``, which keeps the one rule that
matters: a password that no longer is a user's is never accepted again. A
remembered check is tied to the hash it was verified against, so a changed
password or a deleted user voids it here, even one made by a check that was
in flight during the change.

Users the config declares are set from it at every start: their run-time
changes last until the server stops and are not recorded in the journal, so
the config stays the truth for the users it names (and a user taken out of
the config is gone, even from a data directory).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from tiercube._config import UserConfig
from tiercube._server.engine.journal import NO_JOURNAL, Journal, Record, UserDeleted, UserSet
from tiercube._server.engine.layout import check_name
from tiercube._server.passwords import hash_password
from tiercube._wire.messages import CreateUser, UpdateUser, User
from tiercube.errors import ConflictError, InvalidRequestError, NotFoundError

_REMEMBERED = 10_000


# The serial of every user the config declares: the config names the same user at every start.
CONFIGURED = "config"


@dataclass(frozen=True)
class Account:
    name: str
    roles: tuple[str, ...]
    password_hash: str
    # Random per user created: a user deleted and created again is another user, whose tokens were not issued to it.
    serial: str = CONFIGURED

    @property
    def user(self) -> User:
        return User(self.name, list(self.roles))

    @property
    def record(self) -> UserSet:
        return UserSet(self.name, list(self.roles), self.password_hash, self.serial)


class Accounts:
    """Users by name; replaced, never edited in place, so a reader always sees a whole account."""

    def __init__(self, users: Iterable[UserConfig], journal: Journal = NO_JOURNAL) -> None:
        self._accounts = {
            u.name: Account(u.name, tuple(u.roles), u.password_hash or hash_password(u.password or secrets.token_hex()))
            for u in users
        }
        self._configured = frozenset(self._accounts)
        self._journal = journal
        # sha256 of a verified credential -> (user name, the hash it was verified against).
        self._verified: dict[bytes, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def get(self, name: str | None) -> Account | None:
        return self._accounts.get(name) if name is not None else None

    def users(self) -> list[User]:
        return [account.user for account in self._accounts.values()]

    def current(self, name: str, password_hash: str | None) -> Account | None:
        """``name``'s account if its password is still the one whose hash was seen; else None."""
        account = self._accounts.get(name)
        return account if account is not None and account.password_hash == password_hash else None

    def create(self, request: CreateUser) -> User:
        check_name("user", request.name)
        if ":" in request.name:
            raise InvalidRequestError("a user name cannot contain ':' (HTTP Basic could not carry it)")
        account = Account(request.name, tuple(request.roles), hash_password(request.password), secrets.token_hex(8))
        with self._lock:
            if request.name in self._accounts:
                raise ConflictError(f"a user named {request.name!r} already exists")
            with self._recording(request.name, account.record):
                self._accounts[request.name] = account
        return account.user

    def update(self, name: str, request: UpdateUser) -> User:
        # Hashing takes a while: done before the lock, and the account replaced whole under it.
        password_hash = hash_password(request.password) if request.password is not None else None
        with self._lock:
            account = self._existing(name)
            account = Account(
                name,
                tuple(request.roles) if request.roles is not None else account.roles,
                password_hash if password_hash is not None else account.password_hash,
                account.serial,
            )
            with self._recording(name, account.record):
                self._accounts[name] = account
                if password_hash is not None:
                    self._forget_checks_of(name)
        return account.user

    def delete(self, name: str) -> None:
        with self._lock:
            self._existing(name)
            with self._recording(name, UserDeleted(name)):
                del self._accounts[name]
                self._forget_checks_of(name)

    def _recording(self, name: str, record: Record) -> AbstractContextManager[None]:
        """The journal's block for a change of user ``name``; none for a user of the config."""
        return nullcontext() if name in self._configured else self._journal.committing(record)

    def recorded(self) -> list[UserSet]:
        """Every account the config does not declare, as the record that makes it again (a snapshot's users)."""
        return [account.record for account in self._accounts.values() if account.name not in self._configured]

    def replay(self, record: UserSet | UserDeleted) -> None:
        """Apply ``record`` again (a restart), unless the config now declares the user it names."""
        if record.name in self._configured:
            return
        match record:
            case UserSet(name, roles, password_hash, serial):
                self._accounts[name] = Account(name, tuple(roles), password_hash, serial)
            case UserDeleted(name):
                del self._accounts[name]

    def remember(self, credential: bytes, account: Account) -> None:
        """That ``credential`` (a digest) was verified as ``account``'s password, as it is now."""
        with self._lock:
            if len(self._verified) >= _REMEMBERED:
                self._verified.clear()
            self._verified[credential] = (account.name, account.password_hash)

    def recall(self, credential: bytes) -> Account | None:
        """The account ``credential`` was verified for, if that is still its password."""
        found = self._verified.get(credential)
        return self.current(*found) if found is not None else None

    def _existing(self, name: str) -> Account:
        try:
            return self._accounts[name]
        except KeyError:
            raise NotFoundError.of("user", name, self._accounts) from None

    def _forget_checks_of(self, name: str) -> None:
        self._verified = {digest: seen for digest, seen in self._verified.items() if seen[0] != name}
