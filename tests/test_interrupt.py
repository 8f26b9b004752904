"""Ctrl+C in a client during a long load: the server drops the load instead of finishing it.

Before, the server went on, the table appeared after the client had given up,
and the user's retry got a ConflictError.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED

ROWS = 4_000_000


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("interrupt") / "big.csv"
    ids = pa.array(range(ROWS), pa.int64())
    words = pa.array([f"w{i % 1000}" for i in range(1000)]).take(pa.array([i % 1000 for i in range(ROWS)]))
    pa_csv.write_csv(pa.table({"id": ids, "word": words, "other": words}), str(path))
    return path


def _busy(server: psutil.Process, since: float, timeout: float = 30) -> None:
    """Wait until ``server`` has used 0.1 s of CPU more than ``since``: it is parsing the file."""
    deadline = time.monotonic() + timeout
    while sum(server.cpu_times()[:2]) < since + 0.1 and time.monotonic() < deadline:
        time.sleep(0.01)


def test_ctrl_c_during_a_load_cancels_it_on_the_server(big_csv: Path) -> None:
    others = {child.pid for child in psutil.Process().children()}
    with tiercube.Session.start(SECURED) as owner:
        (server,) = [child for child in psutil.Process().children() if child.pid not in others]
        client = f"""
import tiercube
from tests.conftest import ADMIN
session = tiercube.connect({owner.url!r}, authentication=ADMIN, require=tiercube.LocalSession)
print("loading", flush=True)
session.read_csv({str(big_csv)!r}, table_name="big")
print("loaded", flush=True)
"""
        process = subprocess.Popen(
            [sys.executable, "-c", client], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True, cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == "loading\n"
            _busy(server, sum(server.cpu_times()[:2]))  # not a fixed delay: on a fast machine the load could be over
            os.killpg(process.pid, signal.SIGINT)
            out, errors = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert "loaded" not in out
        # One line says what was cancelled and that nothing changed, after a short traceback of the
        # caller's own frames: none of httpx's.
        assert errors.rstrip().endswith(
            "KeyboardInterrupt: reading 'big' was cancelled: the server drops a load whose client has gone, so no table 'big' was created"
        ), errors
        assert "httpx" not in errors and "httpcore" not in errors, errors
        assert errors.count('File "') <= 5, errors
        # The server noticed, finished parsing, and dropped the result instead of keeping it.
        deadline = time.monotonic() + 60
        while "the client went away" not in owner.logs_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "the client went away" in owner.logs_path.read_text()
        assert "big" not in owner.tables
        # So trying again works at once.
        with tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.LocalSession) as session:
            assert session.read_csv(big_csv, table_name="big").row_count == ROWS
