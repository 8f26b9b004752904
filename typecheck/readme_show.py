"""The README's example of showing results and setting measure formats. As the README shows it, from the blank line on (see readme_given.py)."""

import tiercube
from typecheck.readme_given import cube, result

print(tiercube.show(result))                                 # region  qty.SUM  share ...
m = cube.measures
m.set_format("qty.SUM", tiercube.Format.number(0))           # 12,345
m.set("share", m["qty.SUM"] / tiercube.parent_value(m["qty.SUM"], "region"),
      format=tiercube.Format.percent(1))                     # 0.1101 shows as 11.0%
m.set("qty.SUM", tiercube.agg.sum("qty"), replace=True)      # redefining a measure needs replace=True
cube.query("qty.SUM", levels=["region"], max_rows=1000)      # more rows raise ResultTooLargeError
