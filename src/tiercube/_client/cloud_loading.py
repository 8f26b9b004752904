"""Loading from cloud storage: what every editing tier may load, wherever it runs."""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import Unpack

from tiercube._client.editing import EditableTable, EditableTables, Editing
from tiercube._client.sources import (
    CsvLoad,
    CsvReadOptions,
    ParquetLoad,
    ReadOptions,
    S3Location,
    checked,
    csv_source,
    default_table_name,
)
from tiercube._client.wire_form import HasWireForm, wire_form
from tiercube._public import public
from tiercube._wire.messages import CsvSource, OnDuplicateKeys, ParquetSource


@public
class CloudTable(EditableTable):
    """An editable table that loads from cloud storage (the server reads the object itself)."""

    _can: ClassVar[tuple[str, ...]] = (*EditableTable._can, "load (cloud storage)")

    def load(self, source: CsvLoad[S3Location] | ParquetLoad[S3Location], /, *, on_duplicate_keys: OnDuplicateKeys = "error") -> int:
        """Load a cloud CSV or Parquet object into this table; returns the rows read.

        A key that comes more than once in the object refuses the load (``LoadError`` naming it),
        unless ``on_duplicate_keys="last"`` keeps its last row; either way a row whose key the
        table holds already replaces that row.
        """
        if not isinstance(source.path, S3Location):
            raise TypeError(
                f"{source!r} names a local path, which this session cannot load: the server does not "
                "share this machine's file system (see session.capabilities, condition d)"
            )
        loadable: HasWireForm[CsvSource | ParquetSource] = source  # declared: mypy would join the two forms to Struct
        return self._load(wire_form(loadable), on_duplicate_keys)


class CloudLoading(Editing[CloudTable]):
    """``read_csv`` and ``read_parquet`` of ``S3Location`` objects."""

    @property
    def tables(self) -> EditableTables[CloudTable]:
        """The tables by name; ``del tables[name]`` deletes one."""
        return _CloudTables(self._connection, CloudTable)

    def _table(self, name: str) -> CloudTable:
        return CloudTable(self._connection, name)

    def read_csv(self, location: S3Location, /, *, table_name: str | None = None, **options: Unpack[CsvReadOptions]) -> CloudTable:
        """Create a table from a CSV object in cloud storage, inferring its column types."""
        _check_cloud(location)
        checked("read_csv", options, CsvReadOptions)
        return self._read(csv_source(location, options), table_name or default_table_name(location), options)

    def read_parquet(self, location: S3Location, /, *, table_name: str | None = None, **options: Unpack[ReadOptions]) -> CloudTable:
        """Create a table from a Parquet object in cloud storage."""
        _check_cloud(location)
        checked("read_parquet", options, ReadOptions)
        return self._read(ParquetSource(wire_form(location)), table_name or default_table_name(location), options)


def _check_cloud(location: object) -> None:
    if not isinstance(location, S3Location):
        raise TypeError(
            f"{location!r} is not an S3Location: this session does not share the server's file system, "
            "so it can only load from cloud storage"
        )


class _CloudTables(EditableTables[CloudTable]):
    """``EditableTables[CloudTable]`` as a class of its own, so that jedi completes its items (see ``views.ObjectMapping``)."""
