"""The README's example of the column types with parameters. As the README shows it, from the blank line on (see readme_given.py)."""

import tiercube
from typecheck.readme_given import session

from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

prices = session.create_table("prices", keys=["sku", "at"], data_types={
    "sku": "string",
    "at": tiercube.Timestamp("us", "Europe/Paris"),
    "price": tiercube.Decimal(18, 2),
})
prices.append(("A-1", datetime(2024, 3, 1, 9, tzinfo=ZoneInfo("Europe/Paris")), Decimal("9.90")))
prices.query(filter=prices["at"] >= datetime(2024, 3, 1, tzinfo=timezone.utc))
