"""The README's example of a session kept in a data directory. As the README shows it, from the blank line on (see readme_given.py)."""

import tiercube

with tiercube.Session.start(data_dir="state/sales") as session:   # created (0700) if missing
    ...                                                          # the next start finds it all again
