"""Progress of a long load: the server counts the bytes it has read, and tells the caller who loads, no one else.

Before, the client could show only a spinner and the elapsed time: the server read the
file in one pyarrow call on a path, and nobody could see how far it was.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED, USER
from tiercube._client.channel import Connection
from tiercube._client.core import SessionCore
from tiercube._client.progress import progress_line
from tiercube._server.engine import load_progress
from tiercube._server.engine.load_progress import NOTHING_KNOWN, LoadsUnderWay
from tiercube._wire import paths
from tiercube._wire.messages import CsvSource, LoadProgress, LoadResult, Read
from tiercube.errors import ConflictError, PermissionDeniedError

ROWS = 3_000_000  # about 2 s to load on CI's 2 cores: long enough to be seen part-way
LOAD_ID = "progress-test-load-0001"


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("progress") / "big.csv"
    block = pa.table({"id": pa.array(range(1000), pa.int64()), "word": [f"w{i}" for i in range(1000)]})
    pa_csv.write_csv(pa.concat_tables([block] * (ROWS // 1000)), str(path))
    return path


@pytest.fixture(scope="module")
def owner() -> Generator[tiercube.Session]:
    with tiercube.Session.start(SECURED) as started:
        yield started


def connection(session: SessionCore) -> Connection:
    return session._connection  # pyright: ignore[reportPrivateUsage]


def asked(session: SessionCore, load_id: str) -> LoadProgress:
    return connection(session).json("GET", paths.path(paths.LOAD_PROGRESS, load=load_id), LoadProgress)


def test_the_caller_sees_its_load_read_up_to_the_total_and_no_one_else_sees_it(owner: tiercube.Session, big_csv: Path) -> None:
    with (
        tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.LocalSession) as admin,
        tiercube.connect(owner.url, authentication=USER) as user,
    ):
        answers: list[LoadResult] = []
        body = Read(table="big", source=CsvSource(str(big_csv)), load_id=LOAD_ID)
        loading = threading.Thread(target=lambda: answers.append(connection(admin).json("POST", paths.READ, LoadResult, body)))
        seen: list[LoadProgress] = []
        loading.start()
        while loading.is_alive():
            now = asked(admin, LOAD_ID)
            if now.bytes_total is not None:
                seen.append(now)
                # Another caller asking for the same id, even one who may load (the owner), learns nothing;
                # one who may not load is refused.
                assert asked(owner, LOAD_ID) == NOTHING_KNOWN
                try:
                    assert asked(user, LOAD_ID) == NOTHING_KNOWN
                except PermissionDeniedError:
                    pass
            time.sleep(0.01)
        loading.join()
        assert asked(admin, LOAD_ID) == NOTHING_KNOWN  # finished: nothing is kept
    assert answers and answers[0].rows_loaded == ROWS
    size = os.path.getsize(big_csv)
    assert {answer.bytes_total for answer in seen} == {size}
    done = [answer.bytes_done for answer in seen]
    assert done == sorted(done), done
    assert any(0 < d < size for d in done), done  # seen part-way
    assert done[-1] == size, done  # and read up to the end, before the table was built


def test_counting_reads_every_byte_and_an_id_is_used_once(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(200_000)))
    size = path.stat().st_size
    loads = LoadsUnderWay()
    with loads.following("admin", LOAD_ID), path.open("rb") as file:
        assert pa_csv.read_csv(load_progress.counted(file, size)).num_rows == 200_000
        assert loads.progress("admin", LOAD_ID) == LoadProgress(size, size)
        assert loads.progress("user", LOAD_ID) == NOTHING_KNOWN
        with pytest.raises(ConflictError, match="give each load a new random id"), loads.following("admin", LOAD_ID):
            pass
    assert loads.progress("admin", LOAD_ID) == NOTHING_KNOWN
    with path.open("rb") as file:  # a load nobody follows reads its file untouched
        assert load_progress.counted(file, size) is file


def test_progress_line() -> None:
    label = "reading 'big' (200.0 MB)"
    assert progress_line("reading 'big'", label, 3.25, None) == "reading 'big' (200.0 MB):   3.2 s"
    assert progress_line("reading 'big'", label, 3.25, NOTHING_KNOWN) == "reading 'big' (200.0 MB):   3.2 s"
    mb = 1_000_000
    assert progress_line("reading 'big'", label, 0.5, LoadProgress(0, 200 * mb)) == "reading 'big': 0.0 / 200.0 MB, starting"
    assert progress_line("reading 'big'", label, 2.0, LoadProgress(80 * mb, 200 * mb)) == "reading 'big': 80.0 / 200.0 MB, 40.0 MB/s, 3 s left"
    assert progress_line("reading 'big'", label, 1.0, LoadProgress(mb, 2000 * mb)) == "reading 'big': 1.0 / 2,000.0 MB, 1.0 MB/s, 33 min 19 s left"
    assert progress_line("reading 'big'", label, 5.0, LoadProgress(200 * mb, 200 * mb)) == "reading 'big': 200.0 / 200.0 MB, 40.0 MB/s, finishing"
