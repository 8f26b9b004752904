"""``@public``: what ``import tiercube`` offers is shown as ``tiercube.X``, wherever it is defined.

Reprs, tracebacks, ``help()`` and pickles name a class or function by its
``__module__``: ``tiercube.ReadOnlyTable``, not the private module that happens
to hold it (httpx does the same). A pickle then refers to ``tiercube.X``,
which ``tiercube``'s lazy loader resolves. tests/test_namespace.py holds the
decorated names equal to ``tiercube.__all__``.

The cost, as for httpx: ``inspect.getsource`` of a class looks for it in
``tiercube/__init__.py`` and fails before Python 3.13 (functions are found;
editors read the stubs and the defining modules, not ``__module__``).

A msgspec Struct resolves postponed annotations in the namespace its
``__module__`` names; a public Struct's module therefore must not postpone them
(``_config.py``), or its fields must need nothing but builtins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

Definition = TypeVar("Definition", bound=Callable[..., object])


def public(definition: Definition) -> Definition:
    """``definition``, shown as ``tiercube.<its name>``."""
    definition.__module__ = "tiercube"
    # Its public name is tiercube.<__name__>: a method read off its class (Session.connect) had another.
    setattr(definition, "__qualname__", getattr(definition, "__name__"))  # a class or a function: both have them
    return definition
