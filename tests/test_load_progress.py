"""Progress of a long load: the server counts the bytes it has read, and tells the caller who loads, no one else.

Before, the client could show only a spinner and the elapsed time: the server read the
file in one pyarrow call on a path, and nobody could see how far it was. At first only
CSV files were counted; Parquet and Arrow IPC files are too.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import IO, cast

import httpx
import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED, USER
from tiercube._client.channel import Connection
from tiercube._client.connection import Connection as HttpConnection
from tiercube._client.core import SessionCore
from tiercube._client import progress
from tiercube._client.progress import progress_line
from tiercube._server.engine import load_progress
from tiercube._server.engine.load_progress import NOTHING_KNOWN, LoadsUnderWay
from tiercube._wire import paths
from tiercube._wire.messages import ArrowFileSource, CsvSource, Load, LoadProgress, LoadResult, ParquetSource, Read, Source
from tiercube.errors import ConflictError, PermissionDeniedError

ROWS = 3_000_000  # about 2 s to load on CI's 2 cores: long enough to be seen part-way
FILE_ROWS = 2_000_000  # a 48 MB Parquet file: two reads of its reader (32 MB at most each); a 64 MB Arrow file
LOAD_ID = "progress-test-load-0001"


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("progress") / "big.csv"
    block = pa.table({"id": pa.array(range(1000), pa.int64()), "word": [f"w{i}" for i in range(1000)]})
    pa_csv.write_csv(pa.concat_tables([block] * (ROWS // 1000)), str(path))
    return path


@pytest.fixture(scope="module")
def big_table() -> pa.Table:
    """Random numbers, so that the Parquet file is about as big as the data: its reader reads up to
    32 MB at once, a few row groups ahead of the threads that decode them."""
    random = np.random.default_rng(20)
    words = pa.array([f"w{i}" for i in range(1000)] * (FILE_ROWS // 1000))
    x, y = pa.array(random.random(FILE_ROWS)), pa.array(random.random(FILE_ROWS))
    return pa.table({"id": pa.array(np.arange(FILE_ROWS)), "x": x, "y": y, "word": words})


@pytest.fixture(scope="module")
def big_parquet(tmp_path_factory: pytest.TempPathFactory, big_table: pa.Table) -> Path:
    path = tmp_path_factory.mktemp("progress") / "big.parquet"
    pq.write_table(big_table, path, row_group_size=FILE_ROWS // 10)  # pyright: ignore[reportUnknownMemberType]
    return path


@pytest.fixture(scope="module")
def big_arrow(tmp_path_factory: pytest.TempPathFactory, big_table: pa.Table) -> Path:
    """An Arrow IPC file as the client writes one for ``read_arrow``, in record batches (read one by one)."""
    path = tmp_path_factory.mktemp("progress") / "big.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, big_table.schema) as writer:
        writer.write_table(big_table, max_chunksize=FILE_ROWS // 20)
    return path


@pytest.fixture(scope="module")
def owner() -> Generator[tiercube.Session]:
    with tiercube.Session.start(SECURED) as started:
        yield started


def connection(session: SessionCore) -> Connection:
    return session._connection  # pyright: ignore[reportPrivateUsage]


def asked(session: SessionCore, load_id: str) -> LoadProgress:
    return connection(session).json("GET", paths.path(paths.LOAD_PROGRESS, load=load_id), LoadProgress)


def as_pyarrow_reads(kind: str, file: str | IO[bytes]) -> pa.Table:
    """A Parquet or Arrow IPC file (its path, or the file open) as pyarrow reads it."""
    if kind == "parquet":
        return pq.read_table(file)  # pyright: ignore[reportUnknownMemberType]
    # pyarrow reads any object with read(); its stubs want io.IOBase, which typing's IO does not derive from.
    return pa.ipc.open_file(file if isinstance(file, str) else cast("io.IOBase", file)).read_all()


def followed_read(admin: SessionCore, source: Source, table: str, others: list[SessionCore]) -> tuple[LoadResult, list[LoadProgress]]:
    """Read ``source`` into ``table`` as ``admin``, asking how far it is while it runs (and asking ``others``,
    who must learn nothing); the answer and what ``admin`` was told once the file's size was known."""
    answers: list[LoadResult] = []
    body = Read(table=table, source=source, load_id=LOAD_ID)
    loading = threading.Thread(target=lambda: answers.append(connection(admin).json("POST", paths.READ, LoadResult, body)))
    seen: list[LoadProgress] = []
    loading.start()
    while loading.is_alive():
        now = asked(admin, LOAD_ID)
        if now.bytes_total is not None:
            seen.append(now)
            for other in others:
                # Another caller asking for the same id, even one who may load (the owner), learns nothing;
                # one who may not load is refused.
                try:
                    assert asked(other, LOAD_ID) == NOTHING_KNOWN
                except PermissionDeniedError:
                    pass
        time.sleep(0.005)
    loading.join()
    assert asked(admin, LOAD_ID) == NOTHING_KNOWN  # finished: nothing is kept
    assert answers
    return answers[0], seen


def read_up_to(path: Path, seen: list[LoadProgress], *, seen_at_the_end: bool = True) -> None:
    """What the caller was told: the file's size, bytes read that only grow, seen part-way and up to the end.

    ``seen_at_the_end``: the load takes long enough after reading its file (parsing its last blocks,
    decoding its last row groups) that a caller asking sees it read to the end. An Arrow file needs
    nothing after its last batch but a check: ``test_parquet_and_arrow_readers_are_counted...`` sees it end.
    """
    size = os.path.getsize(path)
    assert {answer.bytes_total for answer in seen} == {size}
    done = [answer.bytes_done for answer in seen]
    assert done == sorted(done), done
    assert any(0 < d < size for d in done), done  # seen part-way
    if seen_at_the_end:
        assert done[-1] == size, done  # and read up to the end, before the table was built


def test_the_caller_sees_its_load_read_up_to_the_total_and_no_one_else_sees_it(owner: tiercube.Session, big_csv: Path) -> None:
    with (
        tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.LocalSession) as admin,
        tiercube.connect(owner.url, authentication=USER) as user,
    ):
        result, seen = followed_read(admin, CsvSource(str(big_csv)), "big", [owner, user])
    assert result.rows_loaded == ROWS
    read_up_to(big_csv, seen)


@pytest.mark.parametrize("kind", ["parquet", "arrow"])
def test_parquet_and_arrow_files_are_counted_too(owner: tiercube.Session, big_parquet: Path, big_arrow: Path, kind: str) -> None:
    path, source = (big_parquet, ParquetSource(str(big_parquet))) if kind == "parquet" else (big_arrow, ArrowFileSource(str(big_arrow)))
    with tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.LocalSession) as admin:
        result, seen = followed_read(admin, source, f"big_{kind}", [owner])
        read_up_to(path, seen, seen_at_the_end=kind == "parquet")
        # Read through the counting file, the data is the file's, as pyarrow reads it.
        loaded = admin.tables[f"big_{kind}"].query()
        expected = as_pyarrow_reads(kind, str(path))
        assert result.rows_loaded == FILE_ROWS
        assert loaded.cast(expected.schema).equals(expected)
        del admin.tables[f"big_{kind}"]


class Terminal(io.StringIO):
    """Standard error as a terminal's: a progress line can show on it."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("on_a_terminal", [False, True])
def test_a_load_is_followed_only_where_its_progress_line_shows(
    owner: tiercube.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_a_terminal: bool
) -> None:
    """Where no line can show (a pipe, a log, CI: here pytest's captured stderr), the client sends no load
    id, and the server reads the file as pyarrow opens it rather than through its counting file."""
    terminal = Terminal()
    if on_a_terminal:
        monkeypatch.setattr(sys, "stderr", terminal)
        monkeypatch.setattr(progress, "_DELAY", 0.0)  # a short load's line shows too
    csv = tmp_path / "small.csv"
    csv.write_text("id,word\n1,a\n2,b\n")
    parquet = tmp_path / "small.parquet"
    pq.write_table(pa.table({"id": [3], "word": ["c"]}), parquet)  # pyright: ignore[reportUnknownMemberType]
    name = f"small_{on_a_terminal}"
    with tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.LocalSession) as admin:
        sent: list[httpx.Request] = []
        opened = connection(admin)
        assert isinstance(opened, HttpConnection)  # the real one, whose httpx client records what is sent
        opened._client.event_hooks["request"].append(sent.append)  # pyright: ignore[reportPrivateUsage]
        table = admin.read_csv(csv, table_name=name, keys=["id"])
        assert table.load(tiercube.ParquetLoad(parquet)) == 1
        del admin.tables[name]
    read = [msgspec.json.decode(request.content, type=Read) for request in sent if request.url.path == paths.READ]
    loaded = [msgspec.json.decode(request.content, type=Load) for request in sent if request.url.path == paths.path(paths.TABLE_LOAD, table=name)]
    assert [body.load_id is not None for body in read + loaded] == [on_a_terminal] * 2
    # Each load's line ended on the terminal, and only there.
    assert terminal.getvalue().count("\n") == (2 if on_a_terminal else 0)


def test_counting_reads_every_byte_and_an_id_is_used_once(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(200_000)))
    size = path.stat().st_size
    loads = LoadsUnderWay()
    with loads.following("admin", LOAD_ID), path.open("rb") as file, load_progress.counted(file, size) as counted:
        assert pa_csv.read_csv(counted).num_rows == 200_000
        assert loads.progress("admin", LOAD_ID) == LoadProgress(size, size)
        assert loads.progress("user", LOAD_ID) == NOTHING_KNOWN
        with pytest.raises(ConflictError, match="give each load a new random id"), loads.following("admin", LOAD_ID):
            pass
    assert loads.progress("admin", LOAD_ID) == NOTHING_KNOWN
    with path.open("rb") as file, load_progress.counted(file, size) as counted:  # a load nobody follows reads its file untouched
        assert counted is file


class WatchedFile(io.FileIO):
    """A file that notes, at each read pyarrow asks of it, what the caller following the load would be told."""

    def __init__(self, path: Path, loads: LoadsUnderWay) -> None:
        super().__init__(path, "r")
        self.told: list[LoadProgress] = []
        self._loads = loads

    def read(self, size: int | None = -1, /) -> bytes:
        self.told.append(self._loads.progress("admin", LOAD_ID))
        return super().read(size)


@pytest.mark.parametrize("kind", ["parquet", "arrow"])
def test_parquet_and_arrow_readers_are_counted_read_by_read_up_to_the_size(big_parquet: Path, big_arrow: Path, kind: str) -> None:
    """Their readers jump to the footer and back, read some of it twice and skip a few bytes: the count
    grows read by read, never past the size, and is the size once the reader is done."""
    path = big_parquet if kind == "parquet" else big_arrow
    size = path.stat().st_size
    loads = LoadsUnderWay()
    with loads.following("admin", LOAD_ID):
        with WatchedFile(path, loads) as file, load_progress.counted(cast("IO[bytes]", file), size) as counted:
            table = as_pyarrow_reads(kind, counted)
        done = [told.bytes_done for told in file.told]
        assert done == sorted(done) and len({d for d in done if 0 < d < size}) >= 2, done
        assert loads.progress("admin", LOAD_ID) == LoadProgress(size, size)
    assert table.equals(as_pyarrow_reads(kind, str(path)))


def test_progress_line() -> None:
    label = "reading 'big' (200.0 MB)"
    assert progress_line("reading 'big'", label, 3.25, None) == "reading 'big' (200.0 MB):   3.2 s"
    assert progress_line("reading 'big'", label, 3.25, NOTHING_KNOWN) == "reading 'big' (200.0 MB):   3.2 s"
    mb = 1_000_000
    assert progress_line("reading 'big'", label, 0.5, LoadProgress(0, 200 * mb)) == "reading 'big': 0.0 / 200.0 MB, starting"
    assert progress_line("reading 'big'", label, 2.0, LoadProgress(80 * mb, 200 * mb)) == "reading 'big': 80.0 / 200.0 MB, 40.0 MB/s, 3 s left"
    assert progress_line("reading 'big'", label, 1.0, LoadProgress(mb, 2000 * mb)) == "reading 'big': 1.0 / 2,000.0 MB, 1.0 MB/s, 33 min 19 s left"
    assert progress_line("reading 'big'", label, 5.0, LoadProgress(200 * mb, 200 * mb)) == "reading 'big': 200.0 / 200.0 MB, 40.0 MB/s, finishing"
