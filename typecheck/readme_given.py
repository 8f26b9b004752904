"""What the README's examples take as given, typed as a reader of the README has it.

The ``readme_*.py`` files beside this one end with the README's examples exactly as the README
shows them (tests/test_readme.py holds them equal), so every type checker judges the code a
newcomer copies. They are checked, never run: pytest collects only ``check_*.py`` here, so no
server starts (tests/test_readme.py runs the quickstart for real).
"""

import pandas

import tiercube

session = tiercube.Session.start()
cube = session.cubes["sales"]
result = cube.query("qty.SUM", levels=["region"])
url = session.url
password = "a password"
auth = tiercube.BasicAuthentication("ann", password)
frame = pandas.DataFrame({"year": [2027], "region": ["EU"], "value": [1.5]})
