"""The README's example of handing a result to pandas and polars. As the README shows it, from the blank line on (see readme_given.py).

pyright's strict mode reports ``to_pandas`` and ``polars.from_arrow`` as partially unknown: the
published stubs of pyarrow and polars leave a parameter of each untyped (``categories: list``,
an ``Array`` without its type argument). That is theirs to fix, and only that rule is off here.
"""

# pyright: reportUnknownMemberType=false

from typecheck.readme_given import result

pandas_frame = result.to_pandas()          # pandas (pip install "tiercube[pandas]")

import polars
polars_frame = polars.from_arrow(result)   # polars
