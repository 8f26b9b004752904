"""Answers shown for people: ``tiercube.show(result)`` in a terminal, and in notebooks on their own.

Every answer is a plain ``pyarrow.Table`` (pyarrow's classes cannot be subclassed), whose own
text is a type dump (``pyarrow.Table\\nregion: string ... ----``). ``show`` gives a grid instead:
aligned columns, thousands separators, each measure in its format (``Format.percent(1)``'s
0.11 as ``11.0%``), and the row count. In a notebook, the answers a session returns show as that
grid by themselves: the client registers an HTML formatter with IPython for the tables it marked
as its answers (``ANSWER_METADATA``), and leaves every other ``pyarrow.Table`` as pyarrow shows it.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from tiercube._client.display import Html, tag
from tiercube._client.formats import format_value, read_format
from tiercube._public import public
from tiercube._wire.cubes import NumberFormat

if TYPE_CHECKING:
    import pyarrow as pa

ANSWER_METADATA = b"tiercube.answer"
"""Schema metadata the client puts on the answers it returns (what answered them); IPython shows only those as a grid."""

SHOWN_ROWS = 20
"""Rows ``show`` prints by default: the first half and the last half of a longer answer."""

_PLAIN = NumberFormat()  # numbers without a format of their own: thousands separators, up to 3 decimals


@public
class ShownResult:
    """An answer as people read it: ``str()`` is an aligned text grid, ``_repr_html_`` a notebook table.

    Made by ``tiercube.show(result)``; ``to_csv()`` writes the same display form (numbers as
    shown, ``11.0%``), for a spreadsheet a person reads; the answer itself is ``table``.
    """

    __slots__ = ("table", "max_rows")

    def __init__(self, table: pa.Table, max_rows: int = SHOWN_ROWS) -> None:
        self.table: pa.Table = table
        self.max_rows: int = max_rows

    def _cells(self, rows: Sequence[int] | None = None) -> tuple[list[str], list[list[str]], list[bool]]:
        """Header, the rows shown (all when ``rows`` is None) as text, and which columns are numbers."""
        import pyarrow as pa

        table = self.table
        wanted = range(table.num_rows) if rows is None else rows
        columns: list[list[str]] = []
        numeric: list[bool] = []
        schema = table.schema
        for index, (data_type, column) in enumerate(zip(schema.types, table.columns, strict=True)):
            fmt = read_format(table.field(index).metadata) or _PLAIN
            values = column.take(pa.array(list(wanted), pa.int64())).to_pylist() if rows is not None else column.to_pylist()
            is_number = pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_decimal(data_type)
            numeric.append(is_number)
            columns.append([format_value(fmt, v) if is_number else ("null" if v is None else str(v)) for v in values])
        body = [list(row) for row in zip(*columns, strict=True)] if columns else []
        return list(table.column_names), body, numeric

    def _shown(self) -> tuple[list[int], int]:
        """The row indexes shown (the first and last half of ``max_rows``) and how many are left out."""
        total = self.table.num_rows
        if total <= self.max_rows:
            return list(range(total)), 0
        head = (self.max_rows + 1) // 2
        tail = self.max_rows - head
        return [*range(head), *range(total - tail, total)], total - self.max_rows

    def _footer(self) -> str:
        rows, columns = self.table.num_rows, self.table.num_columns
        return f"{rows:,} row{'s' if rows != 1 else ''} x {columns} column{'s' if columns != 1 else ''}"

    def __str__(self) -> str:
        shown, left_out = self._shown()
        header, body, numeric = self._cells(shown)
        head = len(shown) - (self.max_rows - (self.max_rows + 1) // 2) if left_out else len(shown)
        lines = [header, *body[:head], *([["..."] * len(header)] if left_out else []), *body[head:]]
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        text = ["  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(line, widths, numeric, strict=True)).rstrip() for line in lines]
        text.insert(1, "  ".join("-" * w for w in widths))
        more = f" ({left_out:,} not shown; show(result, max_rows=...) shows more)" if left_out else ""
        return "\n".join([*text, self._footer() + more])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        """For notebooks: the same grid as an HTML table (escaped: member names are data)."""
        shown, left_out = self._shown()
        header, body, numeric = self._cells(shown)

        def row(cells: list[str]) -> Html:
            return Html("<tr>" + "".join(f'<td style="text-align:{"right" if n else "left"}">{tag("span", c)}</td>' for c, n in zip(cells, numeric, strict=True)) + "</tr>")

        head = (self.max_rows + 1) // 2 if left_out else len(body)
        gap = [Html(f'<tr><td colspan="{len(header)}">{tag("em", f"... {left_out:,} more rows")}</td></tr>')] if left_out else []
        rows = [row(cells) for cells in body[:head]] + gap + [row(cells) for cells in body[head:]]
        table = Html("<table>" + tag("thead", tag("tr", *(tag("th", name) for name in header))) + "<tbody>" + "".join(rows) + "</tbody></table>")
        return Html('<div class="tiercube">' + table + tag("p", tag("em", self._footer())) + "</div>")

    def to_csv(self) -> str:
        """Every row as CSV text in the display form: numbers as shown (``11.0%``, ``€1,234.50``)."""
        header, body, _ = self._cells()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
        return out.getvalue()


@public
def show(result: pa.Table, /, *, max_rows: int = SHOWN_ROWS) -> ShownResult:
    """``result`` as people read it: ``print(tiercube.show(result))`` prints an aligned grid,
    numbers with thousands separators and each measure in the format the server keeps for it,
    then the row count (at most ``max_rows`` rows: the first and last ones)."""
    return ShownResult(result, max_rows)


def answered(table: pa.Table, by: str) -> pa.Table:
    """``table`` marked as an answer of this client (metadata only, no copy); ``by`` says what answered it."""
    show_in_notebooks()
    return table.replace_schema_metadata({**(table.schema.metadata or {}), ANSWER_METADATA: by.encode()})


@cache
def show_in_notebooks() -> None:
    """Have IPython (Jupyter, VS Code) show this client's answers as ``show`` does; once per process, and only in IPython."""
    ipython = sys.modules.get("IPython")
    shell = cast(Any, ipython).get_ipython() if ipython is not None else None
    if shell is None:
        return
    import pyarrow as pa

    shell.display_formatter.formatters["text/html"].for_type(pa.Table, _notebook_html)


def _notebook_html(table: pa.Table) -> str | None:
    """The grid for an answer of this client; None (IPython's own display) for any other table."""
    if ANSWER_METADATA not in (table.schema.metadata or {}):
        return None
    return ShownResult(table)._repr_html_()  # pyright: ignore[reportPrivateUsage]
