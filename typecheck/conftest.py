"""One session of every tier for the whole typecheck/ suite (per xdist worker): the files only read
what the fixture prepared or work on tables of their own names."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.tiers import Sources, Tiers, all_tiers, sales_sources


@pytest.fixture(scope="session")
def tiers(tmp_path_factory: pytest.TempPathFactory) -> Generator[Tiers]:
    with all_tiers(tmp_path_factory.mktemp("tiers")) as sessions:
        yield sessions


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Generator[Sources]:
    with sales_sources(tmp_path_factory.mktemp("sources")) as made:
        yield made
