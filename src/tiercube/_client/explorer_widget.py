"""``cube.explore()``: the server's explorer inside a notebook, as an anywidget.

The browser never talks to the server: the widget's page sends every request
through the kernel (``explorer_widget.js``, ``explorer_relay.py``), so it works
wherever the notebook does, with a kernel on another machine too. Imported only
when a cube is explored: anywidget (``pip install "tiercube[notebook]"``) is optional.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Protocol, cast
from urllib.parse import urlencode

import anywidget
import traitlets

from tiercube._client.channel import Relay
from tiercube._client.public_names import PublicNames
from tiercube._public import public


class _Frame(anywidget.AnyWidget):
    """The anywidget itself: the page to load and the view to open; never a token or the server's address."""

    _esm = files("tiercube._client").joinpath("explorer_widget.js").read_text(encoding="utf-8")
    page = traitlets.Unicode().tag(sync=True)
    view = traitlets.Unicode().tag(sync=True)
    height = traitlets.Int(600).tag(sync=True)


class _Messages(Protocol):
    """What the relay uses of an ipywidget (which has no types): its custom messages, both ways."""

    def send(self, content: dict[str, object], buffers: list[bytes] | None = None) -> None: ...
    def on_msg(self, callback: Callable[[object, object, list[memoryview]], None], remove: bool = False) -> None: ...


# A typed class that shows a _Frame, not a subclass of one: ipywidgets (anywidget's base) has no
# types, so a subclass would make every signature that names the widget Unknown to type checkers.
@public
class ExplorerWidget(PublicNames):
    """The explorer on one cube, as ``cube.explore()`` returns it.

    Jupyter, JupyterLab and VS Code show it as the anywidget it holds. Its page
    reaches the server through the kernel, so the browser need not reach the
    server (a remote kernel); the kernel adds the widget's token, which never
    reaches the browser or the saved notebook. Setting ``height`` resizes it.
    ``tiercube.ExplorerWidget`` needs the notebook extra (``pip install "tiercube[notebook]"``, anywidget),
    as ``cube.explore()`` does: without it both raise ``ImportError`` saying so.
    """

    __slots__ = ("_frame", "_relay", "_url", "_cube")

    def __init__(self, relay: Relay, *, url: str, cube: str, height: int = 600) -> None:
        self._relay = relay
        self._url = url
        self._cube = cube
        self._frame = _Frame(page=relay.page, view=urlencode({"cube": cube}), height=height)
        # The widget's messages: the page's requests, answered from the relay's threads.
        messages = cast(_Messages, self._frame)
        relay.bind(messages.send)
        messages.on_msg(lambda _widget, content, buffers: relay.receive(content, buffers))

    @property
    def src(self) -> str:
        """The explorer's embeddable page with the widget's token in the fragment, for a browser that reaches the server."""
        token = self._relay.token
        return f"{self._url}{self._relay.page}#{urlencode({'cube': self._cube, **({'token': token} if token else {})})}"

    @property
    def height(self) -> int:
        """The frame's height in pixels."""
        return self._frame.height

    @height.setter
    def height(self, value: int) -> None:
        self._frame.height = value

    def close(self) -> None:
        """Remove the widget from the notebook and stop carrying its requests."""
        self._relay.close()
        self._frame.close()

    def _repr_mimebundle_(self, **options: object) -> object:
        # The widget's view for Jupyter's display machinery (and its model, created on first display).
        return getattr(self._frame, "_repr_mimebundle_")(**options)

    def __repr__(self) -> str:
        return f"<ExplorerWidget cube={self._cube!r} on {self._url} height={self.height}>"
