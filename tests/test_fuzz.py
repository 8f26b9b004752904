"""Property-based fuzzing of every route of the server, against a real secured server.

For every route of ``tiercube._wire.routes.ROUTES`` with a body, bodies come
from four generators: valid-shaped ones from the route's JSON schema
(``msgspec.json.schema(route.body)`` through hypothesis-jsonschema, so every
tagged union and every optional field is exercised; some of their strings
and numbers replaced by names that exist and numbers at the edges of the
column types), the authorization matrix's valid samples with one to three
parts replaced, removed or added to, arbitrary JSON (wrong types, huge
numbers, deep nesting), and arbitrary bytes (empty, not UTF-8, not JSON,
NaN, nested a hundred thousand deep). Path parameters are drawn too: names
that exist, unknown ones, odd unicode, ``/`` (sent as ``%2F``), very long
ones. Routes without a body are fuzzed through their path parameters only.

Each request goes to the server as a caller that may do everything (the
owner, or an admin who proved a shared file system) so that bodies reach the
handlers, and as callers that may not edit (a plain user, an anonymous
caller). The server runs in this process (``tests/in_process.py``): these
tests are about what the application answers. Whatever is sent:

- the server never answers 5xx: the request that got one fails its test
  where it was answered (the nightly profile then shrinks it);
- every error is a JSON ``{"code", "message", "details"}`` without a traceback;
- the server stays alive (``GET /versions/rest`` answers after each batch);
- requests by callers that may not edit leave the state as it was;
- each test sends at least as many requests as its budget of examples.

``test_fuzz_finding`` holds, as minimal raw requests, the 5xx that fuzzing
this server found; none is a 5xx any more.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import re
import types
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast
from urllib.parse import quote

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import utils as conjecture_utils
from hypothesis.internal.conjecture.data import ConjectureData
from hypothesis_jsonschema import from_schema  # pyright: ignore[reportUnknownVariableType]  # its JSON type holds a bare list

from tests.conftest import HYPOTHESIS_PROFILE, examples
from tests.fake_s3 import shared_fake_s3
from tests.test_authorization import (
    CALLERS,
    PROBE,
    VICTIM,
    CallerKind,
    Files,
    Target,
    headers,
    reset,
    samples,
    serving,
    snapshot,
    write_files,
)
from tiercube._wire import paths
from tiercube._wire.routes import ROUTES, Route
from tiercube._wire.tiers import Group

# --------------------------------------------------------------------------- hypothesis-jsonschema on this Hypothesis


class _Many:
    """The ``many(...).more()`` protocol that hypothesis-jsonschema (0.23.1, the latest) drives objects with.

    Hypothesis replaced it (``with many(...) as elements: for _ in elements``)
    and hypothesis-jsonschema fails on every object schema with ``'many' object
    has no attribute 'more'``; this is the old protocol on the current
    ``ConjectureData``. It is installed only while Hypothesis lacks it and
    hypothesis-jsonschema still calls it.
    """

    def __init__(self, data: ConjectureData, min_size: int, max_size: float, average_size: float) -> None:
        self.data, self.min_size, self.max_size = data, min_size, max_size
        desired = average_size - min_size
        self.p_continue = 1.0 if desired >= max_size - min_size else 1 - 1 / (1 + desired)
        self.count = self.rejections = 0
        self.drawn = self.rejected = self.force_stop = False

    def more(self) -> bool:
        if self.drawn:
            self.data.stop_span(discard=self.rejected)
        self.drawn, self.rejected = True, False
        self.data.start_span(conjecture_utils.ONE_FROM_MANY_LABEL)
        forced: bool | None = None
        if self.force_stop or self.count >= self.max_size:
            forced = False
        elif self.count < self.min_size:
            forced = True
        go = forced if forced is not None else self.data.draw_boolean(self.p_continue)
        if go:
            self.count += 1
            return True
        self.data.stop_span()
        return False

    def reject(self, why: str | None = None) -> None:
        self.count -= 1
        self.rejections += 1
        self.rejected = True
        if self.rejections > max(3, 2 * self.count):
            if self.count < self.min_size:
                self.data.mark_invalid(why)
            self.force_stop = True


_jsonschema_module = importlib.import_module("hypothesis_jsonschema._from_schema")
if not hasattr(conjecture_utils.many, "more") and ".more()" in inspect.getsource(_jsonschema_module):
    setattr(_jsonschema_module, "cu", types.SimpleNamespace(**{**vars(conjecture_utils), "many": _Many}))


# --------------------------------------------------------------------------- schemas without recursion

_DROPPED_KEYWORDS = {"title", "description", "default", "discriminator", "$defs"}


def _recursive(definitions: dict[str, Any]) -> set[str]:
    """The definitions that can contain themselves (filters, measure expressions, conditions)."""
    refs = {name: set(re.findall(r'"#/\$defs/(\w+)"', json.dumps(body))) for name, body in definitions.items()}

    def reach(name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            for found in refs[todo.pop()] - seen:
                seen.add(found)
                todo.append(found)
        return seen

    return {name for name in definitions if name in reach(name)}


def unrolled(schema: dict[str, Any], depth: int = 1) -> dict[str, Any]:
    """``schema`` with its ``$ref``s inlined, recursion cut ``depth`` levels down, and no undeclared fields.

    hypothesis-jsonschema cannot generate from recursive references (filters,
    measure expressions), and its cost grows with the schema's size: below the
    cut only the alternatives that do not recurse remain. Deeper nesting is
    sent by ``RAW_BODIES``, and unknown fields by ``mutated``.
    """
    definitions: dict[str, Any] = schema.get("$defs", {})
    recursive = _recursive(definitions)

    def walk(given: Any, nesting: int) -> Any | None:
        if not isinstance(given, dict):
            return given
        node = dict(cast(dict[str, Any], given))
        if "$ref" in node:
            name = str(node.pop("$ref")).rsplit("/", 1)[-1]
            if name in recursive:
                if nesting >= depth:
                    return None
                nesting += 1
            node = {**definitions[name], **node}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED_KEYWORDS:
                continue
            if key == "anyOf":
                options = [walked for option in value if (walked := walk(option, nesting)) is not None]
                if not options:
                    return None
                out[key] = options
            elif key == "properties":
                properties: dict[str, Any] = {}
                for name, sub in value.items():
                    walked = walk(sub, nesting)
                    if walked is None:
                        if name in node.get("required", ()):
                            return None
                        continue
                    properties[name] = walked
                out[key] = properties
                out.setdefault("additionalProperties", False)
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                walked = walk(value, nesting)
                if walked is None:
                    out["maxItems" if key == "items" else "maxProperties"] = 0
                else:
                    out[key] = walked
            else:
                out[key] = value
        return out

    result = walk(schema, 0)
    assert result is not None, schema
    return dict[str, Any](result)


# --------------------------------------------------------------------------- what is sent

JSON: TypeAlias = None | bool | int | float | str | list["JSON"] | dict[str, "JSON"]

EXISTING = ["sales", "regions", "qty.SUM", "region", "contributors.COUNT", VICTIM, "EUROPE", "ASIA_ONLY", PROBE]
ODD = [
    "a/b", "%2F", "..", ".", "", " ", "%", "%%", "?x=1", "#frag", "\\", "\x00", "\x7f", "é", "名前", "😀", "\u202e",
    "\ud800", "sales\n", "SALES", "x" * 2_000, "y" * 20_000, "/" * 50, "..%2F..%2Fetc%2Fpasswd", "null", "[]", "{}",
]


def scalars() -> st.SearchStrategy[JSON]:
    return st.one_of(
        st.none(), st.booleans(), st.integers(), st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**40, -(10**40)]),
        st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -1e308, 5e-324, -0.0]), st.text(max_size=20),
    )


def json_values() -> st.SearchStrategy[JSON]:
    return st.recursive(
        scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=5), st.dictionaries(st.text(max_size=10), children, max_size=5)
        ),
        max_leaves=20,
    )


def nested(depth: int, kind: Literal["filter", "measure", "list", "object"]) -> bytes:
    """A body nested ``depth`` deep, valid-shaped (filters, measures) or not (lists, objects)."""
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    if kind == "filter":
        inner = '{"type":"compare","column":"region","op":"==","value":"EU","table":"sales"}'
        body = '{"type":"not","operand":' * depth + inner + "}" * depth
        return ('{"role":"EUROPE","filter":' + body + ',"columns":[],"rows":[],"mdx":"x"}').encode()
    inner = '{"type":"row_count"}'
    body = '{"type":"arithmetic","op":"+","left":{"type":"constant","value":1},"right":' * depth + inner + "}" * depth
    return ('{"expression":' + body + "}").encode()


UNNESTED: tuple[Literal["list", "object"], ...] = ("list", "object")
VALID_SHAPED: tuple[Literal["filter", "measure"], ...] = ("filter", "measure")
RAW_BODIES = [
    b"", b" ", b"null", b"0", b'""', b"[]", b"{}", b"{", b"\xff\xfe\x00", b'{"name": "\xc3\x28"}', b"\xef\xbb\xbf{}",
    b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1e999}', b"1" * 5_000, b'{"a": ' + b"9" * 5_000 + b"}",
    b'{"a": "\\ud800"}', b'{"name": "x", "name": "y"}', b"\x00" * 100,
    *(nested(depth, kind) for depth in (100, 1_000, 100_000) for kind in UNNESTED),
    *(nested(depth, kind) for depth in (60, 200, 1_000, 5_000) for kind in VALID_SHAPED),
]


def encode(value: JSON) -> bytes:
    return json.dumps(value).encode()


@st.composite
def mutated(draw: st.DrawFn, body: JSON) -> JSON:
    """``body`` with one to three parts (anywhere in it) replaced, removed, or given siblings it does not expect.

    Replacements are any JSON, or names and numbers that matter here (``KNOWN``, ``EDGES``).
    """

    def parts(node: JSON, at: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
        yield at
        if isinstance(node, dict):
            for key, value in node.items():
                yield from parts(value, (*at, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from parts(value, (*at, index))

    copy: Any = json.loads(json.dumps(body))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(list(parts(copy, ()))))
        replacement = draw(st.one_of(json_values(), st.sampled_from(KNOWN), st.sampled_from(EDGES)))
        how = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if not where:
            copy = replacement
            continue
        parent: Any = copy
        for step in where[:-1]:
            parent = parent[step]
        last = where[-1]
        if how == "remove":
            del parent[last]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = replacement
        elif how == "add" and isinstance(parent, list):
            cast(list[JSON], parent).append(replacement)
        else:
            parent[last] = replacement
    result: JSON = copy
    return result


KNOWN = ["sales", "regions", "id", "region", "qty", "price", "zone", "qty.SUM", "contributors.COUNT", "EU", "ASIA", "EUROPE", VICTIM]
"""Names of things that exist, which schema-valid bodies are given so that they reach past "no such table"."""
EDGES: list[JSON] = [0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 0.5, 1e308, -1e308, 5e-324]
"""Numbers at the edges of int32, int64, uint64 and float64 (2**53 + 1 is the first integer a float64 cannot hold)."""
_TAGS = {"type", "op", "function", "data_type", "mode", "method"}


@st.composite
def with_known_names(draw: st.DrawFn, body: JSON, names: tuple[str, ...]) -> JSON:
    """``body`` with some strings (not tags) replaced by existing names or ``names``, some numbers by edge values."""

    def walk(node: JSON, key: str | None) -> JSON:
        if isinstance(node, str) and key not in _TAGS and draw(st.booleans()):
            return draw(st.sampled_from([*KNOWN, *names]))
        if isinstance(node, int | float) and not isinstance(node, bool) and draw(st.booleans()):
            return draw(st.sampled_from(EDGES))
        if isinstance(node, list):
            return [walk(item, key) for item in node]
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        return node

    return walk(body, None)


@functools.cache
def schema_strategy(route: Route) -> st.SearchStrategy[JSON]:
    assert route.body is not None
    return cast("st.SearchStrategy[JSON]", from_schema(unrolled(msgspec.json.schema(route.body)), allow_x00=True))


def body_strategy(route: Route, valid: tuple[str, ...], names: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    """Bodies for ``route``: schema-valid (some naming existing things), mutated valid samples, any JSON, any bytes.

    ``names``: the request's path parameters, which a valid body may have to repeat (a restriction's role).
    """
    schema_valid = schema_strategy(route)
    samples_json: list[JSON] = [json.loads(text) for text in valid]
    named = schema_valid.flatmap(lambda body: with_known_names(body, names))
    # one_of picks a branch uniformly: a branch given twice is drawn twice as often.
    return st.one_of(
        schema_valid.map(encode),
        named.map(encode),
        named.map(encode),
        st.sampled_from(samples_json).flatmap(mutated).map(encode),
        st.sampled_from(samples_json).flatmap(mutated).map(encode),
        json_values().map(encode),
        st.sampled_from(RAW_BODIES),
        st.binary(max_size=64),
    )


PARAMETERS = {
    "table": ["sales", "regions"], "cube": ["sales"], "measure": ["qty.SUM", "contributors.COUNT", "fuzzed"],
    "hierarchy": ["region", "fuzzed"], "user": [VICTIM], "token": ["0123456789abcdef"], "role": ["EUROPE", "ASIA_ONLY"], "route": [PROBE],
    "view": ["a view", "fuzzed"],
    "load": ["fuzzed-load-00000001"],
    "path": ["explorer.js", "vendor/perspective/cdn/perspective.js", "../../../routing.py", "explorer.html", "/etc/passwd"],
}
"""Path parameters that name existing things (or, for a PUT, things to create)."""


def params_strategy(route: Route) -> st.SearchStrategy[dict[str, str]]:
    def value(name: str) -> st.SearchStrategy[str]:
        existing = st.sampled_from(PARAMETERS[name])
        return st.one_of(existing, existing, existing, st.sampled_from(EXISTING), st.sampled_from(ODD), st.text(max_size=30))

    return st.fixed_dictionaries({name: value(name) for name in re.findall(r"\{(\w+)", route.path)})


def path_of(route: Route, params: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        raw = params[match[1]].encode("utf-8", "surrogatepass")
        return quote(raw, safe="/" if match[2] == ":path" else "")

    return re.sub(r"\{(\w+)(:\w+)?\}", value, route.path)


# --------------------------------------------------------------------------- the server and the checks

PRIVILEGED = [caller for caller in CALLERS if caller.name in ("owner", "admin with proof")]
OWNER = next(caller for caller in CALLERS if caller.credentials == "owner")
UNPRIVILEGED = [caller for caller in CALLERS if caller.name in ("user", "anonymous")]
FUZZED = [route for route in ROUTES if route.body is not None]
PATH_ONLY = [route for route in ROUTES if route.body is None and "{" in route.path]


@dataclass
class Fuzzing:
    target: Target
    client: httpx.Client
    valid: dict[str, tuple[str, ...]]
    sent: int = 0
    """Requests sent so far: each test checks that it sent at least its budget."""


@pytest.fixture(scope="module")
def fuzzing(tmp_path_factory: pytest.TempPathFactory) -> Generator[Fuzzing]:
    directory = tmp_path_factory.mktemp("fuzz")
    files = Files(str(directory / "sales.csv"), str(directory / "sales.parquet"), str(directory / "sales.arrow"))
    write_files(files)
    valid: dict[str, list[str]] = {}
    for sample in samples(files):
        if sample.body is not None:
            valid.setdefault(str(sample.route), []).append(json.dumps(sample.body))
    with serving("secured", directory) as target, target.client() as client:
        fuzz = Fuzzing(target, client, {route: tuple(bodies) for route, bodies in valid.items()})
        reset(target, client)
        yield fuzz


def send(fuzz: Fuzzing, caller: CallerKind, route: Route, params: dict[str, str], body: bytes | None) -> httpx.Response:
    """One request, checked where it is answered: no 5xx, and an error is a well-formed JSON body."""
    path = path_of(route, params)
    sent = {**headers(fuzz.target, caller), "content-type": paths.JSON}
    fuzz.sent += 1
    response = fuzz.client.request(route.method, path, content=body, headers=sent)
    # Each caller states only its own credentials: not the cookie a sign-in body was given.
    fuzz.client.cookies.clear()
    reproduction = f"{caller.name}: {route.method} {path} body={body!r:.2000} -> {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, reproduction
    if response.status_code >= 400:
        assert response.headers.get("content-type", "").startswith(paths.JSON), reproduction
        problem = response.json()
        assert isinstance(problem, dict) and set(problem) == {"code", "message", "details"}, reproduction  # pyright: ignore[reportUnknownArgumentType]
        assert isinstance(problem["code"], str) and isinstance(problem["message"], str), reproduction
        assert isinstance(problem["details"], dict), reproduction
        assert "Traceback" not in response.text and 'File "' not in response.text, reproduction
    return response


def alive(fuzz: Fuzzing) -> None:
    answer = fuzz.client.get(paths.VERSIONS)
    assert answer.status_code == 200 and answer.json()["product"] == "tiercube", answer.text


@contextmanager
def sends_at_least(fuzz: Fuzzing, requests: int) -> Generator[None]:
    """The block sends at least ``requests`` requests: fuzzing that stopped short fails, it does not pass."""
    before = fuzz.sent
    yield
    assert fuzz.sent - before >= requests, f"sent {fuzz.sent - before} requests, fewer than the {requests} budgeted"


FUZZ_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    # In CI a failing request is reported as it was sent: shrinking it takes minutes (every step
    # sends requests), so only the nightly profile shrinks it to a minimal one.
    phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if HYPOTHESIS_PROFILE == "nightly" else [])],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.large_base_example],
)


# --------------------------------------------------------------------------- the tests


def fuzz_bodies(fuzzing: Fuzzing, route: Route, budget: int) -> None:
    """Bodies that reach the handlers (sent by the owner, or an admin with proof)."""
    reset(fuzzing.target, fuzzing.client)

    @settings(FUZZ_SETTINGS, max_examples=budget)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        # Only the owner may register endpoints: an admin would be refused before its body is read.
        caller = OWNER if route.group is Group.OWNER else data.draw(st.sampled_from(PRIVILEGED), label="caller")
        params = data.draw(params_strategy(route), label="params")
        body = data.draw(body_strategy(route, fuzzing.valid[str(route)], tuple(params.values())), label="body")
        send(fuzzing, caller, route, params, body)

    with sends_at_least(fuzzing, budget):
        run()
    alive(fuzzing)


@pytest.mark.parametrize("route", [route for route in FUZZED if route.group is not Group.OWNER], ids=str)
def test_fuzz_bodies_as_an_admin(fuzzing: Fuzzing, route: Route) -> None:
    """Bodies that reach the handlers: no 5xx, errors well formed, the server alive."""
    fuzz_bodies(fuzzing, route, examples(40))


@pytest.mark.parametrize("route", FUZZED, ids=str)
def test_fuzz_bodies_as_a_user_and_anonymous(fuzzing: Fuzzing, route: Route) -> None:
    """Callers that may not edit: no 5xx, errors well formed, the server alive, and the state does not change."""
    reset(fuzzing.target, fuzzing.client)
    before = snapshot(fuzzing.target, fuzzing.client)
    budget = examples(16)

    @settings(FUZZ_SETTINGS, max_examples=budget)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        params = data.draw(params_strategy(route), label="params")
        body = data.draw(body_strategy(route, fuzzing.valid[str(route)], tuple(params.values())), label="body")
        for caller in UNPRIVILEGED:
            send(fuzzing, caller, route, params, body)

    with sends_at_least(fuzzing, budget * len(UNPRIVILEGED)):
        run()
    alive(fuzzing)
    assert snapshot(fuzzing.target, fuzzing.client) == before, f"{route}: a user or anonymous caller changed the state"


@pytest.mark.parametrize("route", PATH_ONLY, ids=str)
def test_fuzz_path_parameters(fuzzing: Fuzzing, route: Route) -> None:
    """Routes without a body, through their path parameters: by callers that may not edit (nothing changes), then an admin."""
    reset(fuzzing.target, fuzzing.client)
    budget = examples(12)

    @settings(FUZZ_SETTINGS, max_examples=budget)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        params = data.draw(params_strategy(route), label="params")
        before = snapshot(fuzzing.target, fuzzing.client) if route.method != "GET" else None
        for caller in UNPRIVILEGED:
            send(fuzzing, caller, route, params, None)
        if before is not None:
            assert snapshot(fuzzing.target, fuzzing.client) == before, f"{route} {params}: changed by a user or anonymous"
        send(fuzzing, data.draw(st.sampled_from(PRIVILEGED), label="caller"), route, params, None)

    with sends_at_least(fuzzing, budget * (len(UNPRIVILEGED) + 1)):
        run()
    alive(fuzzing)


@pytest.mark.parametrize("route", [route for route in FUZZED if route.group is Group.OWNER], ids=str)
def test_fuzz_endpoint_registrations_by_the_owner(fuzzing: Fuzzing, route: Route) -> None:
    """Last: what the owner registers stays registered (custom routes fuzzed after it could call its targets)."""
    fuzz_bodies(fuzzing, route, examples(25))


# --------------------------------------------------------------------------- what fuzzing this server found

LONG_HOST = "http://" + "a" * 300 + "/"  # a host name longer than DNS allows (63 per label)


@dataclass(frozen=True)
class Finding:
    """A request (after ``setup``, which must succeed) that the server answered 5xx when this file was written."""

    name: str
    caller: str  # a CallerKind name: the least privileged caller that gets there
    method: str
    path: str
    body: Any
    setup: tuple[tuple[str, str, str, Any], ...] = ()  # (caller, method, path, body)
    s3: tuple[str, bytes] | None = None  # an object to put in the fake S3 first


CLOUD_CSV = {"uri": "s3://tiercube-test/fuzz/header.csv", "store": "test"}
FINDINGS = [
    Finding("filter-float-column-with-big-int", "user", "POST", "/api/v1/tables/sales/query",
            {"filter": {"type": "compare", "column": "price", "op": "==", "value": 2**53 + 1}}),
    Finding("drop-float-column-with-big-int", "admin", "POST", "/api/v1/tables/sales/drop",
            {"filter": {"type": "compare", "column": "price", "op": "<", "value": 2**63 - 1}}),
    Finding("restriction-isin-float-column-with-big-int", "admin", "PUT", "/api/v1/security/restrictions/EUROPE",
            {"role": "EUROPE", "filter": {"type": "isin", "column": "price", "values": [2**53 + 1], "table": "sales"}}),
    Finding("restriction-without-comparison", "admin", "PUT", "/api/v1/security/restrictions/EUROPE",
            {"role": "EUROPE", "filter": {"type": "or", "operands": []}}),
    Finding("measure-constant-over-int64", "user", "POST", "/api/query/cubes/sales/query", {"measures": ["big"]},
            setup=(("admin", "PUT", "/api/v1/cubes/sales/measures/big", {"expression": {"type": "constant", "value": 2**63}}),)),
    Finding("default-value-over-int64", "admin", "POST", "/api/v1/tables",
            {"name": "big_default", "columns": [{"name": "a", "data_type": "int64"}], "default_values": {"a": 2**63}}),
    Finding("csv-encoding-punycode", "admin", "POST", "/api/v1/read",
            {"table": "puny", "source": {"type": "csv", "path": CLOUD_CSV, "options": {"encoding": "punycode"}}},
            s3=("fuzz/header.csv", b"a,b\n1,2\n")),
    Finding("csv-header-not-utf8", "admin", "POST", "/api/v1/read",
            {"table": "latin", "source": {"type": "csv", "path": CLOUD_CSV}}, s3=("fuzz/header.csv", b"a\xff,b\n1,2\n")),
    Finding("custom-endpoint-forwarding-to-an-overlong-host", "user", "GET", "/api/custom/long-host", None,
            setup=(("owner", "PUT", "/api/v1/owner/endpoints", {"route": "long-host", "method": "GET", "forward_url": LONG_HOST}),)),
]


@pytest.mark.parametrize("finding", FINDINGS, ids=[f.name for f in FINDINGS])
def test_fuzz_finding(fuzzing: Fuzzing, finding: Finding) -> None:
    """A 5xx found while fuzzing, kept as a minimal raw request: now an answer or a well-formed 4xx."""
    target, client = fuzzing.target, fuzzing.client
    callers = {caller.name: caller for caller in CALLERS}
    reset(target, client)
    if finding.s3 is not None:
        shared_fake_s3().put(*finding.s3)
    try:
        for name, method, path, body in finding.setup:
            done = client.request(method, path, headers=headers(target, callers[name]), json=body)
            # A fix may refuse the setup (4xx) instead: then the request finds nothing to fail on.
            assert done.status_code < 500, (path, done.status_code, done.text)
        response = client.request(finding.method, finding.path, headers=headers(target, callers[finding.caller]), json=finding.body)
        assert response.status_code < 500, f"{finding.caller}: {finding.method} {finding.path} {finding.body} -> {response.status_code} {response.text}"
        if response.status_code >= 400:
            assert set(response.json()) == {"code", "message", "details"}, response.text
    finally:
        reset(target, client)
        alive(fuzzing)
