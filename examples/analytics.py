import datetime as dt

import tiercube
from tiercube import agg

with tiercube.Session.start() as session:
    lines = session.read_csv("orders.csv", keys=["line"])    # line, order, day, region, product, qty, price
    cube = session.create_cube(lines)
    cube.create_date_hierarchy("calendar", lines["day"])        # Year > Quarter > Month > Day, from the dates
    m = cube.measures
    m["revenue"] = agg.sum(lines["qty"] * lines["price"])      # computed per row on the server
    m["revenue YTD"] = tiercube.cumulative(m["revenue"], "Month", partitioning="Year")
    m["rolling 3 months"] = tiercube.cumulative(m["revenue"], "Month", window=tiercube.Period(months=3))
    m["previous month"] = tiercube.shift(m["revenue"], "Month", tiercube.Period(months=-1))
    m["MoM growth"] = m["revenue"] / m["previous month"] - 1
    m["median price"] = agg.median(lines["price"])
    m["p90 price"] = agg.quantile(lines["price"], 0.9)
    m["median basket"] = tiercube.origin(m["revenue"], "order", "median")  # revenue per order, then the median
    m["rank in region"] = tiercube.rank(m["revenue"], "product", within="region")

    year_2024 = cube.levels["Month"].between(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    monthly = cube.query("revenue", "revenue YTD", "rolling 3 months", "previous month", "MoM growth",
                         levels=["Month"], filter=year_2024)
    top_3 = cube.query("revenue", "rank in region", levels=["region", "product"],
                       top=tiercube.Top(3, "revenue", per="region"), include_totals=True)
    baskets = cube.query("median basket", "median price", "p90 price", levels=["region"], include_totals=True)
    print(*map(tiercube.show, (monthly, top_3, baskets)), sep="\n\n")
