"""connect(): its overloads, ``require=``, and narrowing the union it returns.

Positive cases are ``assert_type``; negative cases sit under
``TYPE_CHECKING_INVALID_USAGE`` with one ignore per checker, and every checker
fails on an ignore it does not need. The functions also run under pytest
against real servers, so none of this is dead code.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never, assert_type

import pytest

import tiercube
from tests.conftest import ADMIN, USER
from tests.tiers import Server, Tiers, start_not_tiercube, start_server
from tiercube import (
    AnySession,
    LocalSession,
    MinimalSession,
    NoSecurityLocalSession,
    NoSecuritySession,
    ReadOnlySession,
    RemoteSession,
)
from tiercube.capabilities import (
    SHARED_FILE_LOADING,
    SupportsCloudLoading,
    SupportsEditing,
    SupportsFileLoading,
    SupportsLifecycle,
    SupportsQuery,
    SupportsReadModel,
    SupportsSecurity,
)

TYPE_CHECKING_INVALID_USAGE = TYPE_CHECKING

Authentication = tiercube.BasicAuthentication


def connect_anonymously(url: str) -> str:
    """Without credentials or a certificate, only the two lowest tiers are possible."""
    with tiercube.connect(url) as session:
        assert_type(session, ReadOnlySession | MinimalSession)
        return type(session).__name__


def connect_with_credentials(url: str, authentication: Authentication) -> str:
    with tiercube.connect(url, authentication=authentication) as session:
        assert_type(session, AnySession)
        assert_type(
            session,
            LocalSession | RemoteSession | NoSecurityLocalSession | NoSecuritySession | ReadOnlySession | MinimalSession,
        )
        return type(session).__name__


def other_credentials(url: str, token: str, certificate: Path) -> None:
    """Any ``Authenticate`` callable, or a client certificate, counts as credentials."""
    if TYPE_CHECKING:  # type-checked only: there is no server with certificates here
        assert_type(tiercube.connect(url, authentication=lambda _: {"Authorization": f"Bearer {token}"}), AnySession)
        assert_type(tiercube.connect(url, authentication=tiercube.ClientCertificate(certificate)), AnySession)
        assert_type(
            tiercube.connect(url, authentication=tiercube.ClientCertificate(certificate), require=RemoteSession),
            RemoteSession,
        )


def connect_with_optional_credentials(url: str, authentication: Authentication | None) -> str:
    """``Authentication | None`` may be either: the union of both overloads."""
    with tiercube.connect(url, authentication=authentication) as session:
        assert_type(session, AnySession)
        return type(session).__name__


def connect_requiring_a_tier(url: str, authentication: Authentication) -> None:
    with tiercube.connect(url, authentication=authentication, require=LocalSession) as local:
        assert_type(local, LocalSession)
    with tiercube.connect(url, authentication=authentication, require=ReadOnlySession) as read_only:
        assert_type(read_only, ReadOnlySession)
    with tiercube.connect(url, authentication=authentication, require=MinimalSession) as minimal:
        assert_type(minimal, MinimalSession)


def connect_requiring_a_capability(url: str, authentication: Authentication) -> None:
    with tiercube.connect(url, authentication=authentication, require=SHARED_FILE_LOADING) as managed:
        assert_type(managed, SupportsFileLoading)
    loader = tiercube.connect(url, authentication=authentication, require=SHARED_FILE_LOADING)
    assert_type(loader, SupportsFileLoading)
    editor = tiercube.connect(url, authentication=authentication, require=tiercube.capabilities.EDITING)
    assert_type(editor, SupportsEditing)
    cloud = tiercube.connect(url, authentication=authentication, require=tiercube.capabilities.CLOUD_LOADING)
    assert_type(cloud, SupportsCloudLoading)
    # Every capability protocol includes query: a session required for security is closed like any other.
    with tiercube.connect(url, authentication=authentication, require=tiercube.capabilities.SECURITY) as security:
        assert_type(security, SupportsSecurity)
        assert_type(security.cubes, tiercube.Cubes[tiercube.QueryCube])
    reader = tiercube.connect(url, authentication=authentication, require=tiercube.capabilities.READ_MODEL)
    assert_type(reader, SupportsReadModel)
    querier = tiercube.connect(url, authentication=authentication, require=tiercube.capabilities.QUERY)
    assert_type(querier, SupportsQuery)
    for session in (loader, editor, cloud, reader, querier):
        session.close()

    if TYPE_CHECKING_INVALID_USAGE:
        # mypy refuses a Protocol class where a concrete class is expected; use the markers.
        tiercube.connect(url, authentication=authentication, require=SupportsFileLoading)  # type: ignore[type-var]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]
        # The owner's class cannot be reached by connecting.
        tiercube.connect(url, authentication=authentication, require=tiercube.Session)  # type: ignore[type-var]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]
        tiercube.connect(url, authentication=authentication, require=str)  # type: ignore[type-var]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]
        # Credentials are an Authenticate callable or a ClientCertificate, not a string.
        tiercube.connect(url, authentication="admin:admin-password")  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]
        # Anonymous sessions have no editing member, even on the wider tier of the union.
        tiercube.connect(url).create_table  # type: ignore[union-attr]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
        # Only ReadOnlySession and MinimalSession are granted without credentials: asking for more is refused.
        tiercube.connect(url, require=LocalSession)  # type: ignore[type-var]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]
        tiercube.connect(url, require=ReadOnlySession | RemoteSession)  # type: ignore[type-var]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]
    untyped: Any = tiercube.connect  # as code the checkers do not see would call it
    with pytest.raises(TypeError, match="require= takes a tier class .*, a union of them, or a marker"):
        untyped(url, authentication=authentication, require=tiercube.Session | LocalSession)


def connect_requiring_a_union_of_tiers(url: str, authentication: Authentication) -> str:
    """``require=`` a union: the strongest of its tiers the server grants, typed as the union."""
    with tiercube.connect(url, authentication=authentication, require=LocalSession | RemoteSession) as admin:
        assert_type(admin, LocalSession | RemoteSession)
        assert_type(admin.security, tiercube.Security)
        return type(admin).__name__


def connect_requiring_tiers_held_in_a_variable(url: str, authentication: Authentication, wanted: type[LocalSession] | type[RemoteSession]) -> str:
    """A variable holding either class: the union of both, in every checker (pyrefly once made it Never)."""
    with tiercube.connect(url, authentication=authentication, require=wanted) as admin:
        assert_type(admin, LocalSession | RemoteSession)
        return type(admin).__name__


def connect_anonymously_requiring_a_tier(url: str) -> str:
    """Without credentials, the tiers that need none may be required."""
    with tiercube.connect(url, require=ReadOnlySession) as read_only:
        assert_type(read_only, ReadOnlySession)
        return type(read_only).__name__


def connect_anonymously_requiring_a_union(url: str) -> str:
    with tiercube.connect(url, require=ReadOnlySession | MinimalSession) as anonymous:
        assert_type(anonymous, ReadOnlySession | MinimalSession)
        return type(anonymous).__name__


def connect_anonymously_requiring_a_capability(url: str) -> str:
    """Without credentials, QUERY and READ_MODEL may be required; the markers of credentialed tiers may not."""
    with tiercube.connect(url, require=tiercube.capabilities.READ_MODEL) as reader:
        assert_type(reader, SupportsReadModel)
    with tiercube.connect(url, authentication=None, require=tiercube.capabilities.QUERY) as querier:
        assert_type(querier, SupportsQuery)
    if TYPE_CHECKING_INVALID_USAGE:
        # An explicit None is no credentials: it is refused a credentialed tier as omitting it is.
        tiercube.connect(url, authentication=None, require=LocalSession)  # type: ignore[type-var]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]
        tiercube.connect(url, authentication=None, require=LocalSession | RemoteSession)  # type: ignore[type-var]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]
        # The capabilities only credentialed tiers have.
        tiercube.connect(url, require=tiercube.capabilities.EDITING)  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[invalid-type-form]
        tiercube.connect(url, authentication=None, require=tiercube.capabilities.SECURITY)  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[invalid-type-form]
    untyped: Any = tiercube.connect  # what the refused calls do: they always raise
    for refused in (LocalSession, tiercube.capabilities.EDITING, tiercube.capabilities.SHARED_FILE_LOADING):
        with pytest.raises(tiercube.CapabilityError, match="was required"):
            untyped(url, authentication=None, require=refused)
    return type(reader).__name__


def create_a_table_through_the_editing_capability(url: str, authentication: Authentication) -> None:
    """The protocol has every parameter of the implementation: ``distributed=`` was missing once."""
    with tiercube.connect(url, authentication=authentication, require=tiercube.capabilities.EDITING) as editor:
        with pytest.raises(tiercube.InvalidRequestError, match="no cluster"):  # this server has none
            editor.create_table("typecheck_distributed", data_types={"id": "int64"}, keys=["id"], distributed=True)
        held = editor.create_table("typecheck_held", data_types={"id": "int64"}, distributed=False)
        assert_type(held, tiercube.CloudTable)
        assert held.partitions is None
        del editor.tables[held.name]


def connect_through_the_session_class(url: str, open_url: str, authentication: Authentication) -> None:
    """``Session.connect`` is ``tiercube.connect`` with the same overloads, as in the reference system."""
    with tiercube.Session.connect(open_url) as anonymous:
        assert_type(anonymous, ReadOnlySession | MinimalSession)
    with tiercube.Session.connect(url, authentication=authentication) as granted:
        assert_type(granted, AnySession)
    with tiercube.Session.connect(url, authentication=authentication, require=LocalSession) as local:
        assert_type(local, LocalSession)
    loader = tiercube.Session.connect(url, authentication=authentication, require=SHARED_FILE_LOADING)
    assert_type(loader, SupportsFileLoading)
    loader.close()
    with tiercube.Session.connect(url, authentication=authentication, require=LocalSession | RemoteSession) as admin:
        assert_type(admin, LocalSession | RemoteSession)
    if TYPE_CHECKING_INVALID_USAGE:
        tiercube.Session.connect(url, authentication=authentication, require=str)  # type: ignore[type-var]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pyrefly: ignore[no-matching-overload]  # ty: ignore[no-matching-overload]
    # Last: ty narrows Session.connect by this ``is``, and then judges no call of it.
    assert tiercube.Session.connect is tiercube.connect
    assert type(tiercube.connect).__name__ == "function" and tiercube.connect.__name__ == "connect"


def connect_requiring_the_lifecycle(url: str, authentication: Authentication) -> None:
    """Only the owner has the lifecycle: this type-checks, and always raises ``CapabilityError``."""
    owner_like = tiercube.connect(url, authentication=authentication, require=tiercube.capabilities.LIFECYCLE)
    assert_type(owner_like, SupportsLifecycle)


def narrow_by_class(session: AnySession) -> str:
    """``isinstance`` with the concrete classes narrows the union one tier at a time."""
    if isinstance(session, LocalSession):
        assert_type(session, LocalSession)
        assert_type(session.tables["sales"], tiercube.LocalTable)
        return "local table"
    assert_type(session, RemoteSession | NoSecurityLocalSession | NoSecuritySession | ReadOnlySession | MinimalSession)
    if isinstance(session, RemoteSession | NoSecuritySession):
        assert_type(session, RemoteSession | NoSecuritySession)
        assert_type(session.tables["sales"], tiercube.CloudTable)
        return "cloud table"
    if isinstance(session, NoSecurityLocalSession):
        assert_type(session, NoSecurityLocalSession)
        assert_type(session.tables["sales"], tiercube.LocalTable)
        return "local table"
    if isinstance(session, ReadOnlySession):
        assert_type(session, ReadOnlySession)
        assert_type(session.tables["sales"], tiercube.ReadOnlyTable)
        return "read-only table"
    assert_type(session, MinimalSession)
    assert_type(session.cubes["sales"], tiercube.QueryCube)
    if TYPE_CHECKING_INVALID_USAGE:
        session.tables  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]
    return "no table"


def narrow_by_protocol(session: AnySession) -> list[str]:
    """``isinstance`` with the runtime-checkable protocols keeps the tiers that have the capability."""
    granted: list[str] = []
    if isinstance(session, SupportsFileLoading):
        assert_type(session, LocalSession | NoSecurityLocalSession)
        granted.append("shared files")
    if isinstance(session, SupportsCloudLoading):
        assert_type(session, LocalSession | RemoteSession | NoSecurityLocalSession | NoSecuritySession)
        granted.append("cloud")
    if isinstance(session, SupportsEditing):
        assert_type(session, LocalSession | RemoteSession | NoSecurityLocalSession | NoSecuritySession)
        granted.append("editing")
    if isinstance(session, SupportsSecurity):
        assert_type(session, LocalSession | RemoteSession)
        granted.append("security")
    if isinstance(session, SupportsReadModel):
        assert_type(
            session, LocalSession | RemoteSession | NoSecurityLocalSession | NoSecuritySession | ReadOnlySession
        )
        granted.append("read model")
    else:
        assert_type(session, MinimalSession)
    every_tier_queries: SupportsQuery = session
    if every_tier_queries.url:
        granted.append("query")
    return granted


def narrow_by_match(session: AnySession) -> str:
    """``match`` with class patterns; the @final classes make it exhaustive."""
    match session:
        case LocalSession():
            assert_type(session, LocalSession)
            return "local"
        case RemoteSession() | NoSecuritySession():
            assert_type(session, RemoteSession | NoSecuritySession)
            return "cloud only"
        case NoSecurityLocalSession():
            return "no security management"
        case ReadOnlySession():
            return "read only"
        case MinimalSession():
            return "query only"
        case _:
            assert_never(session)


def unreachable_with_final_classes(session: ReadOnlySession | MinimalSession) -> str:
    """The tiers are @final and unrelated: no object is both, so the branch is dead."""
    if isinstance(session, LocalSession):  # type: ignore[unreachable]  # pyright: ignore[reportUnnecessaryIsInstance]
        assert_never(session)
    if isinstance(session, SupportsEditing):  # type: ignore[unreachable]  # pyright: ignore[reportUnnecessaryIsInstance]
        assert_never(session)
    return type(session).__name__


# Runtime: the same functions against real servers.


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Generator[str]:
    """A tiercube server without security: everyone is read-only."""
    server = start_server(tmp_path_factory.mktemp("open"), config=None)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def not_tiercube(tmp_path_factory: pytest.TempPathFactory) -> Generator[Server]:
    server = start_not_tiercube(tmp_path_factory.mktemp("not-tiercube"))
    try:
        yield server
    finally:
        server.stop()


def test_overloads_return_what_they_say(tiers: Tiers, open_server: str, not_tiercube: Server) -> None:
    url = tiers.owner.url
    assert connect_anonymously(open_server) == "ReadOnlySession"
    assert connect_anonymously(not_tiercube.url) == "MinimalSession"
    assert connect_with_credentials(url, ADMIN) == "LocalSession"
    assert connect_with_credentials(url, USER) == "ReadOnlySession"
    assert connect_with_credentials(tiers.remote.url, ADMIN) == "RemoteSession"
    assert connect_with_optional_credentials(open_server, None) == "ReadOnlySession"
    assert connect_with_optional_credentials(url, ADMIN) == "LocalSession"
    connect_requiring_a_tier(url, ADMIN)
    connect_requiring_a_capability(url, ADMIN)
    connect_through_the_session_class(url, open_server, ADMIN)
    other_credentials(url, "token", Path("client.pem"))
    assert connect_requiring_a_union_of_tiers(url, ADMIN) == "LocalSession"
    assert connect_requiring_a_union_of_tiers(tiers.remote.url, ADMIN) == "RemoteSession"
    assert connect_requiring_tiers_held_in_a_variable(tiers.remote.url, ADMIN, RemoteSession) == "RemoteSession"
    assert connect_anonymously_requiring_a_tier(open_server) == "ReadOnlySession"
    assert connect_anonymously_requiring_a_union(open_server) == "ReadOnlySession"
    assert connect_anonymously_requiring_a_union(not_tiercube.url) == "MinimalSession"
    assert connect_anonymously_requiring_a_capability(open_server) == "ReadOnlySession"


def test_a_union_of_tiers_none_of_which_is_granted_raises(tiers: Tiers) -> None:
    with pytest.raises(tiercube.CapabilityError, match=r"LocalSession \| RemoteSession was required, but .* grants ReadOnlySession"):
        connect_requiring_a_union_of_tiers(url=tiers.owner.url, authentication=USER)


def test_the_editing_capability_takes_every_create_table_parameter(tiers: Tiers) -> None:
    create_a_table_through_the_editing_capability(tiers.owner.url, ADMIN)


def test_requiring_more_than_granted_raises(tiers: Tiers) -> None:
    with pytest.raises(tiercube.CapabilityError, match="(?s)SHARED_FILE_LOADING.*d: no "):
        connect_requiring_a_capability(tiers.remote.url, ADMIN)


def test_narrowing_follows_the_runtime_class(tiers: Tiers) -> None:
    sessions: list[AnySession] = [
        tiers.local, tiers.remote, tiers.no_security_local, tiers.no_security, tiers.read_only, tiers.minimal
    ]
    assert [narrow_by_class(s) for s in sessions] == [
        "local table", "cloud table", "local table", "cloud table", "read-only table", "no table"
    ]
    assert [narrow_by_match(s) for s in sessions] == [
        "local", "cloud only", "no security management", "cloud only", "read only", "query only"
    ]
    everything = ["cloud", "editing", "read model", "query"]
    assert [narrow_by_protocol(s) for s in sessions] == [
        ["shared files", *everything[:2], "security", *everything[2:]],
        [*everything[:2], "security", *everything[2:]],
        ["shared files", *everything],
        everything,
        ["read model", "query"],
        ["query"],
    ]
    assert unreachable_with_final_classes(tiers.read_only) == "ReadOnlySession"
    assert unreachable_with_final_classes(tiers.minimal) == "MinimalSession"


def test_no_connected_tier_has_the_lifecycle(tiers: Tiers) -> None:
    with pytest.raises(tiercube.CapabilityError, match="LIFECYCLE was required"):
        connect_requiring_the_lifecycle(tiers.owner.url, ADMIN)
    assert isinstance(tiers.owner, SupportsLifecycle)
    assert not any(isinstance(s, SupportsLifecycle) for s in tiers.all()[1:])
