"""Arrow IPC streams: the one encoding of table data in both directions."""

from __future__ import annotations

import pyarrow as pa


def encode(table: pa.Table) -> bytes:
    """Serialize ``table`` as an uncompressed IPC stream (decoding it is zero copy)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def decode(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()
