"""``cube.explore()``: the server's explorer inside a notebook, as an anywidget.

The widget is a frame on the explorer's embeddable page, signed in with a
browser session opened for the notebook's own caller; it names the notebook's
origin in the frame's address, the one page the server then lets frame it. Imported only when a
cube is explored: anywidget (``pip install "tiercube[notebook]"``) is optional.
"""

from __future__ import annotations

import anywidget
import traitlets

from tiercube._client.public_names import PublicNames
from tiercube._public import public

_ESM = """
function render({ model, el }) {
  const frame = document.createElement("iframe");
  frame.title = "tiercube explorer";
  frame.style.width = "100%";
  frame.style.border = "1px solid #d0d7de";
  const update = () => {
    // The server lets this page, and no other, frame the explorer (unless its embed_origins say otherwise).
    const src = new URL(model.get("src"));
    src.searchParams.set("embedder", location.origin);
    frame.src = src.href;
    frame.style.height = `${model.get("height")}px`;
  };
  update();
  model.on("change:src", update);
  model.on("change:height", update);
  el.appendChild(frame);
}
export default { render };
"""


class _Frame(anywidget.AnyWidget):
    """The anywidget itself: a frame whose address and height the notebook keeps in sync."""

    _esm = _ESM
    src = traitlets.Unicode().tag(sync=True)
    height = traitlets.Int(600).tag(sync=True)


# A typed class that shows a _Frame, not a subclass of one: ipywidgets (anywidget's base) has no
# types, so a subclass would make every signature that names the widget Unknown to type checkers.
@public
class ExplorerWidget(PublicNames):
    """The explorer on one cube, as ``cube.explore()`` returns it; ``src`` is its address, with the session token in the fragment.

    Jupyter, JupyterLab and VS Code show it as the anywidget it holds; setting
    ``src`` or ``height`` updates the frame in the notebook.
    ``tiercube.ExplorerWidget`` needs the notebook extra (``pip install "tiercube[notebook]"``, anywidget),
    as ``cube.explore()`` does: without it both raise ``ImportError`` saying so.
    """

    __slots__ = ("_frame",)

    def __init__(self, *, src: str, height: int = 600) -> None:
        self._frame = _Frame(src=src, height=height)

    @property
    def src(self) -> str:
        """The explorer's address, with the session token in the fragment."""
        return self._frame.src

    @src.setter
    def src(self, value: str) -> None:
        self._frame.src = value

    @property
    def height(self) -> int:
        """The frame's height in pixels."""
        return self._frame.height

    @height.setter
    def height(self, value: int) -> None:
        self._frame.height = value

    def _repr_mimebundle_(self, **options: object) -> object:
        # The widget's view for Jupyter's display machinery (and its model, created on first display).
        return getattr(self._frame, "_repr_mimebundle_")(**options)

    def __repr__(self) -> str:
        address = self.src.partition("#")[0]  # not the token in the fragment: reprs end up in logs
        return f"<ExplorerWidget {address} height={self.height}>"
