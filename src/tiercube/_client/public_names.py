"""``PublicNames``: ``dir()`` of a public object lists no private names, so live completion offers none.

IPython and jedi complete a live object (a notebook after its cell ran) from
``dir()``: without this they offered ``_connection``, ``_missing``, ``_can``...
Static completion (jedi reading the source before anything ran) is not
affected: it reads the class bodies, and lists private names last.
"""

from __future__ import annotations


class PublicNames:
    """A base whose instances' ``dir()`` holds public and dunder names only."""

    __slots__ = ()

    def __dir__(self) -> list[str]:
        return [name for name in super().__dir__() if not name.startswith("_") or name.startswith("__")]
