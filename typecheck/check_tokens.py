"""Tokens: ``create_token`` keeps the tier in the type, ``TokenAuthentication`` carries it, and
``connect()``'s overloads never give a wider class than the token's tier, with or without ``require=``.

Positive cases are ``assert_type``; negative cases sit under
``TYPE_CHECKING_INVALID_USAGE`` with one ignore per checker, and every checker
fails on an ignore it does not need. The functions also run under pytest
against a real server (an admin's tokens of every tier, on the server's own
host, reach every tier), so the static types are held to the runtime classes.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, assert_type

import pytest

import tiercube
from tests.conftest import ADMIN, SECURED
from tiercube import (
    AnySession,
    LocalSession,
    MinimalSession,
    NoSecurityLocalSession,
    NoSecuritySession,
    ReadOnlySession,
    RemoteSession,
    Token,
    TokenAuthentication,
)
from tiercube.capabilities import SupportsReadModel

TYPE_CHECKING_INVALID_USAGE = TYPE_CHECKING


def issue_every_tier(security: tiercube.Security) -> list[str]:
    """``create_token`` returns a ``Token`` of the tier class it was given."""
    minimal = security.create_token(ADMIN.username, tier=MinimalSession)
    assert_type(minimal, Token[MinimalSession])
    read_only = security.create_token(ADMIN.username, tier=ReadOnlySession, cubes=["sales"])
    assert_type(read_only, Token[ReadOnlySession])
    remote = security.create_token(ADMIN.username, tier=RemoteSession, expires_in=60)
    assert_type(remote, Token[RemoteSession])
    if TYPE_CHECKING_INVALID_USAGE:
        # Only a tier class is a token's tier.
        security.create_token(ADMIN.username, tier=str)  # type: ignore[type-var]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-specialization]  # ty: ignore[invalid-argument-type]
    return [t.tier.__name__ for t in (minimal, read_only, remote)]


def connect_with_tokens(url: str, security: tiercube.Security) -> list[str]:
    """Without ``require=``: the token's tier and every narrower one, never a wider one."""
    granted: list[str] = []
    with tiercube.connect(url, authentication=TokenAuthentication(security.create_token(ADMIN.username, tier=MinimalSession))) as minimal:
        assert_type(minimal, MinimalSession)
        granted.append(type(minimal).__name__)
    with tiercube.connect(url, authentication=TokenAuthentication(security.create_token(ADMIN.username, tier=ReadOnlySession))) as read_only:
        assert_type(read_only, ReadOnlySession | MinimalSession)
        granted.append(type(read_only).__name__)
        if TYPE_CHECKING_INVALID_USAGE:
            read_only.create_table  # type: ignore[union-attr]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
    token = security.create_token(ADMIN.username, tier=NoSecuritySession)
    with tiercube.connect(url, authentication=TokenAuthentication(token)) as no_security:
        assert_type(no_security, NoSecuritySession | ReadOnlySession | MinimalSession)
        granted.append(type(no_security).__name__)
    token_nsl = security.create_token(ADMIN.username, tier=NoSecurityLocalSession)
    with tiercube.connect(url, authentication=TokenAuthentication(token_nsl)) as no_security_local:
        assert_type(no_security_local, NoSecurityLocalSession | NoSecuritySession | ReadOnlySession | MinimalSession)
        granted.append(type(no_security_local).__name__)
    with tiercube.connect(url, authentication=TokenAuthentication(security.create_token(ADMIN.username, tier=RemoteSession))) as remote:
        assert_type(remote, RemoteSession | NoSecuritySession | ReadOnlySession | MinimalSession)
        granted.append(type(remote).__name__)
    with tiercube.connect(url, authentication=TokenAuthentication(security.create_token(ADMIN.username, tier=LocalSession))) as local:
        assert_type(local, AnySession)
        granted.append(type(local).__name__)
    return granted


def connect_with_a_token_text(url: str, text: str) -> list[str]:
    """The text alone: any tier a token can give, unless the caller says which it expects."""
    granted: list[str] = []
    unknown = TokenAuthentication(text)
    assert_type(unknown, TokenAuthentication[LocalSession])
    with tiercube.connect(url, authentication=unknown) as any_tier:
        assert_type(any_tier, AnySession)
        granted.append(type(any_tier).__name__)
    said = TokenAuthentication(text, tier=ReadOnlySession)
    assert_type(said, TokenAuthentication[ReadOnlySession])
    with tiercube.connect(url, authentication=said) as read_only:
        assert_type(read_only, ReadOnlySession | MinimalSession)
        granted.append(type(read_only).__name__)
    return granted


def require_with_tokens(url: str, security: tiercube.Security) -> None:
    """``require=`` the token's tier or a narrower one: exactly that class; a wider one does not type-check."""
    read_only = TokenAuthentication(security.create_token(ADMIN.username, tier=ReadOnlySession))
    with tiercube.connect(url, authentication=read_only, require=ReadOnlySession) as exact:
        assert_type(exact, ReadOnlySession)
    with tiercube.connect(url, authentication=read_only, require=MinimalSession) as narrower:
        assert_type(narrower, MinimalSession)
    remote = TokenAuthentication(security.create_token(ADMIN.username, tier=RemoteSession))
    with tiercube.connect(url, authentication=remote, require=NoSecuritySession) as no_security:
        assert_type(no_security, NoSecuritySession)
    with tiercube.connect(url, authentication=read_only, require=tiercube.capabilities.READ_MODEL) as reader:
        assert_type(reader, SupportsReadModel)
    if TYPE_CHECKING_INVALID_USAGE:
        # A read-only token cannot be asked for an editing tier: no overload matches.
        tiercube.connect(url, authentication=read_only, require=RemoteSession)  # type: ignore[arg-type]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]
        tiercube.connect(url, authentication=remote, require=LocalSession)  # type: ignore[arg-type]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]
        # A token is not an Authenticate callable: the overloads that give any tier never take it.
        read_only("http://example")  # type: ignore[operator]  # pyright: ignore[reportCallIssue]  # pyrefly: ignore[not-callable]  # ty: ignore[not-callable]


@pytest.fixture(scope="module")
def owner() -> Generator[tiercube.Session]:
    with tiercube.Session.start(SECURED) as session:
        session.create_table("sales", data_types={"id": "int64", "qty": "int64"}, keys=["id"]).append((1, 2))
        session.create_cube("sales")
        yield session


def test_tokens_keep_their_tier_in_the_type(owner: tiercube.Session) -> None:
    assert issue_every_tier(owner.security) == ["MinimalSession", "ReadOnlySession", "RemoteSession"]


def test_a_token_gives_its_tier_on_the_servers_host(owner: tiercube.Session) -> None:
    """An admin's tokens, on the server's own host: each gives exactly its tier."""
    with tiercube.connect(owner.url, authentication=ADMIN, require=LocalSession) as admin:
        assert connect_with_tokens(owner.url, admin.security) == [
            "MinimalSession", "ReadOnlySession", "NoSecuritySession", "NoSecurityLocalSession", "RemoteSession", "LocalSession",
        ]  # fmt: skip


def test_a_token_text_is_capped_by_the_tier_said(owner: tiercube.Session) -> None:
    text = str(owner.security.create_token(ADMIN.username, tier=RemoteSession))
    assert connect_with_a_token_text(owner.url, text) == ["RemoteSession", "ReadOnlySession"]


def test_require_with_a_token(owner: tiercube.Session) -> None:
    require_with_tokens(owner.url, owner.security)
    wider = TokenAuthentication(owner.security.create_token(ADMIN.username, tier=ReadOnlySession))
    with pytest.raises(tiercube.CapabilityError, match="the token connected with grants at most ReadOnlySession"):
        tiercube.connect(owner.url, authentication=wider, require=RemoteSession)  # type: ignore[arg-type]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]
