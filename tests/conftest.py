"""Fixtures: real server processes on loopback, real files, real credentials; Hypothesis profiles."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest
from hypothesis import settings

import tiercube
from tests.fake_s3 import shared_fake_s3

HYPOTHESIS_PROFILE_VARIABLE = "TIERCUBE_HYPOTHESIS"
HYPOTHESIS_SCALES = {"ci": 1, "nightly": 10}
"""Hypothesis profiles, and how many times its CI budget each property test runs under each (``examples``)."""
HYPOTHESIS_PROFILE = os.environ.get(HYPOTHESIS_PROFILE_VARIABLE, "ci")


def _load_hypothesis_profile() -> None:
    if HYPOTHESIS_PROFILE not in HYPOTHESIS_SCALES:
        raise ValueError(f"{HYPOTHESIS_PROFILE_VARIABLE}={HYPOTHESIS_PROFILE!r}: choose one of {', '.join(HYPOTHESIS_SCALES)}")
    for name, scale in HYPOTHESIS_SCALES.items():
        # No deadline: an example's wall time on a shared 2-core runner measures the runner's
        # load, not the code (one property test took 38 s idle and 236 s under load); what bounds
        # a test is its number of examples. print_blob: a failure in CI prints how to reproduce it.
        settings.register_profile(name, max_examples=25 * scale, deadline=None, print_blob=True)
    settings.load_profile(HYPOTHESIS_PROFILE)


_load_hypothesis_profile()


def examples(ci: int) -> int:
    """A property test's budget: ``ci`` examples in CI, ten times that under ``TIERCUBE_HYPOTHESIS=nightly``.

    Set it so that no single property test dominates the suite (about ten seconds
    on an idle 2-core machine); the nightly profile is for looking harder.
    """
    return ci * HYPOTHESIS_SCALES[HYPOTHESIS_PROFILE]


ADMIN = tiercube.BasicAuthentication("admin", "admin-password")
USER = tiercube.BasicAuthentication("user", "user-password")

SECURED = tiercube.SessionConfig(
    users=[
        tiercube.UserConfig(name=ADMIN.username, password=ADMIN.password, roles=["ROLE_ADMIN"]),
        tiercube.UserConfig(name=USER.username, password=USER.password, roles=["ROLE_USER"]),
    ],
    # Tests send wrong passwords on purpose, all from 127.0.0.1; test_hostile.py checks the default limit.
    max_failed_logins_per_minute=10_000,
    cloud_stores=[tiercube.CloudStore(name="test", endpoint=shared_fake_s3().endpoint, anonymous=True)],
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a ``slow`` test first, then the others, each file's tests in their order.

    ``dev.py test`` hands whole files to its 2 workers in this order (``--dist
    loadfile --no-loadscope-reorder``), so the long files start at once and short
    ones fill in at the end. xdist's own order (most tests first) started the
    85 s benchmark smoke test last, with the other worker idle behind it.
    """
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``distributable`` runs twice: its tables held by the session server, then all
    of them on a Dask cluster of 2 worker processes. Same tests, same expected results: the typed
    API must not tell the two apart."""
    if metafunc.definition.get_closest_marker("distributable") and "placement" in metafunc.fixturenames:
        metafunc.parametrize("placement", ["server", "cluster"], indirect=True, scope="module")


@pytest.fixture(scope="module")
def placement(request: pytest.FixtureRequest) -> str:
    """Where a module's tables live: "server", or "cluster" (see ``pytest_generate_tests``)."""
    return str(getattr(request, "param", "server"))


@pytest.fixture(scope="session")
def dask_scheduler() -> Generator[str]:
    """A real Dask LocalCluster (2 worker processes, 1 thread each) for this test process; its address."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def placed(config: tiercube.SessionConfig, placement: str, request: pytest.FixtureRequest) -> tiercube.SessionConfig:
    """``config``, with every table on the cluster when ``placement`` is "cluster"."""
    if placement != "cluster":
        return config
    return msgspec.structs.replace(config, cluster=request.getfixturevalue("dask_scheduler"), distribute_over_rows=0)


@pytest.fixture(scope="module")
def owner(placement: str, request: pytest.FixtureRequest) -> Generator[tiercube.Session]:
    """A secured session shared by a test module; tests use table names of their own."""
    with tiercube.Session.start(placed(SECURED, placement, request)) as session:
        yield session


@pytest.fixture
def fresh_owner() -> Generator[tiercube.Session]:
    """A secured session of one's own, for tests that change server-wide state."""
    with tiercube.Session.start(SECURED) as session:
        yield session


@contextmanager
def serve(*args: str, config: str | None = None, prefix: list[str] | None = None) -> Generator[str]:
    """Run ``tiercube serve`` (optionally under ``prefix``, e.g. unshare) and yield its URL."""
    command = [*(prefix or []), sys.executable, "-m", "tiercube._cli", "serve", *args]
    if config is not None:
        command += ["--config", config]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("tiercube session server at "):
            process.kill()
            _, errors = process.communicate(timeout=10)
            raise RuntimeError(f"tiercube serve did not start: {line!r} {errors[-2000:]}")
        yield line.split()[4]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_config(directory: Path, body: str) -> str:
    path = directory / "tiercube.toml"
    path.write_text(body)
    return str(path)


SECURED_TOML = (
    """
max_failed_logins_per_minute = 10000

[[users]]
name = "admin"
password = "admin-password"
roles = ["ROLE_ADMIN"]

[[users]]
name = "user"
password = "user-password"
roles = ["ROLE_USER"]
"""
    + shared_fake_s3().toml
)


@pytest.fixture
def sales_csv(tmp_path: Path) -> Path:
    path = tmp_path / "sales.csv"
    path.write_text(
        "id,region,product,qty,price,day\n"
        "1,EU,apple,3,1.5,2024-01-01\n"
        "2,US,pear,4,2.0,2024-01-02\n"
        "3,EU,pear,5,,2024-01-03\n"
        "4,ASIA,apple,1,0.5,2024-01-04\n"
    )
    return path


def python_subprocess(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (a second process, as a colleague would)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ, **env}
    )
