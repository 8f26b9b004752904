"""Number formats stored with the measure on the server: set from Python, kept in the data directory,
described with the cube, sent with every answer, and used by ``tiercube.show``. Real servers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import tiercube
from tests.conftest import ADMIN, SECURED, SECURED_TOML, USER, write_config
from tests.durable import SNAPSHOTS_ONLY_AT_STOP, Served, admin
from tests.rendered import Rendered

SALES = Path(__file__).resolve().parent.parent / "examples" / "sales.csv"


def test_formats_show_numbers_as_intl_would() -> None:
    assert tiercube.Format.percent(1)(0.1101) == "11.0%"
    assert tiercube.Format.percent()(0.5) == "50%"
    assert tiercube.Format.number(2)(1234567.891) == "1,234,567.89"
    assert tiercube.Format.number()(2.5) == "2.5"
    assert tiercube.Format.number()(1234.56789) == "1,234.568"
    assert tiercube.Format.number(0, thousands=False)(-1234.5) == "-1235"  # half away from zero, as Intl
    assert tiercube.Format.number(2)(2.675) == "2.67"  # the float is 2.67499999...: Intl says 2.67 too
    assert tiercube.Format.currency("EUR")(1234.5) == "€1,234.50"
    assert tiercube.Format.currency("CHF")(-3) == "-CHF\u00a03.00"
    assert tiercube.Format.number(2)(Decimal("9.905")) == "9.91"  # exactly, never through a float
    assert tiercube.Format.number(1)(-0.04) == "0.0"  # no "-0.0"
    assert tiercube.Format.percent(1)(None) == ""
    assert tiercube.Format.number()(float("nan")) == "NaN"
    with pytest.raises(ValueError, match="ISO 4217"):
        tiercube.Format.currency("euro")
    with pytest.raises(ValueError, match="decimals must be between 0 and 10"):
        tiercube.Format.number(11)


def test_a_format_is_kept_with_its_measure_across_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    with tiercube.Session.start(SECURED, data_dir=data_dir) as owner:
        cube = owner.create_cube(owner.read_csv(SALES, keys=["id"]))
        m = cube.measures
        share = m.set("share", m["qty.SUM"] / tiercube.parent_value(m["qty.SUM"], "country"), format=tiercube.Format.percent(1))
        assert share.format == tiercube.Format.percent(1)
        m.set_format("price.SUM", tiercube.Format.currency("EUR"))
        m.set_format("qty.MEAN", tiercube.Format.number(1))
        m.set_format("qty.MEAN", None)  # back to as they come
        assert m["price.SUM"].format == tiercube.Format.currency("EUR")  # this object knows at once
        # A redefinition without a format keeps the one the measure has.
        m.set("share", m["qty.SUM"] / tiercube.parent_value(m["qty.SUM"], "region"), replace=True)
    with tiercube.Session.start(SECURED, data_dir=data_dir) as owner:
        measures = owner.cubes["sales"].measures
        assert measures["share"].format == tiercube.Format.percent(1)
        assert measures["price.SUM"].format == tiercube.Format.currency("EUR")
        assert measures["qty.MEAN"].format is None and measures["qty.SUM"].format is None
        shown = Rendered(measures["share"]._repr_html_()).lines  # pyright: ignore[reportPrivateUsage]  # what notebooks call
        assert shown[-1] == "format: percent, shown as 11.0%"
        assert not any(line.startswith("format") for line in Rendered(measures["qty.SUM"]._repr_html_()).lines)  # pyright: ignore[reportPrivateUsage]
        # Any caller sees the formats with the answer, a MinimalSession too (it may not read the cube).
        with tiercube.connect(owner.url, authentication=USER) as reader:
            result = reader.cubes["sales"].query("price.SUM", "share", "qty.MEAN", levels=["region", "country"])
        shown = str(tiercube.show(result)).split("\n")
        assert shown[0].split() == ["region", "country", "price.SUM", "share", "qty.MEAN"]
        first = result.to_pylist()[0]
        expected = [tiercube.Format.currency("EUR")(first["price.SUM"]), f"{100 * first['share']:.1f}%", tiercube.Format.number()(first["qty.MEAN"])]
        assert shown[2].split()[2:] == expected
        assert expected[2] == f"{first['qty.MEAN']:,.3f}".rstrip("0").rstrip(".")  # no format: up to 3 decimals
        csv = tiercube.show(result).to_csv().split("\n")
        assert csv[1].endswith(f"{expected[1]},{expected[2]}")
        # Deleting the measure forgets its format; a new one of the same name starts without.
        with tiercube.connect(owner.url, authentication=ADMIN, require=tiercube.LocalSession) as admin:
            admin_measures = admin.cubes["sales"].measures
            del admin_measures["share"]
            admin_measures["share"] = admin_measures["qty.SUM"] * 1
            assert admin.cubes["sales"].measures["share"].format is None
            with pytest.raises(tiercube.NotFoundError, match="no measure 'nope'"):
                admin_measures.set_format("nope", tiercube.Format.percent())


def test_a_format_is_in_the_log_before_it_is_answered(tmp_path: Path) -> None:
    """SIGKILL right after set_format, no snapshot ever taken: the format comes back from the log."""
    server = Served(tmp_path / "data", write_config(tmp_path, SNAPSHOTS_ONLY_AT_STOP + SECURED_TOML))
    try:
        with admin(server.start()) as session:
            cube = session.create_cube(session.read_csv(SALES, keys=["id"]))
            cube.measures.set_format("qty.SUM", tiercube.Format.number(0))
        server.kill()
        with admin(server.start()) as session:
            assert session.cubes["sales"].measures["qty.SUM"].format == tiercube.Format.number(0)
    finally:
        server.close()
