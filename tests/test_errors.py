"""Errors keep their class and their fields across the wire, and all of them live in ``tiercube.errors``.

Every error class goes through the server's own error handler and comes back
through the client's own decoding, as it would on a real connection; the
real-server cases (a bad CSV's ``LoadError``, a wrong password burst's
``TooManyAttemptsError``, a missing table's ``NotFoundError``, a body over
``max_request_bytes``) are in test_loading.py, test_auth_and_connect.py,
test_helpful.py and test_limits.py.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pickle
import pkgutil
import typing

import httpx
import msgspec
import pytest
from starlette.requests import Request
from starlette.types import Scope

import tiercube
from tiercube import errors
from tiercube._client.connection import Connection
from tiercube._server import app
from tiercube._wire.messages import ErrorBody

CLASSES = sorted(set(errors.ERRORS_BY_CODE.values()), key=lambda cls: cls.__name__)


def fields(cls: type[errors.TiercubeError]) -> dict[str, object]:
    """Each field of ``cls`` (a keyword-only parameter of its ``__init__``) with a value unlike its default."""
    init = cls.__init__
    if not inspect.isfunction(init):
        return {}
    hints = typing.get_type_hints(init)
    samples: dict[str, object] = {}
    for number, parameter in enumerate(inspect.signature(init).parameters.values()):
        if parameter.kind is parameter.KEYWORD_ONLY:
            kinds = typing.get_args(hints[parameter.name]) or (hints[parameter.name],)
            samples[parameter.name] = 40 + number if int in kinds else 0.5 + number if float in kinds else f"the {parameter.name}"
    return samples


def through_the_wire(error: errors.TiercubeError) -> tuple[httpx.Response, errors.TiercubeError]:
    """The server's answer to ``error``, and the exception the client makes of that answer."""
    scope: Scope = {"type": "http", "method": "GET", "path": "/api/v1/tables", "headers": [], "query_string": b""}
    answer = asyncio.run(app._tiercube_error(Request(scope), error))  # pyright: ignore[reportPrivateUsage]
    response = httpx.Response(
        answer.status_code, headers=dict(answer.headers), content=bytes(answer.body), request=httpx.Request("GET", "http://127.0.0.1:9/")
    )
    return response, Connection("http://127.0.0.1:9")._error(response)  # pyright: ignore[reportPrivateUsage]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_keeps_its_class_message_and_fields_across_the_wire(cls: type[errors.TiercubeError]) -> None:
    sent = cls("what went wrong, and how to fix it", **fields(cls))
    response, received = through_the_wire(sent)
    assert response.status_code == cls.status
    assert type(received) is cls
    assert str(received) == str(sent)
    assert received.details == sent.details == fields(cls)


def test_every_field_is_an_attribute_of_a_wire_type_with_a_default() -> None:
    """A field travels as JSON, and a peer that does not send it still makes the error (its default)."""
    for cls in CLASSES:
        for name, value in fields(cls).items():
            assert getattr(cls("x", **{name: value}), name) == value, (cls, name)
            assert msgspec.convert(value, errors.Detail) == value
        assert cls("x").details.keys() == fields(cls).keys()


def test_the_fields_this_side_knows_are_kept_and_the_rest_ignored() -> None:
    body = ErrorBody("load", "bad.csv: line 3", {"path": "bad.csv", "line": "three", "column": None, "sheet": "one"})
    error = body.error()
    assert isinstance(error, tiercube.LoadError)
    assert (error.path, error.line, error.column) == ("bad.csv", None, None)  # "three" is no line number
    unknown = ErrorBody("from_a_newer_server", "something new went wrong", {"anything": 1}).error()
    assert type(unknown) is tiercube.TiercubeError and str(unknown) == "something new went wrong"


def test_the_answer_to_too_many_attempts_says_when_to_retry_in_its_header_too() -> None:
    response, received = through_the_wire(tiercube.TooManyAttemptsError("wait", retry_after=17))
    assert response.headers["retry-after"] == "17"
    assert isinstance(received, tiercube.TooManyAttemptsError) and received.retry_after == 17


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_errors_pickle_with_their_fields(cls: type[errors.TiercubeError]) -> None:
    """A cluster worker's error reaches the server pickled."""
    error = cls("what went wrong", **fields(cls))
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.details) == (cls, str(error), error.details)


def test_every_error_class_lives_in_tiercube_errors_with_a_code_of_its_own() -> None:
    # Every module but the command line's entry point (importing it runs it).
    for module in pkgutil.walk_packages(tiercube.__path__, "tiercube."):
        if module.name != "tiercube.__main__":
            importlib.import_module(module.name)
    every = set[type[errors.TiercubeError]]()
    todo: list[type[errors.TiercubeError]] = [errors.TiercubeError]
    while todo:
        cls = todo.pop()
        every.add(cls)
        todo.extend(cls.__subclasses__())
    assert {cls for cls in every if getattr(errors, cls.__name__, None) is not cls} == set()
    assert set(errors.ERRORS_BY_CODE.values()) == every
    tree = errors.__doc__ or ""
    assert [cls.__name__ for cls in every if cls.__name__ not in tree] == []
