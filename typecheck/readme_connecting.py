"""The README's example of connecting and narrowing the tier. As the README shows it, from the blank line on (see readme_given.py)."""

import tiercube
from typecheck.readme_given import auth, frame, password, url

session = tiercube.connect(url, authentication=tiercube.BasicAuthentication("ann", password))
print(session.capabilities)        # conditions a to f, whether each held, and why

if isinstance(session, tiercube.LocalSession):
    session.read_pandas(frame, table_name="forecast")       # shares the server's file system
elif isinstance(session, tiercube.capabilities.SupportsEditing):
    session.tables["forecast"].append((2027, "EU", 1.5))    # any editing tier
else:
    print(session.query_mdx("SELECT [Measures].[qty.SUM] ON COLUMNS FROM [sales]"))

# Or state what you need: exactly that type, or CapabilityError saying which condition failed.
local = tiercube.connect(url, authentication=auth, require=tiercube.LocalSession)
loader = tiercube.connect(url, authentication=auth, require=tiercube.capabilities.SHARED_FILE_LOADING)
