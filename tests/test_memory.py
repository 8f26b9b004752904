"""The memory governor: work that would not fit is refused before it starts, and nothing is lost.

The engine-level tests give a ``TableStore`` a limit just above what this
process holds. The server tests run ``tiercube serve`` inside a memory cgroup
of its own (the kernel's limit, as a container has), where the same query and
load got the server killed before the governor: now they are refused with an
error naming the limit, every table is intact, and the server answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

import tiercube
from tests.conftest import ADMIN, SECURED_TOML, write_config
from tiercube._server.engine.cubes.store import CubeStore
from tiercube._server.engine.memory import MemoryGovernor, machine_memory, resident_bytes
from tiercube._server.engine.tables import TableStore
from tiercube._wire.cubes import CreateCube, CubeQuery
from tiercube._wire.messages import Column, CreateTable, TableQuery
from tiercube._server.engine.visibility import EVERYTHING


def _names(count: int, start: int = 0) -> pa.Array[Any]:
    """``count`` distinct customer names."""
    names: pa.Array[Any] = pa.array(np.char.add("customer-", np.arange(start, start + count).astype(str)), pa.string())
    return names


def _integers(values: npt.NDArray[np.int64]) -> pa.Array[Any]:
    array: pa.Array[Any] = pa.array(values, pa.int64())
    return array


def limited(tables: TableStore, room: int) -> MemoryGovernor:
    """``tables``' governor, limited from now on to what this process holds plus ``room`` bytes."""
    pa.default_memory_pool().release_unused()  # what the governor would give back first
    tables.memory.limit = resident_bytes() + room
    return tables.memory


def test_a_query_that_would_not_fit_is_refused_and_a_small_one_still_answers() -> None:
    tables = TableStore()
    cubes = CubeStore(tables)
    tables.create(CreateTable("sales", [Column("name", "string"), Column("region", "string"), Column("qty", "int64")]))
    count = 400_000
    tables.add(tables.get("sales"), pa.table({"name": _names(count), "region": pa.array(["EU", "US"] * (count // 2)), "qty": _integers(np.ones(count, np.int64))}), "test")
    cubes.create_cube(CreateCube("sales"))
    memory = limited(tables, 48 << 20)
    with pytest.raises(tiercube.ResourceExhaustedError) as refused:
        cubes.query("sales", CubeQuery(["qty.SUM"], ["name"]))
    assert refused.value.limit == memory.limit and refused.value.needed is not None and refused.value.needed > 48 << 20
    assert "memory_limit" in str(refused.value) and "fewer levels" in str(refused.value)
    # The table is as it was, and a query that fits is answered.
    assert tables.get("sales").rows.num_rows == count
    assert cubes.query("sales", CubeQuery(["qty.SUM"], ["region"])).to_pylist() == [
        {"region": "EU", "qty.SUM": count // 2},
        {"region": "US", "qty.SUM": count // 2},
    ]


def test_a_grouping_bounded_by_its_dictionaries_is_not_counted_nor_refused() -> None:
    """A date level over many rows is bounded by its range, not by the rows: no false refusal."""
    tables = TableStore()
    cubes = CubeStore(tables)
    tables.create(CreateTable("sales", [Column("day", "date"), Column("qty", "int64")]))
    count = 2_000_000
    days = pa.array(np.arange(count) % 730, pa.int32()).cast(pa.date32())
    tables.add(tables.get("sales"), pa.table({"day": days, "qty": _integers(np.ones(count, np.int64))}), "test")
    cubes.create_cube(CreateCube("sales"))
    limited(tables, 64 << 20)
    assert cubes.query("sales", CubeQuery(["qty.SUM"], ["day"])).num_rows == 730


def test_a_table_query_past_the_memory_left_is_refused_with_the_fix() -> None:
    tables = TableStore()
    tables.create(CreateTable("t", [Column("name", "string")]))
    tables.add(tables.get("t"), pa.table({"name": _names(600_000)}), "test")
    limited(tables, 24 << 20)
    with pytest.raises(tiercube.ResourceExhaustedError, match="pass max_rows or a filter"):
        tables.query("t", TableQuery(), EVERYTHING)
    assert tables.query("t", TableQuery(max_rows=10), EVERYTHING).num_rows == 10


def test_the_default_limit_is_below_the_machine_and_its_cgroup() -> None:
    config = tiercube.SessionConfig()
    assert config.memory_limit is None
    assert 0 < machine_memory() <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with pytest.raises(tiercube.InvalidRequestError, match="memory_limit must be positive"):
        tiercube.SessionConfig(memory_limit=0)


# A real server in a memory cgroup ------------------------------------------

CGROUP_LIMIT = 700 << 20


def _own_memory_cgroup() -> Path | None:
    """This process's memory cgroup directory, if the machine has one we may create cgroups in."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            directory = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            if (directory / "memory.limit_in_bytes").exists() and os.access(directory, os.W_OK):
                return directory
        if controllers == "" and (Path("/sys/fs/cgroup") / path.lstrip("/") / "memory.max").exists():
            directory = Path("/sys/fs/cgroup") / path.lstrip("/")
            if os.access(directory, os.W_OK):
                return directory
    return None


@pytest.fixture
def limited_server(tmp_path: Path) -> Generator[str]:
    """``tiercube serve`` in a new memory cgroup of CGROUP_LIMIT bytes (its default memory_limit follows)."""
    parent = _own_memory_cgroup()
    if parent is None:
        pytest.skip("this machine lets no process create a memory cgroup (needs root and a writable cgroup file system)")
    group = parent / f"tiercube-test-{os.getpid()}"
    group.mkdir()
    v1 = (group / "memory.limit_in_bytes").exists()
    (group / ("memory.limit_in_bytes" if v1 else "memory.max")).write_text(str(CGROUP_LIMIT))
    config = write_config(tmp_path, SECURED_TOML)
    # The server joins the cgroup before it starts: everything it allocates is counted.
    command = f'echo $$ > {group / "cgroup.procs"} && exec {sys.executable} -m tiercube._cli serve --config {config}'
    process = subprocess.Popen(["sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("tiercube session server at "), line + (process.stderr.read() if process.stderr else "")
        yield line.split()[4]
        assert process.poll() is None, "the server was killed"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)


@pytest.mark.slow
def test_under_a_container_limit_the_unique_group_by_and_the_oversized_load_are_refused(limited_server: str, tmp_path: Path) -> None:
    """Both get a server without the governor killed in this cgroup (measured: the query from 2.5 M rows,
    the load of 8 M rows, 219 MB of CSV, beside them)."""
    session = tiercube.connect(limited_server, authentication=ADMIN, require=tiercube.LocalSession)
    count = 2_500_000
    frame = pa.table({"name": _names(count), "qty": _integers(np.ones(count, np.int64))})
    sales = session.read_arrow(frame, table_name="sales")
    cube = session.create_cube(sales)
    with pytest.raises(tiercube.ResourceExhaustedError) as refused:
        cube.query("qty.SUM", levels=["name"])
    assert refused.value.limit is not None and refused.value.limit <= CGROUP_LIMIT
    # Nothing lost, and the server answers what fits.
    assert sales.row_count == count
    assert cube.query("qty.SUM").to_pylist() == [{"qty.SUM": count}]

    big = tmp_path / "big.csv"
    rows = 8_000_000
    pa_csv.write_csv(pa.table({"id": _integers(np.arange(rows)), "name": _names(rows), "qty": _integers(np.ones(rows, np.int64))}), big)
    with pytest.raises(tiercube.ResourceExhaustedError, match="memory_limit"):
        session.read_csv(big, table_name="big")
    assert "big" not in session.tables
    assert sales.row_count == count
    assert cube.query("qty.SUM").to_pylist() == [{"qty.SUM": count}]
