"""A server SIGKILLed hundreds of times while a writer streams changes: nothing acknowledged is lost,
nothing is applied twice or in part (see crash.py for how).

``TIERCUBE_CRASH_KILLS`` sets the number of kills (200 by default: under two minutes on 2 cores);
``python -m tests.crash --kills 1000 --directory DIR`` runs it outside pytest.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import crash


@pytest.mark.slow
def test_every_acknowledged_change_survives_hundreds_of_sigkills(tmp_path: Path) -> None:
    kills = int(os.environ.get("TIERCUBE_CRASH_KILLS", "200"))
    summary = crash.run(tmp_path, kills)
    assert summary.kills == kills
    assert summary.acknowledged > kills
    # The kills landed where they matter: while snapshots were written, and with changes under way
    # that turned out applied, or not.
    assert summary.during_snapshot > 0
    assert summary.under_way.get("applied", 0) > 0 and summary.under_way.get("absent", 0) > 0
