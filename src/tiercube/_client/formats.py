"""Number formats of measures: stored with the measure on the server, shown by every display.

``cube.measures.set_format("share", tiercube.Format.percent(1))`` is one request; the format is
kept (and journaled) with the measure, comes back in the cube's description and with every
answer's column (as Arrow field metadata, so a ``MinimalSession`` sees it too), and is what the
explorer's grid, ``tiercube.show(result)`` and exports' display form use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import msgspec

from tiercube._public import public
from tiercube._wire.cubes import FORMAT_METADATA, FormatStyle, NumberFormat

# The symbols JavaScript's Intl.NumberFormat("en-US") uses, so Python and the explorer agree;
# any other currency is written as its code and a no-break space, as Intl does.
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "CN¥", "KRW": "₩", "BRL": "R$", "CAD": "CA$", "AUD": "A$"}

# Intl.NumberFormat's defaults when no decimals are given: up to 3 for a number, none for a percent.
_DEFAULT_DECIMALS: dict[FormatStyle, int] = {"number": 3, "percent": 0, "currency": 2}


@public
@dataclass(frozen=True)
class Format:
    """How a measure's numbers are shown: ``Format.number(2)`` (``12,345.68``),
    ``Format.percent(1)`` (0.11 as ``11.0%``), ``Format.currency("EUR")`` (``€12,345.68``).

    ``decimals`` None shows as many as the value has, up to 3 for a number (``12,345.679``)
    and none for a percent; ``thousands`` puts a separator every three digits. Set one
    with ``cube.measures.set_format(name, format)``; read it back as ``cube.measures[name].format``.
    A format changes how numbers are shown, never the numbers a query answers.
    """

    style: FormatStyle = "number"
    decimals: int | None = None
    thousands: bool = True
    currency_code: str | None = None

    def __post_init__(self) -> None:
        self._to_wire()  # the wire's checks, with their messages, at construction

    @classmethod
    def number(cls, decimals: int | None = None, *, thousands: bool = True) -> Format:
        """Plain numbers, with ``decimals`` digits after the point (None: up to 3, as needed)."""
        return cls("number", decimals, thousands)

    @classmethod
    def percent(cls, decimals: int = 0, *, thousands: bool = True) -> Format:
        """Shares as percents: 0.11 shows as ``11%``, or ``11.0%`` with ``decimals=1``."""
        return cls("percent", decimals, thousands)

    @classmethod
    def currency(cls, code: str, decimals: int = 2, *, thousands: bool = True) -> Format:
        """Amounts in the currency ``code`` (ISO 4217: ``"EUR"``, ``"USD"``): ``€1,234.50``."""
        return cls("currency", decimals, thousands, code)

    def _to_wire(self) -> NumberFormat:
        """The format as the server keeps it; ``ValueError`` names what is wrong with it."""
        return NumberFormat(self.style, self.decimals, self.thousands, self.currency_code)

    def __call__(self, value: object) -> str:
        """``value`` as this format shows it: ``""`` for null, ``str(value)`` for what is not a number."""
        return format_value(self._to_wire(), value)


def format_from_wire(wire: NumberFormat) -> Format:
    """The format a server sent."""
    return Format(wire.style, wire.decimals, wire.thousands, wire.currency)


def format_value(format: NumberFormat, value: object) -> str:
    """``value`` shown as ``format`` says, as JavaScript's ``Intl.NumberFormat("en-US")`` would."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("-∞" if value < 0 else "∞")
    # The exact value, rounded half away from zero as Intl does (Python's own formatting rounds half to even).
    exact = Decimal(value) * (100 if format.style == "percent" else 1)
    fixed = format.decimals is not None
    decimals = format.decimals if format.decimals is not None else _DEFAULT_DECIMALS[format.style]
    rounded = abs(exact).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    digits = f"{rounded:{',' if format.thousands else ''}.{decimals}f}"
    if not fixed and "." in digits:
        digits = digits.rstrip("0").rstrip(".")  # "as many as it has": 2.5, not 2.500
    sign = "-" if exact < 0 and digits.strip("0.,") else ""
    if format.style == "percent":
        return f"{sign}{digits}%"
    if format.style == "currency" and format.currency is not None:
        symbol = _SYMBOLS.get(format.currency, f"{format.currency}\u00a0")
        return f"{sign}{symbol}{digits}"
    return f"{sign}{digits}"


def read_format(metadata: dict[bytes, bytes] | None) -> NumberFormat | None:
    """The format an answer's field carries, if any (and it is one this client understands)."""
    raw = (metadata or {}).get(FORMAT_METADATA)
    if raw is None:
        return None
    try:
        return msgspec.json.decode(raw, type=NumberFormat)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None  # a newer server's format: the numbers are still shown, as they come
