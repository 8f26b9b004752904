"""Server configuration: what ``Session.start(config=...)`` and ``tiercube serve --config`` take.

``Bootstrap`` is how an owner hands a config to the server child it starts.

Annotations here are not postponed (no ``from __future__ import annotations``):
these Structs are shown as ``tiercube.X`` (``_public``), and msgspec would look
for the names a postponed annotation holds in ``tiercube``'s namespace.
"""

import difflib
import ipaddress
import re
from pathlib import Path
from typing import Literal, Self, get_args, get_type_hints

import msgspec

from tiercube._public import public
from tiercube._wire.column_types import ColumnType
from tiercube._wire.messages import ArrowFileSource, CloudLocation, CsvSource, ParquetSource, Read, Source
from tiercube.errors import InvalidRequestError


@public
class UserConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A user who can authenticate with HTTP Basic.

    Give ``password_hash`` (from ``tiercube hash-password``) in files you keep;
    a plain ``password`` is accepted for tests and notebooks and is hashed as
    soon as the server reads it.
    """

    name: str
    roles: list[str] = msgspec.field(default_factory=lambda: ["ROLE_USER"])
    password: str | None = None
    password_hash: str | None = None


@public
class TlsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Serve HTTPS with this certificate; ``client_ca`` also accepts client certificates."""

    certificate: str
    key: str
    client_ca: str | None = None


@public
class CloudStore(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An S3 or S3-compatible store the server may read from; the only hosts cloud loads reach.

    Callers name it (``S3Location(uri, store="lake")``) or give its exact
    ``endpoint``. Without ``access_key``, the server uses its environment's
    AWS credentials for this store, or none when ``anonymous``; a caller may
    send its own keys, which are then used instead, for this store only.
    ``buckets`` limits the buckets callers may read.
    """

    name: str
    endpoint: str | None = None
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = None
    anonymous: bool = False
    buckets: list[str] | None = None


TableFormat = Literal["csv", "parquet", "arrow"]
ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://(\*\.)?[A-Za-z0-9.-]+(:([0-9]{1,5}|\*))?")
"""A web origin as a Content-Security-Policy source may name it: nothing that could end or extend the policy."""

_EXTENSIONS: dict[str, TableFormat] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow", ".feather": "arrow"}


@public
class TableConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A table the server reads when it starts (``[[tables]]`` in a config file).

    Its source is ``path``, an absolute path on the server, or ``location``, an
    object in one of ``cloud_stores`` (``{ uri = "s3://bucket/key", store = "lake" }``).
    The format follows the name's extension (.csv, .parquet or .pq, .arrow or
    .feather) unless ``format`` says. ``keys`` and ``data_types`` work as for
    ``session.read_csv``. With a ``data_dir`` the table is read only when the
    data directory does not hold a table of that name (its first start, or
    after the table was deleted); without one, at every start.
    """

    name: str
    path: str | None = None
    location: CloudLocation | None = None
    format: TableFormat | None = None
    keys: list[str] = []
    data_types: dict[str, ColumnType] = {}

    def __post_init__(self) -> None:
        if (self.path is None) == (self.location is None):
            raise InvalidRequestError(f"table {self.name!r} needs either path or location (an s3:// object in a cloud store), not both")
        if self.location is not None and self.format == "arrow":
            raise InvalidRequestError(f"table {self.name!r}: Arrow files are read from a path on the server, not from a cloud store")
        self._format()  # fail at start, naming the table, rather than at the first read

    def _format(self) -> TableFormat:
        if self.format is not None:
            return self.format
        name = self.path if self.path is not None else self.location.uri if self.location is not None else ""
        found = _EXTENSIONS.get(Path(name).suffix.lower())
        if found is None:
            raise InvalidRequestError(f"table {self.name!r}: cannot tell the format of {name!r} from its extension; add format = \"csv\", \"parquet\" or \"arrow\"")
        return found

    @property
    def request(self) -> Read:
        """The read that makes this table."""
        where = self.path if self.path is not None else self.location
        assert where is not None
        source: Source
        match self._format():
            case "csv":
                source = CsvSource(where)
            case "parquet":
                source = ParquetSource(where)
            case "arrow":
                assert isinstance(where, str)
                source = ArrowFileSource(where)
        return Read(table=self.name, source=source, keys=self.keys, data_types=self.data_types)


@public
class OidcConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An OpenID Connect provider whose access tokens (JWTs) authenticate API callers.

    The server reads ``{issuer}/.well-known/openid-configuration`` for the
    provider's keys (JWKS; fetched again when a token names a key it does not
    know, so keys can rotate) and accepts a bearer JWT only if its signature
    verifies with one of them, ``iss`` is ``issuer``, ``aud`` holds
    ``audience`` (default: ``client_id``), and it has not expired, give or take
    ``clock_skew`` seconds. The caller is the ``username_claim``; its roles are
    the ``roles_claim`` (a list, or a space-separated string), each mapped by
    ``role_mapping`` (a provider role -> tiercube roles; unmapped roles pass as
    they are). A token without the roles claim is refused. While the
    provider cannot be reached (fetches give up after 3 s), a token whose key
    the server does not hold yet is answered 503 with ``Retry-After``, naming
    the provider: the token may be valid, the server cannot check it now.

    The explorer offers "Sign in with ``name``" (default: the issuer): the
    authorization code flow with PKCE, ``scopes`` requested, the provider
    sending the browser back to ``redirect_uri`` (default: the server's own
    ``/explorer/sign-in`` as the browser reached it; set it behind a proxy),
    the code exchanged with ``client_secret`` when there is one. The ID
    token is checked as access tokens are, its audience being ``client_id``.
    """

    issuer: str
    client_id: str
    client_secret: str | None = None
    audience: str | None = None
    roles_claim: str = "roles"
    role_mapping: dict[str, list[str]] = {}
    username_claim: str = "sub"
    clock_skew: float = 30.0
    scopes: list[str] = msgspec.field(default_factory=lambda: ["openid"])
    redirect_uri: str | None = None
    name: str | None = None


@public
class SessionConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How a session server runs. Every field has a default, so ``SessionConfig()`` works.

    Security (condition a of the contract) is on as soon as users or client
    certificates are configured. ``advertised_version`` makes the server claim
    another tiercube version; it exists so tests can reach the NoSecurity tiers.

    Limits protect the server from callers, honest or not, with credentials
    or without: request bodies larger than ``max_request_bytes``
    are refused (413, from their ``Content-Length`` before any is read), as
    are request heads (request line and headers) over ``max_header_bytes``
    (431); a connection that has not sent a whole head within
    ``header_timeout`` seconds of opening or of its previous answer is
    closed, and a body must keep coming, with no pause that long and at
    least 64 KiB per ``header_timeout`` on average (else 408); past
    ``max_connections`` open connections, new ones are accepted up to
    ``reserved_connections`` more, but serve only callers who manage security
    (anyone else is answered 503), and past those they are answered 503 (the
    server raises its open-file limit to allow them all). One client address
    may hold ``max_connections_per_address`` connections (and as many reserved
    ones again; 429 past them); a user may have ``max_requests_per_user``
    requests under way, ``max_event_streams_per_user`` of them explorer event
    streams (429 past either); callers without credentials share
    ``anonymous_requests`` (503 past it) and each address of theirs
    ``max_event_streams_per_user`` streams. Behind a trusted proxy the address
    limit counts requests under way per forwarded address. Every such refusal
    carries ``Retry-After``; past
    ``max_failed_logins_per_minute`` failed password checks of one user from
    one address, that user's sign-ins from there are answered 429 for the rest
    of the minute (ten times as many failures of one user from anywhere, or
    from one address for any users, stop those too). The address is the
    connection's; ``X-Forwarded-For`` is believed only from the proxies listed
    in ``trusted_proxies`` (addresses or networks, e.g. ``"10.0.0.0/24"``).

    ``memory_limit`` bounds the server's memory (default: 80% of the
    machine's, or of the container's cgroup limit): a load or query that would
    need more than is free is refused before it starts
    (``ResourceExhaustedError``), rather than getting the process killed.

    With ``cluster`` (a Dask scheduler's address, and the ``tiercube[cluster]``
    extra installed), tables created or read with ``distributed=True`` live on
    the cluster's workers, partitioned by a hash of their keys; so does every
    table read with at least ``distribute_over_rows`` rows.

    With ``data_dir``, every change is kept in that directory (a write-ahead
    log, fsync'd before the change is acknowledged, and snapshots taken once
    the log has grown ``snapshot_every_bytes`` or ``snapshot_every_seconds``
    after a change, and at a clean stop) and is there again after a restart,
    a crash included; see the README's "What survives a stop". It cannot be
    combined with a cluster. ``tables`` are read at start (see ``TableConfig``).
    """

    users: list[UserConfig] = []
    tls: TlsConfig | None = None
    sdk_exposed: bool = True
    query_timeout: float = 30.0
    max_result_rows: int = 10_000_000
    advertised_version: str | None = None
    # Local loads (by callers that proved a shared file system) only under these directories; None: anywhere.
    allowed_load_roots: list[str] | None = None
    cloud_stores: list[CloudStore] = []
    max_request_bytes: int = 100 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    header_timeout: float = 10.0
    max_connections: int = 1000
    # Connections past max_connections, for callers who manage security only (each address has as many past its own).
    reserved_connections: int = 50
    # Connections one client address may hold open (behind a trusted proxy: requests it may have under way).
    max_connections_per_address: int = 200
    # Requests one user may have under way at once, event streams included (the owner has no limit).
    max_requests_per_user: int = 100
    # Explorer event streams one user (or, without credentials, one address) may hold open.
    max_event_streams_per_user: int = 20
    # Requests all callers without credentials together may have under way, event streams included.
    anonymous_requests: int = 50
    max_failed_logins_per_minute: int = 10
    # Proxies (addresses or networks) whose X-Forwarded-For names the client; [] believes none.
    trusted_proxies: list[str] = []
    # Memory for maintained aggregates (groupings of fact rows that repeated queries roll up).
    aggregate_memory_bytes: int = 256 * 1024 * 1024
    # The most memory the server uses, in bytes; None: 80% of the machine's, or of its cgroup's limit.
    memory_limit: int | None = None
    # A Dask scheduler ("tcp://host:8786") whose workers hold distributed tables; None: no cluster.
    cluster: str | None = None
    # With a cluster, every table read with at least this many rows (0: every new table) is distributed.
    distribute_over_rows: int | None = None
    # Where every change is kept, to be there again after a restart; None: in memory only.
    data_dir: str | None = None
    snapshot_every_bytes: int = 256 * 1024 * 1024
    snapshot_every_seconds: float = 300.0
    # Tables read at start (those the data directory does not hold already).
    tables: list[TableConfig] = []
    # An OpenID Connect provider whose access tokens authenticate API callers.
    oidc: OidcConfig | None = None
    # The only pages that may frame the explorer's embeddable page (origins, "https://lab.example.com");
    # []: the notebook page that a cube.explore() widget says it is on.
    embed_origins: list[str] = []

    def __post_init__(self) -> None:
        # A zero timeout or limit would refuse everyone: surely a mistake, so say so at startup.
        positive = ("max_request_bytes", "max_header_bytes", "header_timeout", "max_connections", "snapshot_every_bytes", "snapshot_every_seconds")
        shares = ("max_connections_per_address", "max_requests_per_user", "max_event_streams_per_user", "anonymous_requests")
        for field in (*positive, *shares, "memory_limit"):
            if getattr(self, field) is not None and not getattr(self, field) > 0:
                raise InvalidRequestError(f"{field} must be positive, not {getattr(self, field)!r}")
        if self.reserved_connections < 0:
            raise InvalidRequestError(f"reserved_connections must be 0 or more, not {self.reserved_connections!r}")
        for entry in self.trusted_proxies:  # a mistake is named at startup, not at the first sign-in
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise InvalidRequestError(
                    f"trusted_proxies: {entry!r} is not an IP address or network; give e.g. \"10.0.0.5\" or \"10.0.0.0/24\""
                ) from None
        for origin in self.embed_origins:  # each goes into a Content-Security-Policy header as it is
            if not ORIGIN.fullmatch(origin):
                raise InvalidRequestError(f"embed_origins: {origin!r} is not an origin; give e.g. \"https://lab.example.com\" or \"http://localhost:8888\"")

    def check_cluster(self) -> None:
        """``InvalidRequestError`` if ``distribute_over_rows`` is set without a cluster, or a data
        directory with one (checked at start, once ``Session.start(cluster=...)`` or ``serve --cluster``
        had their say)."""
        if self.distribute_over_rows is not None and self.cluster is None:
            raise InvalidRequestError("distribute_over_rows needs a cluster: give cluster='tcp://scheduler:8786' too")
        if self.data_dir is not None and self.cluster is not None:
            raise InvalidRequestError(
                "a data directory (data_dir) cannot be combined with a cluster (cluster): distributed tables live on "
                "the workers and are not kept in the data directory; give one of the two"
            )

    @property
    def security(self) -> bool:
        return bool(self.users) or (self.tls is not None and self.tls.client_ca is not None) or self.oidc is not None

    @classmethod
    def from_toml(cls, path: str | Path) -> Self:
        """Read a TOML file; a mistake raises ``InvalidRequestError`` naming the field."""
        try:
            return msgspec.toml.decode(Path(path).read_bytes(), type=cls)
        except OSError as error:
            raise InvalidRequestError(f"cannot read config {path}: {error.strerror}") from None
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            raise InvalidRequestError(f"config {path}: {error}{did_you_mean(cls, str(error))}") from None


_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`(?: - at `\$([^`]*)`)?")


def did_you_mean(config: type[msgspec.Struct], message: str) -> str:
    """``; did you mean 'query_timeout'?`` for msgspec's "unknown field `quey_timeout`", else "".

    ``forbid_unknown_fields`` turns a misspelt field into an error rather than a setting silently
    ignored; this names the field that was meant, looked up in the section the error points at
    (``$.tls``, ``$.users[0]``).
    """
    found = _UNKNOWN_FIELD.search(message)
    if found is None:
        return ""
    section: type[msgspec.Struct] | None = config
    for name in re.findall(r"\.(\w+)", found[2] or ""):
        hints = get_type_hints(section) if section is not None else {}
        section = next((a for a in _members(hints.get(name)) if isinstance(a, type) and issubclass(a, msgspec.Struct)), None)
    if section is None:
        return ""
    close = difflib.get_close_matches(found[1], section.__struct_fields__, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; its fields are {', '.join(section.__struct_fields__)}"


def _members(annotation: object) -> list[object]:
    """The types an annotation may hold: ``list[UserConfig]`` and ``TlsConfig | None`` -> the Struct among them."""
    arguments = get_args(annotation)
    return [annotation] if not arguments else [member for argument in arguments for member in _members(argument)]


class Bootstrap(msgspec.Struct, frozen=True):
    """The one line an owner writes on its server child's stdin before anything else."""

    config: SessionConfig
    owner_token: str
    # The config file it came from and the server's log, which no load may read.
    protected_files: list[str] = []
    # Where to listen: port 0 is any free port (a new one, and so a new link, at every start).
    host: str = "127.0.0.1"
    port: int = 0
