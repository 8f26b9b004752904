"""The owner's side of custom endpoints: a loopback listener that runs the decorated functions.

Only the server may call it: every forwarded request carries the owner
token, which nothing but the owner and its server know.
"""

from __future__ import annotations

import hmac
import threading
import traceback
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypeVar, cast, overload

import msgspec

from tiercube._public import public
from tiercube._wire import paths
from tiercube._wire.messages import ErrorBody, ForwardedRequest

HttpMethod: TypeAlias = Literal["GET", "POST", "PUT", "DELETE"]

T = TypeVar("T")

ON_BEHALF_OF: ContextVar[str | None] = ContextVar("tiercube_on_behalf_of", default=None)
"""Set while an owner's custom endpoint answers: its requests (``Connection``) then see what the endpoint's caller may."""


@public
@dataclass(frozen=True)
class EndpointRequest:
    """A call to a custom endpoint, as the decorated function receives it."""

    route: str
    method: HttpMethod
    user: str | None
    """The authenticated caller (None when the server has no security)."""
    roles: tuple[str, ...]
    query: dict[str, str]
    body: bytes
    restricted: bool = False
    """Whether the caller's roles restrict the rows it may see; the owner's queries in the handler see only those."""

    @overload
    def json(self) -> object: ...
    @overload
    def json(self, type: type[T]) -> T: ...
    def json(self, type: type[object] = object) -> object:
        """The body decoded as JSON: plain data (``dict``, ``list``, ``str``...), or checked and
        converted to ``type`` (a dataclass, a msgspec ``Struct``, ``dict[str, int]``...), which raises
        ``msgspec.ValidationError`` naming the field when the body does not fit."""
        return msgspec.json.decode(self.body, type=type)


Handler: TypeAlias = Callable[[EndpointRequest], object]
"""A function, or an ``async def`` function (awaited to its end for each call), of the request."""
HandlerT = TypeVar("HandlerT", bound=Handler)
"""A decorated handler keeps its own type: ``@session.endpoint(...)`` returns the function as it was."""


class EndpointListener:
    """Serves the owner's handlers on 127.0.0.1 for its server to forward requests to."""

    def __init__(self, token: str) -> None:
        # http.server and asyncio cost about 50 ms each to import: only owners who declare an endpoint pay them.
        import asyncio
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        # An ``async def`` handler returns a coroutine: run it to its end on the request's own thread
        # (a thread of the listener, where no event loop runs), in the context that carries ON_BEHALF_OF.
        self._run_coroutine: Callable[[Coroutine[object, object, object]], object] = asyncio.run

        self.handlers: dict[tuple[str, str], Handler] = {}
        listener = self

        class _Forwarded(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                status, body = listener.answer(self.headers.get(paths.FORWARD_TOKEN_HEADER, ""), self._body())
                self.send_response(status)
                self.send_header("content-type", paths.JSON)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("content-length", "0")))

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # the server logs requests; the owner's stderr stays quiet

        # What the server sends with each forwarded call: derived from the owner's token, never the token.
        self._forward_token = paths.forward_token(token)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _Forwarded)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, name="tiercube-endpoints", daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/"

    def answer(self, token: str, body: bytes) -> tuple[int, bytes]:
        if not hmac.compare_digest(token.encode("utf-8", "surrogateescape"), self._forward_token.encode()):
            return 403, msgspec.json.encode(ErrorBody("forbidden", "only the session server may call this listener"))
        request = msgspec.json.decode(body, type=ForwardedRequest)
        handler = self.handlers.get((request.method, request.route))
        if handler is None:
            return 404, msgspec.json.encode(ErrorBody("not_found", f"no handler for {request.method} {request.route!r}"))
        # A handler was found under this method, which endpoint() took as an HttpMethod.
        method = cast(HttpMethod, request.method)
        call = EndpointRequest(request.route, method, request.user, tuple(request.roles), request.query, request.body, request.restricted)
        # The owner's requests made by the handler carry the call's token: the server then
        # answers them with what the caller may see (in this thread only).
        acting = ON_BEHALF_OF.set(request.delegation)
        try:
            answer = handler(call)
            if isinstance(answer, Coroutine):
                answer = self._run_coroutine(cast("Coroutine[object, object, object]", answer))
            return 200, msgspec.json.encode(answer)
        except Exception as error:  # the owner's code failed: say so, and how
            detail = "".join(traceback.format_exception_only(error)).strip()
            return 500, msgspec.json.encode(ErrorBody("endpoint_failed", f"the endpoint {request.route!r} raised {detail}"))
        finally:
            ON_BEHALF_OF.reset(acting)

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
