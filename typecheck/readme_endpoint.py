"""The README's example of security management and a custom endpoint. As the README shows it, from the blank line on (see readme_given.py)."""

import tiercube
from typecheck.readme_given import cube, password, session

regions = session.tables["regions"]
session.security.create_user("eve", password=password, roles=["EUROPE"])
session.security.restrict("EUROPE", regions["region"] == "Europe")

@session.endpoint("top-products")                 # GET {url}/api/custom/top-products
def top_products(request: tiercube.EndpointRequest) -> list[str]:
    rows = cube.query("qty.SUM", levels=["product"]).to_pylist()
    rows.sort(key=lambda row: row["qty.SUM"], reverse=True)
    return [str(row["product"]) for row in rows[:5]]
