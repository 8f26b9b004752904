"""The README's example of the typed data model. As the README shows it, from the blank line on (see readme_given.py)."""

from typecheck import sales_model
from typecheck.readme_given import session

sales = sales_model.sales_cube(session)
result = sales.query("qty.SUM", levels=["region"])
# sales.query("qty.SMU") fails every checker; mypy --strict says:
#   Argument 1 to "query" of "SalesCube" has incompatible type "Literal['qty.SMU']";
#   expected "Literal['qty.SUM', 'qty.MEAN', 'price.SUM', 'price.MEAN', 'contributors.COUNT'] | Measure"
sales_model.check(session)   # NotFoundError naming what the server no longer has, if anything
