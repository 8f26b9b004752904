"""``wire_form(x)``: the message a public object travels as, without a public method that shows wire types.

Conditions, measures, calculated columns, ``Top`` and load sources each know
their wire form (``_to_wire``). The method is private so that the public
classes' signatures name no ``tiercube._wire`` type (editors, ``help()`` and
``pyright --verifytypes`` show only public ones); the client's modules reach it
through this one function.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

Wire_co = TypeVar("Wire_co", covariant=True)


class HasWireForm(Protocol[Wire_co]):
    """An object the client sends as a wire message."""

    def _to_wire(self) -> Wire_co: ...


def wire_form(item: HasWireForm[Wire_co]) -> Wire_co:
    """The wire message ``item`` travels as."""
    return item._to_wire()  # pyright: ignore[reportPrivateUsage]  # the one reader of the private method
