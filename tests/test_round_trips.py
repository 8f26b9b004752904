"""One user action, one request: counted by a real HTTP proxy between the client and the server.

The table below states what each action of the public API costs; a change
that makes an action chattier fails here. The proxy forwards every request
to a real server and counts it; the client connects to the proxy like to
any server.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from collections.abc import Callable, Generator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol, cast

import httpx
import pytest
from IPython.core.formatters import DisplayFormatter

import tiercube
from tests.conftest import ADMIN, SECURED, USER
from tests.tiers import other_protocol


class CountingProxy:
    """Forwards HTTP requests to ``upstream`` and counts them."""

    def __init__(self, upstream: str) -> None:
        self.count = 0
        forward = httpx.Client(base_url=upstream, timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                proxy.count += 1
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = forward.request(self.command, self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._forward = forward

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._forward.close()


@dataclass
class Shop:
    owner: tiercube.Session
    proxy: CountingProxy
    session: tiercube.LocalSession
    csv: Path


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Generator[Shop]:
    csv = tmp_path_factory.mktemp("trips") / "sales.csv"
    csv.write_text("id,region,qty,price\n1,EU,3,1.5\n2,US,4,2.0\n3,EU,5,1.0\n")
    with tiercube.Session.start(SECURED) as owner:
        sales = owner.read_csv(csv, keys=["id"])
        owner.create_cube(sales)
        proxy = CountingProxy(owner.url)
        try:
            with tiercube.connect(proxy.url, authentication=ADMIN, require=tiercube.LocalSession) as session:
                yield Shop(owner, proxy, session, csv)
        finally:
            proxy.close()


def known_cube(shop: Shop) -> tiercube.EditableCube:
    """A cube object that has read its structure already."""
    cube = shop.session.cubes["sales"]
    _ = cube.fact_table
    return cube


def levels_of_a_known_cube(shop: Shop) -> Callable[[], object]:
    cube = known_cube(shop)
    return lambda: cube.levels["region"]


def measure_algebra(shop: Shop) -> Callable[[], object]:
    m = known_cube(shop).measures

    def define() -> None:
        m["margin"] = m["price.SUM"] - m["qty.SUM"]

    return define


def filtered_query(shop: Shop) -> Callable[[], object]:
    cube = known_cube(shop)
    return lambda: cube.query("qty.SUM", filter=cube.levels["region"] == "EU")


class Formatter(Protocol):
    """IPython's ``DisplayFormatter`` as used here (IPython leaves it unannotated)."""

    def format(self, obj: object) -> tuple[dict[str, str], dict[str, object]]: ...


def notebook_formats(obj: object) -> dict[str, str]:
    """What a notebook does with a cell's last expression: every format at once (repr and _repr_html_ both)."""
    return cast(Formatter, DisplayFormatter()).format(obj)[0]


def displayed(obj: object) -> Callable[[], object]:
    return lambda: notebook_formats(obj)


# What the user does, what it costs, and how: given the shop (set up uncounted), the counted action.
ACTIONS: list[tuple[str, int, Callable[[Shop], Callable[[], object]]]] = [
    ("connect(url, authentication=...)", 1, lambda s: lambda: tiercube.connect(s.proxy.url, authentication=ADMIN).close()),
    ("session.tables['sales'].query()", 1, lambda s: lambda: s.session.tables["sales"].query()),
    ("session.tables['sales'].row_count", 1, lambda s: lambda: s.session.tables["sales"].row_count),
    ("session.tables['sales'].partitions", 1, lambda s: lambda: s.session.tables["sales"].partitions),
    ("session.tables.schema", 1, lambda s: lambda: s.session.tables.schema),
    ("'sales' in session.tables", 1, lambda s: lambda: "sales" in s.session.tables),
    ("session.cubes['sales'].query('qty.SUM', levels=['region'])", 1, lambda s: lambda: s.session.cubes["sales"].query("qty.SUM", levels=["region"])),
    ("session.stats()", 1, lambda s: lambda: s.session.stats()),
    ("session.query_mdx(...)", 1, lambda s: lambda: s.session.query_mdx("SELECT [Measures].[qty.SUM] ON COLUMNS FROM [sales]")),
    ("session.cubes['sales'].levels['region'] (a fresh cube object)", 1, lambda s: lambda: s.session.cubes["sales"].levels["region"]),
    ("cube.levels['region'] (a cube that read its structure)", 0, levels_of_a_known_cube),
    ("m['margin'] = m['price.SUM'] - m['qty.SUM'] (m = cube.measures)", 1, measure_algebra),
    ("cube.query('qty.SUM', filter=cube.levels['region'] == 'EU')", 1, filtered_query),
    ("table.append(row)", 1, lambda s: lambda: s.session.tables["sales"].append((9, "EU", 1, 1.0))),
    ("table.drop(filter)", 1, lambda s: lambda: s.session.tables["sales"].drop(s.session.tables["sales"]["id"] == 9)),
    ("session.create_table(...)", 1, lambda s: lambda: s.session.create_table("trip_table", data_types={"x": "int64"})),
    ("del session.tables['trip_table']", 1, lambda s: lambda: s.session.tables.__delitem__("trip_table")),
    ("session.read_csv(path)", 1, lambda s: lambda: s.session.read_csv(s.csv, table_name="trip_csv")),
    ("table.load(CsvLoad(path))", 1, lambda s: lambda: s.session.tables["trip_csv"].load(tiercube.CsvLoad(s.csv))),
    ("session.security.create_user(...)", 1, lambda s: lambda: s.session.security.create_user("trip_user", password="pw")),
    ("session.security.restrict(...)", 1, lambda s: lambda: s.session.security.restrict("TRIP", s.session.tables["sales"]["region"] == "EU")),
    ("displaying session in a notebook", 1, lambda s: displayed(s.session)),
    ("displaying session.tables['sales'] in a notebook", 1, lambda s: displayed(s.session.tables["sales"])),
    ("displaying session.cubes['sales'] in a notebook (a fresh cube object)", 1, lambda s: displayed(s.session.cubes["sales"])),
    ("displaying a cube that read its structure", 0, lambda s: displayed(known_cube(s))),
    ("displaying cube.measures (a cube that read its structure)", 0, lambda s: displayed(known_cube(s).measures)),
    ("displaying cube.measures['qty.SUM'] (a cube that read its structure)", 0, lambda s: displayed(known_cube(s).measures["qty.SUM"])),
    ("displaying session.tables in a notebook", 1, lambda s: displayed(s.session.tables)),
    ("session.cubes['sales'].explore() (the notebook widget)", 1, lambda s: lambda: s.session.cubes["sales"].explore()),
]


@pytest.mark.parametrize(("action", "cost", "prepare"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_each_action_costs_what_the_table_says(
    shop: Shop, action: str, cost: int, prepare: Callable[[Shop], Callable[[], object]]
) -> None:
    act = prepare(shop)
    before = shop.proxy.count
    act()
    assert shop.proxy.count - before == cost, action


def test_a_created_cube_knows_its_structure(shop: Shop) -> None:
    before = shop.proxy.count
    cube = shop.session.create_cube(shop.session.tables["sales"], name="trip_cube")
    m = cube.measures
    m["double"] = m["qty.SUM"] * 2  # the README's way of defining a measure
    europe = cube.levels["region"] == "EU"
    cube.query("double", levels=["region"], filter=europe)
    assert shop.proxy.count - before == 3  # create, define, query


@pytest.mark.parametrize("tier", ["ReadOnlySession", "MinimalSession"])
def test_displaying_a_lower_tier_and_its_cube_costs_one_request_each(shop: Shop, tier: str) -> None:
    """What a session may read differs by tier (tables, or only cube names): the cost does not."""
    with other_protocol() if tier == "MinimalSession" else nullcontext():
        session = tiercube.connect(shop.proxy.url, authentication=USER)
    with session:
        assert type(session).__name__ == tier
        reads_structure = tier == "ReadOnlySession"
        cube_class = "ReadOnlyCube" if reads_structure else "QueryCube"
        # (object, its class as shown, requests): a query-only cube shows only what it is, asking nothing.
        for obj, shown_as, cost in [(session, tier, 1), (session.cubes["sales"], cube_class, 1 if reads_structure else 0)]:
            before = shop.proxy.count
            formats = notebook_formats(obj)
            assert shop.proxy.count - before == cost, shown_as
            assert formats["text/html"].startswith(f'<div class="tiercube"><p><strong>{shown_as}</strong>')
