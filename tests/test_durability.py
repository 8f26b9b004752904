"""What survives a stop: ``tiercube serve --data-dir`` processes killed, stopped and started again.

Every acknowledged change is in the data directory before it is answered:
after a SIGKILL the server comes back with tables, rows, cubes, joins, users
and restrictions exactly as they were; after a SIGTERM, with the changes that
were under way; a torn last write is dropped, damage further back stops the
start naming the file and offset, a full disk refuses changes without losing
any. The crash test with hundreds of kills is in test_crash.py.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Generator
from datetime import datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest

import tiercube
from tiercube._server.durability.log import SEGMENT_MAGIC, segment_numbers, segment_path

from tests.conftest import SECURED_TOML, write_config
from tests.durable import SNAPSHOTS_ONLY_AT_STOP, Served, admin, state_of
from tests.tiers import unshare_problem

EVE = tiercube.BasicAuthentication("eve", "eve-password")


@pytest.fixture
def served(tmp_path: Path) -> Generator[Served]:
    server = Served(tmp_path / "data", write_config(tmp_path, SNAPSHOTS_ONLY_AT_STOP + SECURED_TOML))
    yield server
    server.close()


def make_everything(session: tiercube.LocalSession, sales_csv: Path) -> None:
    """One of every change a data directory keeps."""
    sales = session.read_csv(str(sales_csv), keys=["id"])
    sales.append((2, "US", "pear", 40, 2.5, "2024-02-02"), (9, "EU", "fig", 1, 9.0, "2024-02-09"))  # an upsert and a new row
    sales.drop(sales["region"] == "ASIA")
    products = session.create_table("products", data_types={"product": "string", "family": "string"}, keys=["product"])
    products.append(("apple", "pome"), ("pear", "pome"), ("fig", "other"))
    sales.join(products)
    log = session.create_table("log", data_types={"n": "int64", "note": "string"})  # no keys: appends pile up
    for n in range(3):
        log.append((n, f"note {n}"), (n, "again"))
    cube = session.create_cube(sales)
    cube.measures["value"] = cube.measures["qty.SUM"] * cube.measures["price.SUM"]
    hierarchies = cube.hierarchies
    del hierarchies["product"], hierarchies["family"]
    hierarchies["by family"] = ["family", "product"]
    del cube.measures["price.MEAN"]
    session.create_cube(products, name="gone")
    del session.cubes["gone"]
    session.create_table("temporary", data_types={"x": "int64"})
    del session.tables["temporary"]
    session.security.create_user("eve", password=EVE.password, roles=["EUROPE"])
    session.security.create_user("zed", password="zed-password", roles=["EUROPE"])
    session.security.set_roles("zed", ["ROLE_USER"])
    session.security.delete_user("zed")
    session.security.restrict("EUROPE", sales["region"] == "EU")


def test_every_acknowledged_change_survives_a_sigkill(served: Served, sales_csv: Path) -> None:
    with admin(served.start()) as session:
        make_everything(session, sales_csv)
        before = state_of(session)
    sales_csv.write_text("id,region\n1,changed\n")  # the rows were logged, not the path
    served.kill()
    with admin(served.start()) as session:
        assert state_of(session) == before
        query = session.cubes["sales"].query("value", levels=["family"])
        assert query.num_rows == 2
    with tiercube.connect(served.url, authentication=EVE, require=tiercube.ReadOnlySession) as eve:
        assert eve.tables["sales"].query()["id"].to_pylist() == [1, 3, 9]  # her password hash came back


def test_a_restart_reads_the_last_snapshot_then_the_log_after_it(served: Served, sales_csv: Path) -> None:
    with admin(served.start()) as session:
        make_everything(session, sales_csv)
    assert served.stop() == 0  # a clean stop writes a snapshot
    with admin(served.start()) as session:
        session.tables["log"].append((7, "after the snapshot"))
        session.tables["sales"].drop(session.tables["sales"]["id"] == 1)
        del session.cubes["sales"].measures["value"]
        session.security.unrestrict("EUROPE")
        before = state_of(session)
    served.kill()
    with admin(served.start()) as session:
        assert state_of(session) == before


def test_column_types_with_parameters_come_back_as_declared(served: Served) -> None:
    """A zoned timestamp, a decimal, a duration and a time of day: kept in the log, then in a snapshot."""
    paris = ZoneInfo("Europe/Paris")
    declared: dict[str, tiercube.ColumnType] = {
        "sku": "string",
        "at": tiercube.Timestamp("ns", "Europe/Paris"),
        "price": tiercube.Decimal(18, 2),
        "took": tiercube.Duration("ms"),
        "opens": tiercube.Time("s"),
    }
    with admin(served.start()) as session:
        prices = session.create_table("prices", keys=["sku"], data_types=declared)
        prices.append(
            ("A-1", datetime(2024, 3, 31, 2, 30, tzinfo=paris), Decimal("9.90"), timedelta(milliseconds=1500), time_of_day(9)),
            ("B-2", datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=paris), Decimal("-0.01"), timedelta(0), time_of_day(23, 59, 59)),
        )
        before = prices.query()
    served.kill()
    for stop in (served.kill, served.stop):  # from the log, then from the snapshot a clean stop writes
        with admin(served.start()) as session:
            prices = session.tables["prices"]
            assert prices.data_types == declared
            assert prices.query().equals(before)
        stop()


def test_sigterm_finishes_and_keeps_what_is_under_way_then_refuses(served: Served) -> None:
    with admin(served.start()) as session:
        session.create_table("counts", data_types={"writer": "int64", "n": "int64"}, keys=["writer", "n"])
    acknowledged: list[tuple[int, int]] = []
    refused: list[BaseException] = []
    started = threading.Barrier(5)

    def write(writer: int) -> None:
        with admin(served.url) as session:
            table = session.tables["counts"]
            started.wait()
            for n in range(100_000):
                try:
                    table.append((writer, n))
                except tiercube.ServerUnavailableError as error:
                    refused.append(error)
                    return
                acknowledged.append((writer, n))

    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in writers:
        thread.start()
    started.wait()
    # Stop once the writers are well under way (a fixed pause saw 8 appends on a machine loaded 20 deep).
    deadline = time.monotonic() + 60
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    code = served.stop(signal.SIGTERM)
    for thread in writers:
        thread.join()
    assert code == 0, served.errors()[-3000:]
    assert len(refused) == 4 and len(acknowledged) > 20
    segments = segment_numbers(served.data_dir / "log")
    assert [segment_path(served.data_dir / "log", n).stat().st_size for n in segments] == [len(SEGMENT_MAGIC)]  # all in the snapshot
    with admin(served.start()) as session:
        rows = session.tables["counts"].query()
    kept = set(zip(rows["writer"].to_pylist(), rows["n"].to_pylist(), strict=True))
    assert kept >= set(acknowledged)
    assert len(kept) <= len(acknowledged) + 4  # at most the append each writer had under way


def test_a_torn_last_write_is_dropped_and_what_came_before_stays(served: Served) -> None:
    with admin(served.start()) as session:
        table = session.create_table("t", data_types={"x": "int64"})
        for x in range(5):
            table.append((x,))
    served.kill()
    log = served.data_dir / "log"
    last = segment_path(log, segment_numbers(log)[-1])
    size = last.stat().st_size
    with open(last, "ab") as file:
        file.write(b"TCR1" + os.urandom(20))  # a record's head, cut short by the crash
    with admin(served.start()) as session:
        assert session.tables["t"].query()["x"].to_pylist() == [0, 1, 2, 3, 4]
        session.tables["t"].append((5,))
    assert last.stat().st_size > size  # cut at the torn write, then written on
    served.kill()
    with admin(served.start()) as session:
        assert session.tables["t"].query()["x"].to_pylist() == [0, 1, 2, 3, 4, 5]


def test_damage_before_the_end_stops_the_start_naming_file_and_offset(served: Served) -> None:
    with admin(served.start()) as session:
        table = session.create_table("t", data_types={"x": "int64"})
        for x in range(5):
            table.append((x,))
    served.kill()
    log = served.data_dir / "log"
    last = segment_path(log, segment_numbers(log)[-1])
    data = bytearray(last.read_bytes())
    second = data.index(b"TCR1", data.index(b"TCR1") + 1)  # the second record: the first append
    data[second + 40] ^= 0xFF
    last.write_bytes(bytes(data))
    result = served.failed_start()
    assert result.returncode == 2
    assert f"{last}, offset {second}: record 2 is damaged" in result.stderr
    assert "restore it from a backup" in result.stderr


def test_a_data_directory_and_a_cluster_do_not_go_together(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tiercube._cli", "serve", "--data-dir", str(tmp_path / "d"), "--cluster", "tcp://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "a data directory (data_dir) cannot be combined with a cluster (cluster)" in result.stderr
    with pytest.raises(tiercube.InvalidRequestError, match=r"data_dir\) cannot be combined with a cluster"):
        tiercube.Session.start(data_dir=tmp_path / "d", cluster="tcp://127.0.0.1:1")


def test_the_data_directory_is_private_held_by_one_server_and_never_loadable(served: Served) -> None:
    with admin(served.start()) as session:
        session.create_table("t", data_types={"x": "int64"}).append((1,))
        second = served.failed_start()
        assert second.returncode == 2 and f"data directory {served.data_dir} is in use by another tiercube server" in second.stderr
        log = segment_path(served.data_dir / "log", 1)
        with pytest.raises(tiercube.LoadError, match="files in the server's data directory cannot be loaded"):
            session.read_csv(str(log), table_name="hashes")
    served.stop()
    for path in [served.data_dir, *served.data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_declared_tables_are_read_once_then_kept_by_the_data_directory(tmp_path: Path, sales_csv: Path) -> None:
    declared = f'\n[[tables]]\nname = "sales"\npath = "{sales_csv}"\nkeys = ["id"]\ndata_types = {{ qty = "float64" }}\n'
    served = Served(tmp_path / "data", write_config(tmp_path, SECURED_TOML + declared))
    try:
        with admin(served.start()) as session:
            sales = session.tables["sales"]
            assert (sales.row_count, sales.keys) == (4, ("id",))
            assert session.tables["sales"].query()["qty"].type == "double"
            sales.append((5, "EU", "kiwi", 1.0, 1.0, "2024-01-05"))
        sales_csv.write_text("id,region,qty\n1,EU,2\n")
        served.kill()
        with admin(served.start()) as session:
            assert session.tables["sales"].row_count == 5  # held by the data directory: not read again
            del session.tables["sales"]
        served.kill()
        with admin(served.start()) as session:
            assert session.tables["sales"].query().to_pydict() == {"id": [1], "region": ["EU"], "qty": [2.0]}  # deleted: read again
    finally:
        served.close()


def test_a_declared_table_that_cannot_be_read_stops_the_start(tmp_path: Path) -> None:
    declared = f'\n[[tables]]\nname = "sales"\npath = "{tmp_path / "missing.csv"}"\n'
    result = Served(tmp_path / "data", write_config(tmp_path, SECURED_TOML + declared)).failed_start()
    assert result.returncode == 2
    assert f"{tmp_path / 'missing.csv'}: no such file" in result.stderr


def test_the_config_is_the_truth_for_its_users_and_the_data_directory_for_the_others(tmp_path: Path) -> None:
    bob = '\n[[users]]\nname = "bob"\npassword = "bob-password"\nroles = ["ROLE_USER"]\n'
    with_bob = Served(tmp_path / "data", write_config(tmp_path, SNAPSHOTS_ONLY_AT_STOP + SECURED_TOML + bob))
    (tmp_path / "without").mkdir()
    without_bob = Served(tmp_path / "data", write_config(tmp_path / "without", SNAPSHOTS_ONLY_AT_STOP + SECURED_TOML))
    try:
        with admin(with_bob.start()) as session:
            session.security.set_roles("bob", ["ROLE_ADMIN"])  # lasts until the server stops
            session.security.create_user("carol", password="carol-password", roles=["ROLE_USER"])
        assert with_bob.stop() == 0
        with admin(with_bob.start()) as session:
            assert {name: user.roles for name, user in session.security.users.items()} == {
                "admin": ["ROLE_ADMIN"], "user": ["ROLE_USER"], "bob": ["ROLE_USER"], "carol": ["ROLE_USER"]
            }
        with_bob.kill()
        with admin(without_bob.start()) as session:  # taken out of the config: gone, also from the data directory
            assert sorted(session.security.users) == ["admin", "carol", "user"]
    finally:
        with_bob.close()
        without_bob.close()


def test_the_owner_keeps_its_session_in_a_data_directory(tmp_path: Path) -> None:
    with tiercube.Session.start(data_dir=tmp_path / "data") as session:
        session.create_table("t", data_types={"x": "int64"}, keys=["x"]).append((1,), (2,), (1,))
        cube = session.create_cube(session.tables["t"])
        cube.measures["twice"] = cube.measures["contributors.COUNT"] * 2
    with tiercube.Session.start(data_dir=tmp_path / "data") as session:
        assert session.tables["t"].query()["x"].to_pylist() == [2, 1]
        assert repr(session.cubes["t"].measures["twice"]) == "<Measure 'twice' = contributors.COUNT * 2>"


@pytest.mark.skipif(unshare_problem() is not None, reason=f"needs a private mount namespace: {unshare_problem()}")
def test_a_full_disk_refuses_changes_and_loses_none(tmp_path: Path) -> None:
    """A 2 MiB tmpfs holds the data directory, in a private mount namespace: appends until the disk is full."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "full_disk.py"
    script.write_text(FULL_DISK.format(data_dir=disk / "data", config=write_config(tmp_path, SNAPSHOTS_ONLY_AT_STOP + SECURED_TOML)))
    mount = 'mount -t tmpfs -o size=2m tmpfs "$0" && exec "$1" "$2"'
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, str(disk), sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "full disk: ok" in result.stdout


# Runs inside the namespace, where the data directory is on the small tmpfs.
FULL_DISK = '''
import os, sys
from pathlib import Path
sys.path.insert(0, os.getcwd())
import tiercube
from tests.durable import Served, admin

served = Served(Path("{data_dir}"), "{config}")
with admin(served.start()) as session:
    table = session.create_table("t", data_types={{"n": "int64", "pad": "string"}}, keys=["n"])
    acknowledged, n = [], 0
    while True:
        try:
            table.append((n, "x" * 20000 + str(n)))
        except tiercube.StorageError as error:
            assert "No space left on device" in str(error) and "the change was not made" in str(error), error
            assert error.path == "{data_dir}/log", error.path  # the field travelled with the error
            break
        acknowledged.append(n)
        n += 1
    assert len(acknowledged) > 10, acknowledged
    for _ in range(3):  # refused again and again, the server still answers
        try:
            table.append((n, "x" * 20000))
            raise AssertionError("an append on a full disk was accepted")
        except tiercube.StorageError:
            pass
    assert table.query("n")["n"].to_pylist() == acknowledged
served.kill()
with admin(served.start()) as session:  # the disk still full: the server starts, with every acknowledged row
    assert session.tables["t"].query("n")["n"].to_pylist() == acknowledged
assert served.stop() == 0  # a clean stop whose last snapshot finds no room: the log still has everything
assert "could not write a last snapshot" in served.errors()
with admin(served.start()) as session:
    assert session.tables["t"].query("n")["n"].to_pylist() == acknowledged
print("full disk: ok", len(acknowledged))
'''
