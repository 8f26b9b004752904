"""Every tier of ``connect()``, reached against real servers.

Shared by ``tests/test_tiers.py`` and the runtime half of ``typecheck/``:

- Local: the owner's secured server, admin credentials.
- Remote: ``tiercube serve`` in a private mount namespace (``unshare``) whose
  temporary directory is an empty tmpfs the caller cannot see, so the server's
  nonce file (condition d) is not readable here.
- NoSecurityLocal / NoSecurity: ``tiercube serve --advertise-version`` (another
  tiercube version, the same wire protocol), the latter also under ``unshare``.
- ReadOnly: a non-admin user of the owner's server (more ways in test_tiers).
- Minimal: a client of another wire protocol version (more ways in test_tiers).

Servers are started concurrently and bound to port 0, so modules running in
parallel (pytest-xdist) never share one.
"""

from __future__ import annotations

import functools
import io
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED, SECURED_TOML, USER
from tests.fake_s3 import shared_fake_s3
from tiercube._client import connection as _connection
from tiercube._client import negotiation as _negotiation
from tiercube._version import PROTOCOL_VERSION, __version__
from tiercube._wire import paths
from tiercube.capabilities import SupportsEditing

ADVERTISED_VERSION = "0.0.0-test"
"""What ``--advertise-version`` makes a server claim: not this tiercube, the same protocol."""

SALES_TYPES: dict[str, tiercube.DataType] = {"id": "int64", "region": "string", "qty": "int64", "price": "float64"}
SALES_ROWS = [(1, "EU", 3, 1.5), (2, "US", 4, 2.0), (3, "EU", 5, 1.0), (4, "ASIA", 1, 0.5)]

_READY_TIMEOUT = 60.0

# A web server that is not tiercube but answers /versions/rest, as another product would.
NOT_TIERCUBE = """
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSIONS = json.dumps({"version": 1, "serverVersion": "6.1.0",
    "apis": {"pivot": {"versions": [{"id": "8", "restPath": "/pivot/rest/v8"}]}}}).encode()

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/versions/rest":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(VERSIONS)))
        self.end_headers()
        self.wfile.write(VERSIONS)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"not tiercube at http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
"""


ALL_TIERS: list[type[tiercube.AnySession]] = [
    tiercube.LocalSession,
    tiercube.RemoteSession,
    tiercube.NoSecurityLocalSession,
    tiercube.NoSecuritySession,
    tiercube.ReadOnlySession,
    tiercube.MinimalSession,
]


class Server:
    """A server process started in the background; ``url`` waits for its ready line."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.log = log
        with open(log, "wb") as errors:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
            )
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = self._ready_line().split(" at ")[1].split()[0]
        return self._url

    def _ready_line(self) -> str:
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + _READY_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(timeout=0.1):
                    line = stdout.readline().decode()
                    if " at http" in line:
                        return line
                    break
                if self.process.poll() is not None:
                    break
        self.stop()
        raise RuntimeError(f"the server did not start; its log {self.log}:\n{self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def system_tmp_can_be_hidden() -> bool:
    """Whether a private server gets its own empty ``/tmp``: then it cannot see the caller's temporary files."""
    system = Path(tempfile.gettempdir()).resolve()
    needed = [Path(sys.executable).resolve(), Path(sys.prefix).resolve(), Path(tiercube.__file__).resolve(), Path.cwd().resolve()]
    return not any(path.is_relative_to(system) for path in needed)


def _hidden_directory(directory: Path) -> Path:
    """The directory the private server gets as an empty tmpfs of its own.

    The system temporary directory (``/tmp``), unless this interpreter, tiercube
    or the working directory live under it: mounting over them would hide them
    from the server too. Then a directory of the test's own is hidden instead.
    """
    if system_tmp_can_be_hidden():
        return Path(tempfile.gettempdir()).resolve()
    hidden = directory / "private-tmp"
    hidden.mkdir(exist_ok=True)
    return hidden


_PRIVATE = 'c=$(cat "$1") && mount -t tmpfs tiercube-private "$2" && printf "%s" "$c" > "$2/tiercube.toml" && ' \
    'export TMPDIR="$2" && shift 2 && exec "$@" --config "$TMPDIR/tiercube.toml"'


@functools.cache
def unshare_problem() -> str | None:
    """Why a server cannot run in a private mount namespace here, or None if it can."""
    with tempfile.TemporaryDirectory() as directory:
        try:
            result = subprocess.run(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount -t tmpfs tiercube-probe "$0"', directory],
                capture_output=True, text=True, timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"unshare could not run: {error}"
    if result.returncode != 0:
        return f"unshare --mount failed (it needs root or user namespaces): {result.stderr.strip()}"
    return None


def require_unshare() -> None:
    problem = unshare_problem()
    if problem is not None:
        pytest.skip(f"the Remote and NoSecurity tiers need a server whose files this process cannot see: {problem}")


def start_server(directory: Path, *args: str, config: str | None = SECURED_TOML, private: bool = False) -> Server:
    """Start ``tiercube serve`` with ``config`` (TOML text); ``private``: in its own mount namespace."""
    directory.mkdir(parents=True, exist_ok=True)
    name = "-".join(["serve", *(a.strip("-") for a in args), "private" if private else "shared"])
    log = directory / f"{name}.log"
    serve = [sys.executable, "-m", "tiercube._cli", "serve", *args]
    if not private:
        if config is not None:
            path = directory / f"{name}.toml"
            path.write_text(config)
            serve += ["--config", str(path)]
        return Server(serve, log)
    require_unshare()
    path = directory / f"{name}.toml"
    path.write_text(config or "")
    hidden = _hidden_directory(directory)
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _PRIVATE, "sh", str(path), str(hidden)]
    return Server([*prefix, *serve], log)


def start_not_tiercube(directory: Path) -> Server:
    """A web server that answers ``/versions/rest`` but is not tiercube."""
    directory.mkdir(parents=True, exist_ok=True)
    return Server([sys.executable, "-c", NOT_TIERCUBE], directory / "not-tiercube.log")


@contextmanager
def other_protocol(version: int = PROTOCOL_VERSION + 1) -> Generator[None]:
    """Make connections opened inside the block speak (and state) another wire protocol version."""
    with mock.patch.object(_connection, "PROTOCOL_VERSION", version), mock.patch.object(_negotiation, "PROTOCOL_VERSION", version):
        yield


def make_sales(session: SupportsEditing, name: str = "sales") -> tiercube.CloudTable:
    """A small fact table and a cube over it, through any session that may edit."""
    table = session.create_table(name, data_types=SALES_TYPES, keys=["id"])
    table.append(*SALES_ROWS)
    session.create_cube(table, name=name)
    return table


def raw(url: str, method: str, path: str, *, auth: tiercube.BasicAuthentication | None, body: object = None,
        version: str = __version__, protocol: int = PROTOCOL_VERSION, headers: Mapping[str, str] = {}) -> httpx.Response:  # noqa: B006
    """One request as any HTTP client could send it, with the version headers a tiercube client states."""
    headers = {paths.CLIENT_VERSION_HEADER: version, paths.CLIENT_PROTOCOL_HEADER: str(protocol), **headers}
    if auth is not None:
        headers.update(auth(url))
    return httpx.request(method, url + path, headers=headers, json=body, timeout=30)


def share_proof(url: str, auth: tiercube.BasicAuthentication) -> dict[str, str]:
    """The header by which a caller on the server's host proves condition d: the nonce, read from disk."""
    document = httpx.get(url + paths.VERSIONS, headers=dict(auth(url)), timeout=30).json()
    return {paths.SHARE_PROOF_HEADER: Path(document["caller"]["share_proof"]["path"]).read_text()}


@dataclass
class Tiers:
    """One session of every tier (and the owner), each on a server holding a ``sales`` table and cube."""

    owner: tiercube.Session
    local: tiercube.LocalSession
    remote: tiercube.RemoteSession
    no_security_local: tiercube.NoSecurityLocalSession
    no_security: tiercube.NoSecuritySession
    read_only: tiercube.ReadOnlySession
    minimal: tiercube.MinimalSession

    def all(self) -> list[tiercube.Session | tiercube.AnySession]:
        return [self.owner, self.local, self.remote, self.no_security_local, self.no_security, self.read_only, self.minimal]


@contextmanager
def all_tiers(directory: Path) -> Generator[Tiers]:
    """Start the servers (concurrently), connect one session of each tier, and stop everything after."""
    require_unshare()
    with ExitStack() as stack:
        remote_server = start_server(directory, private=True)
        stack.callback(remote_server.stop)
        no_security_local_server = start_server(directory, "--advertise-version", ADVERTISED_VERSION)
        stack.callback(no_security_local_server.stop)
        no_security_server = start_server(directory, "--advertise-version", ADVERTISED_VERSION, private=True)
        stack.callback(no_security_server.stop)
        owner = stack.enter_context(tiercube.Session.start(SECURED))
        make_sales(owner)

        local = stack.enter_context(tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.LocalSession))
        read_only = stack.enter_context(tiercube.connect(owner.url, authentication=USER, require=tiercube.ReadOnlySession))
        with other_protocol():
            minimal = stack.enter_context(tiercube.connect(owner.url, authentication=USER, require=tiercube.MinimalSession))
        remote = stack.enter_context(tiercube.connect(remote_server.url, authentication=ADMIN, require=tiercube.RemoteSession))
        make_sales(remote)
        no_security_local = stack.enter_context(
            tiercube.connect(no_security_local_server.url, authentication=ADMIN, require=tiercube.NoSecurityLocalSession)
        )
        make_sales(no_security_local)
        no_security = stack.enter_context(
            tiercube.connect(no_security_server.url, authentication=ADMIN, require=tiercube.NoSecuritySession)
        )
        make_sales(no_security)
        yield Tiers(owner, local, remote, no_security_local, no_security, read_only, minimal)


@dataclass
class Sources:
    """The same small sales data as a local CSV and Parquet file, cloud objects, Arrow and pandas."""

    csv: Path
    parquet: Path
    cloud_csv: tiercube.S3Location
    cloud_parquet: tiercube.S3Location
    arrow: pa.Table
    frame: pd.DataFrame


SALES_CSV = "id,region,qty,price\n" + "".join(f"{i},{r},{q},{p}\n" for i, r, q, p in SALES_ROWS)


@contextmanager
def sales_sources(directory: Path) -> Generator[Sources]:
    arrow = pa.table({name: [row[i] for row in SALES_ROWS] for i, name in enumerate(SALES_TYPES)})
    parquet = io.BytesIO()
    # pyarrow-stubs leave the **kwargs of write_table Unknown.
    pq.write_table(arrow, parquet)  # pyright: ignore[reportUnknownMemberType]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sales.csv").write_text(SALES_CSV)
    (directory / "sales.parquet").write_bytes(parquet.getvalue())
    s3 = shared_fake_s3()
    yield Sources(
        directory / "sales.csv", directory / "sales.parquet", s3.put("sales.csv", SALES_CSV.encode()),
        s3.put("sales.parquet", parquet.getvalue()), arrow,
        pd.DataFrame({name: [row[i] for row in SALES_ROWS] for i, name in enumerate(SALES_TYPES)}),
    )


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Generator[Sources]:
    with sales_sources(tmp_path_factory.mktemp("sources")) as made:
        yield made
