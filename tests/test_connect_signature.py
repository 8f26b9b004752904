"""What ``help(tiercube.connect)`` and ``inspect.signature`` show: public names and what each call returns.

The implementation's own signature named this module's aliases (``Credentials``,
``Location``) and returned ``object``; its overloads are invisible at run time.
"""

from __future__ import annotations

import inspect
import pydoc

import tiercube


def test_the_signature_names_public_types_only() -> None:
    signature = inspect.signature(tiercube.connect)
    assert list(signature.parameters) == ["url", "authentication", "certificate_authority", "timeout", "require"]
    shown = str(signature)
    assert "Authenticate | ClientCertificate | TokenAuthentication | None" in shown and "-> 'AnySession'" in shown
    assert not {"Credentials", "Location", "Timeout", "object", "TypeForm"} & set(shown.replace("'", " ").replace(",", " ").split())
    # The signature shown is the one the function takes.
    assert signature.parameters["timeout"].default == inspect.signature(tiercube.Session.connect).parameters["timeout"].default
    assert tiercube.Session.connect is tiercube.connect


def test_help_lists_what_each_combination_of_arguments_returns() -> None:
    text = pydoc.plain(pydoc.render_doc(tiercube.connect))
    assert "connect(url: 'str', *, authentication:" in text
    for returned in ("ReadOnlySession | MinimalSession", "AnySession", "SupportsEditing", "QUERY`` and ``READ_MODEL`` without credentials"):
        assert returned in text, returned
