"""``cube.explore()``: the server's explorer inside a notebook, as an anywidget.

The widget is a frame on the explorer's embeddable page, signed in with a
browser session opened for the notebook's own caller; it names the notebook's
origin in the frame's address, the one page the server then lets frame it. Imported only when a
cube is explored: anywidget (``pip install "tiercube[notebook]"``) is optional.
"""

from __future__ import annotations

import anywidget
import traitlets

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


@public
class ExplorerWidget(anywidget.AnyWidget):
    """The explorer on one cube, as ``cube.explore()`` returns it; ``src`` is its address, with the session token in the fragment.

    ``tiercube.ExplorerWidget`` needs the notebook extra (``pip install "tiercube[notebook]"``, anywidget),
    as ``cube.explore()`` does: without it both raise ``ImportError`` saying so.
    """

    _esm = _ESM
    src = traitlets.Unicode().tag(sync=True)
    height = traitlets.Int(600).tag(sync=True)
