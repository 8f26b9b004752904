"""The ``tiercube`` command: ``serve``, ``demo``, ``hash-password`` and ``model``."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    import msgspec

    from tiercube._config import SessionConfig
    from tiercube._server.main import configure_logging, serve
    from tiercube._temporary import owned_directory, storage_errors
    from tiercube.errors import ClusterError, InvalidRequestError, StorageError

    try:
        config = SessionConfig.from_toml(args.config) if args.config else SessionConfig()
    except InvalidRequestError as error:
        print(f"tiercube serve: {error}", file=sys.stderr)
        return 2
    if args.hide_admin_api:
        config = msgspec.structs.replace(config, sdk_exposed=False)
    if args.advertise_version:
        config = msgspec.structs.replace(config, advertised_version=args.advertise_version)
    if args.cluster:
        config = msgspec.structs.replace(config, cluster=args.cluster)
    if args.data_dir:
        config = msgspec.structs.replace(config, data_dir=str(Path(args.data_dir).resolve()))
    try:
        config.check_cluster()
    except InvalidRequestError as error:
        print(f"tiercube serve: {error}", file=sys.stderr)
        return 2
    try:
        # Named after this process: the log outlives the server for reading, and the next
        # `tiercube serve` removes it once this process is gone.
        log_file = args.log_file or str(Path(owned_directory("serve"), "server.log"))
        with storage_errors(log_file, "write the log to"):
            configure_logging(log_file)
    except StorageError as error:
        print(f"tiercube serve: {error}", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        print(f"tiercube session server at {url} (log: {log_file}); stop with Ctrl+C", flush=True)

    try:
        protected = [path for path in (args.config, log_file) if path]
        serve(config, host=args.host, port=args.port, on_ready=ready, protected_files=protected)
    except (InvalidRequestError, ClusterError, StorageError) as error:
        print(f"tiercube serve: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"tiercube serve: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from tiercube._demo import run_demo

    run_demo(rows=args.rows)
    return 0


def _hash_password(args: argparse.Namespace) -> int:
    from tiercube._server.passwords import hash_password

    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass("password: ")
    if not password:
        print("tiercube hash-password: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def _model(args: argparse.Namespace) -> int:
    import tiercube
    from tiercube.capabilities import READ_MODEL

    authentication = None
    if args.user:
        password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass(f"password of {args.user}: ")
        authentication = tiercube.BasicAuthentication(args.user, password)
    try:
        with tiercube.connect(args.url, authentication=authentication, require=READ_MODEL) as session:
            print(session.model(), end="")
    except tiercube.TiercubeError as error:
        print(f"tiercube model: {error}", file=sys.stderr)
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    from tiercube._version import PROTOCOL_VERSION, __version__

    root = argparse.ArgumentParser(
        prog="tiercube",
        description="In-memory analytics sessions whose capabilities are known to the type checker.",
    )
    root.add_argument("--version", action="version", version=f"tiercube {__version__} (wire protocol {PROTOCOL_VERSION})")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run a session server in the foreground")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=0, help="port to listen on (default: a free port, printed)")
    serve.add_argument("--config", metavar="FILE", help="TOML file: users and roles, TLS, query limits")
    serve.add_argument("--log-file", metavar="PATH", help="where to write the log besides stderr (default: a temporary file)")
    serve.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="a Dask scheduler (tcp://host:8786) whose workers hold distributed tables; needs tiercube[cluster]. "
        "A table whose worker is lost reports the missing partition: empty it (table.drop()) and load it again",
    )
    serve.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep every change in DIR (a write-ahead log and snapshots) and start from what it holds: "
        "tables, cubes, users and restrictions survive a restart, a crash included. Created 0700 if missing",
    )
    serve.add_argument(
        "--hide-admin-api",
        action="store_true",
        help="do not expose the SDK admin API: clients of another tiercube version get at most read-only access",
    )
    # A testing aid (claim another tiercube version, to reach the NoSecurity tiers for real): not in --help.
    serve.add_argument("--advertise-version", metavar="VERSION", help=argparse.SUPPRESS)
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="start a session, load sample data, connect from a second process, query")
    demo.add_argument("--rows", type=int, default=1000, help="rows of sample data (default: %(default)s)")
    demo.set_defaults(run=_demo)

    hashing = commands.add_parser("hash-password", help="print an scrypt hash for a config file's password_hash")
    hashing.set_defaults(run=_hash_password)

    model = commands.add_parser(
        "model",
        help="print a Python module of the session's names (tables, columns, cubes, measures, levels) as Literal "
        "types, so that type checkers catch a misspelt one: tiercube model URL > sales_model.py",
    )
    model.add_argument("url", help="the session server's address")
    model.add_argument("--user", help="sign in as this user (the password is read from stdin or prompted for)")
    model.set_defaults(run=_model)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
