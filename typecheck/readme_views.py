"""The README's example of saved views. As the README shows it, from the blank line on (see readme_given.py)."""

import tiercube
from typecheck.readme_given import session

views = session.views                                # the user's own by name, others' shared with it as "owner/name"
q3 = tiercube.ViewDefinition("sales", ["qty.SUM"], rows=["region"], members={"quarter": ["2024-07-01"]}, totals=True)
views.save("q3", q3, shared_with=["EUROPE"])         # what the explorer's Save view keeps
views["q3"].query()                                  # the cells the view shows, computed for this session's user
views["q3"].share("ROLE_USER")                       # only its owner shares (or deletes) it
print(views["q3"].link)                              # opens it in the explorer
del views["q3"]
