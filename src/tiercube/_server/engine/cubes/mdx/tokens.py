"""MDX text as tokens, and a cursor over them that the parsers share."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tiercube._wire.cubes import MAX_MDX_CHARACTERS
from tiercube.errors import QueryError

_TOKEN = re.compile(
    r"""\s+|--[^\n]*|//[^\n]*|/\*.*?\*/           # blanks and comments
    |(?P<name>&?\[(?:[^\]]|\]\])*\])                # [bracketed] or &[key]
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<number>\d+(?:\.\d+)?)
    |(?P<punct>[{}(),.*+\-/])""",
    re.VERBOSE | re.DOTALL,
)
MAX_MDX_DEPTH = 64


@dataclass(frozen=True)
class Token:
    kind: str  # name, word, number, punct, end
    text: str
    position: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def tokenize(mdx: str) -> list[Token]:
    if len(mdx) > MAX_MDX_CHARACTERS:
        raise QueryError(f"MDX: the query has {len(mdx)} characters, over the server's limit of {MAX_MDX_CHARACTERS}")
    tokens: list[Token] = []
    position = 0
    while position < len(mdx):
        match = _TOKEN.match(mdx, position)
        if match is None:
            raise QueryError(f"MDX: unexpected character {mdx[position]!r} at position {position}")
        if match.lastgroup is not None:
            text = match.group(match.lastgroup)
            if match.lastgroup == "name":
                text = text.lstrip("&")[1:-1].replace("]]", "]")
            tokens.append(Token(match.lastgroup, text, position))
        position = match.end()
    tokens.append(Token("end", "", len(mdx)))
    return tokens


class Cursor:
    """A position in the tokens, and how deep sets, tuples and functions are nested there."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def accept(self, *words: str) -> bool:
        if self.current.kind in ("word", "punct") and self.current.upper in words:
            self.index += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.accept(word):
            found = self.current.text or "the end of the query"
            raise QueryError(f"MDX: expected {word} at position {self.current.position}, found {found!r}")

    def looking_at(self, text: str) -> bool:
        """Whether the current token is ``text`` (punctuation, as written)."""
        return self.current.text == text

    def nested(self) -> None:
        """One level deeper (the caller steps back out with ``self.depth -= 1``); refused past ``MAX_MDX_DEPTH``."""
        self.depth += 1
        if self.depth > MAX_MDX_DEPTH:
            raise QueryError(f"MDX: sets, tuples and functions are nested more than {MAX_MDX_DEPTH} deep (the server's limit)")

    def unexpected(self) -> QueryError:
        token = self.current
        return QueryError(f"MDX: unexpected {token.text or 'end of query'!r} at position {token.position}")
