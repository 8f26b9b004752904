"""The README's example of the typed data model. As the README shows it, from the blank line on (see readme_given.py)."""

from typecheck import sales_model
from typecheck.readme_given import session

sales = sales_model.sales_cube(session)
result = sales.query("qty.SUM", levels=["region"])
# sales.query("qty.SMU") fails every checker; pyright says:
#   Argument of type "Literal['qty.SMU']" cannot be assigned to parameter "measures"
#   of type "SalesMeasure | Measure" in function "query"
sales_model.check(session)   # NotFoundError naming what the server no longer has, if anything
