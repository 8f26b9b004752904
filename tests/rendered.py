"""HTML read back as a browser reads it, for the display tests (test_display.py, test_notebook.py)."""

from __future__ import annotations

from html.parser import HTMLParser

OUR_TAGS = {"div", "p", "strong", "em", "code", "table", "thead", "tbody", "tr", "th", "td", "details", "summary", "ul", "li"}
"""Every tag tiercube's displays use; a name that came through as markup would add one, or an attribute."""

BLOCKS = {"div", "p", "tr", "li", "summary", "details", "table"}


class Rendered(HTMLParser):
    """The elements of some HTML, and its text one block a line, the cells of a row joined by `` | ``.

    Whitespace that only lays out the markup (it holds a line break) is not text.
    Parsing fails on an element closed out of order or left open.
    """

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self._open: list[str] = []
        self._text: list[str] = []
        self._cells = 0
        self.feed(markup)
        self.close()
        assert not self._open, f"unclosed elements {self._open} in {markup}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._open.append(tag)
        if tag == "tr":
            self._cells = 0
        elif tag in ("td", "th"):
            if self._cells:
                self._text.append(" | ")
            self._cells += 1

    def handle_endtag(self, tag: str) -> None:
        assert self._open and self._open.pop() == tag, f"</{tag}> closes nothing open"
        if tag in BLOCKS:
            self._text.append("\n")

    def handle_data(self, data: str) -> None:
        if data.strip() or "\n" not in data:
            self._text.append(data)

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in "".join(self._text).splitlines() if line.strip()]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)
