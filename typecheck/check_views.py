"""Saved views: ``session.views`` is on the tiers that read the model, typed down to each view's table.

Positive cases are ``assert_type``; negative cases sit under
``TYPE_CHECKING_INVALID_USAGE`` with one ignore per checker, and every checker
fails on an ignore it does not need. The function also runs under pytest
against a real server, so the static types are held to the runtime objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, assert_type

import pyarrow as pa

from tests.tiers import Tiers
from tiercube import MinimalSession, ReadOnlySession, SavedView, SavedViews, ViewDefinition
from tiercube.capabilities import SupportsReadModel

TYPE_CHECKING_INVALID_USAGE = TYPE_CHECKING


def keep_a_view(session: ReadOnlySession) -> pa.Table:
    """Save, open, share, run and delete a view: every step typed."""
    views = session.views
    assert_type(views, SavedViews)
    definition = ViewDefinition("sales", ["qty.SUM"], rows=["region"], totals=True, chart="bar")
    saved = views.save("by region", definition, shared_with=["ROLE_USER"])
    assert_type(saved, SavedView)
    opened = views["by region"]
    assert_type(opened.definition, ViewDefinition)
    assert_type(opened.shared_with, tuple[str, ...])
    shared = opened.share("EUROPE")
    assert_type(shared.link, str)
    table = shared.query()
    assert_type(table, pa.Table)
    del views["by region"]
    if TYPE_CHECKING_INVALID_USAGE:
        # A view is saved from a definition, not from a fragment's text or a cube's name.
        views.save("by region", "cube=sales&rows=region")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
        # The explorer draws a grid, bars, lines or a heat map: nothing else is a chart.
        ViewDefinition("sales", ["qty.SUM"], chart="pie")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]  # pyrefly: ignore[bad-argument-type]  # ty: ignore[invalid-argument-type]
    return table


def any_reader_keeps_views(session: SupportsReadModel) -> list[str]:
    """``views`` is part of reading the model: any tier that reads it has them."""
    return list(session.views)


def minimal_has_no_views(session: MinimalSession) -> None:
    if TYPE_CHECKING_INVALID_USAGE:
        # A MinimalSession knows only the query API (any server's): saved views are not on it.
        session.views  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # pyrefly: ignore[missing-attribute]  # ty: ignore[missing-attribute]


def test_views_at_runtime(tiers: Tiers) -> None:
    table = keep_a_view(tiers.read_only)
    assert table.column_names == ["region", "qty.SUM"] and table.num_rows > 1
    assert "by region" not in any_reader_keeps_views(tiers.read_only)
    assert not hasattr(tiers.minimal, "views") and isinstance(tiers.read_only, SupportsReadModel)
