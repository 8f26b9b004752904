// Perspective draws; it never computes. Its own settings panel would let the analyst group, split,
// aggregate, filter or sort the rows it holds, and so add the server's subtotals into totals of
// its own (issue 18: a grand total three times the true one, prices summed). The panel's button
// is hidden, and any change to the viewer's configuration that did not come from this page is
// undone. A click on a column's header sorts the tree (within each parent) instead of the rows; a
// click on a member's name expands or collapses it.

// Two places in the vendored viewer write a name or value as markup, in code out of reach of a
// patch (Perspective's wasm, d3's selection.html() inside the d3fc bundle): a level, measure or
// member named "<img src=x onerror=...>" would become an element in another user's page. What they
// write there is taken as text instead:
// - Perspective's fallback plugin (<perspective-viewer-plugin>, drawn when a view names a plugin
//   the viewer does not have) writes the view's CSV into its innerHTML, inside a <pre>;
// - d3fc's legends name each series in an SVG <title>, which only ever holds text.
const innerHTML = Object.getOwnPropertyDescriptor(Element.prototype, "innerHTML");
Object.defineProperty(Element.prototype, "innerHTML", {
  ...innerHTML,
  set(markup) {
    if (this.localName !== "perspective-viewer-plugin") return innerHTML.set.call(this, markup);
    const csv = document.createElement("pre");
    csv.className = "fallback-plugin";
    csv.textContent = String(markup).replace(/^<pre[^>]*>/, "").replace(/<\/pre>$/, "");
    this.replaceChildren(csv);
  },
});
Object.defineProperty(SVGTitleElement.prototype, "innerHTML", {
  ...innerHTML,
  set(markup) {
    this.textContent = markup;
  },
});

// d3fc gives a chart's value axes a fixed 3em and writes ticks below 10,000,000 in full
// ("1,400,000"), above in compact form ("30.0M"): millions were cut to ",400,000" (issue 18).
// The value axes of bars and lines are made wide enough for the longest such tick ("-9,999,999"
// at the axes' 11px); heat maps size their axes to their members' names themselves.
const AXES_STYLE = `
:host .chart.ybar d3fc-svg.y-axis, :host .chart.ybar d3fc-svg.y2-axis,
:host .chart.yline d3fc-svg.y-axis, :host .chart.yline d3fc-svg.y2-axis { width: 76px !important; }
`;

const LOCKED = ["plugin", "group_by", "split_by", "aggregates", "filter", "sort", "expressions", "columns"];

export class LockedViewer {
  // ``onSort(column)``: a header was clicked; ``onToggle(rowIndex)``: a row's name was clicked;
  // ``onRefused()``: the viewer's configuration was changed from outside the page, and undone.
  constructor(viewer, { onSort, onToggle, onRefused }) {
    this.viewer = viewer;
    this.expected = null; // the configuration the page drew with
    this.busy = 0;
    this.rowStyle = () => null; // row index -> {bold, background} or null
    this.styled = new WeakSet();
    const style = document.createElement("style");
    style.textContent = "#settings_button { display: none !important; }";
    viewer.shadowRoot.append(style);
    viewer.addEventListener("perspective-config-update", () => this.check());
    // Capturing: the page answers these clicks before the grid's own handlers (which would sort).
    viewer.addEventListener("click", (event) => this.click(event, onSort, onToggle), { capture: true });
    this.onRefused = onRefused;
  }

  // Draws ``table`` with ``config``, or (``replace``) only puts new rows in the table on screen.
  async draw(config, load) {
    this.busy += 1;
    try {
      this.expected = { ...config, settings: false, sort: [], filter: [], expressions: {} };
      if (load) {
        const loaded = this.viewer.load(load);
        // The configuration first: drawn with the previous one, the new table can upset a chart.
        await this.viewer.restore(this.expected);
        await loaded;
      } else {
        await this.viewer.restore(this.expected);
      }
      this.styleGrid();
      await this.styleAxes();
    } finally {
      this.busy -= 1;
    }
  }

  async check() {
    if (this.busy || !this.expected) return;
    const current = await this.viewer.save();
    const changed = current.settings || LOCKED.some((key) => JSON.stringify(current[key]) !== JSON.stringify(this.expected[key]));
    if (!changed) return;
    this.busy += 1;
    try {
      await this.viewer.restore(this.expected);
    } finally {
      this.busy -= 1;
    }
    this.onRefused();
  }

  table() {
    return this.viewer.querySelector("perspective-viewer-datagrid")?.regular_table ?? null;
  }

  click(event, onSort, onToggle) {
    const table = this.table();
    if (!table || this.expected?.plugin !== "Datagrid") return;
    const cell = event.composedPath().find((element) => element.tagName === "TD" || element.tagName === "TH");
    if (!cell) return;
    const meta = table.getMeta(cell);
    if (!meta) return;
    if (cell.closest("thead")) {
      event.stopPropagation();
      const column = this.expected.columns[meta.x];
      if (column !== undefined) onSort(column);
    } else if (meta.x === 0 && meta.y !== undefined) {
      event.stopPropagation();
      onToggle(meta.y);
    }
  }

  // The chart plugins draw in shadow roots of their own, made on their first drawing: each gets
  // the axes' style then, and is drawn again (d3fc measures its axes when it draws; drawn at the
  // old width, the ticks would be stretched into the new one).
  async styleAxes() {
    let added = false;
    for (const plugin of this.viewer.children) {
      if (!plugin.localName.startsWith("perspective-viewer-d3fc") || !plugin.shadowRoot || this.styled.has(plugin)) continue;
      this.styled.add(plugin);
      const style = document.createElement("style");
      style.textContent = AXES_STYLE;
      plugin.shadowRoot.append(style);
      added = true;
    }
    if (added) await this.viewer.resize(true);
  }

  // Subtotal rows (expanded members) and the grand total in bold on a tint, after the grid's own
  // styling; each row says what it is in ``data-kind`` (member, subtotal, grand).
  styleGrid() {
    const table = this.table();
    if (!table) return;
    if (!this.styled.has(table)) {
      this.styled.add(table);
      table.addStyleListener(() => {
        for (const row of table.querySelectorAll("tbody tr")) {
          const first = row.querySelector("td, th");
          const meta = first && table.getMeta(first);
          const look = meta ? this.rowStyle(meta.y) : null;
          row.dataset.kind = look?.kind ?? "";
          const strong = look?.kind === "subtotal" || look?.kind === "grand";
          for (const cell of row.children) {
            cell.style.fontWeight = strong ? "600" : "";
            cell.style.background = look?.kind === "grand" ? "#dfe6ee" : strong ? "#eef2f6" : "";
            cell.style.cursor = meta?.x === 0 && look?.expandable ? "pointer" : "";
          }
        }
      });
    }
    table.draw();
  }
}

// The charts after the first of small multiples, each drawing one measure of the table on screen,
// placed after ``first`` (the page's viewer, which draws the first measure). Locked as it is.
export class SmallMultiples {
  constructor(first, onRefused) {
    this.first = first;
    this.onRefused = onRefused;
    this.charts = [];
  }

  // One chart per measure of ``measures``: ``config`` drawing that measure alone, from ``table``.
  async draw(config, measures, table) {
    await this.clear();
    let before = this.first;
    for (const measure of measures) {
      const element = document.createElement("perspective-viewer");
      element.className = "multiple";
      element.setAttribute("aria-label", `chart of ${measure}`);
      before.after(element);
      before = element;
      const chart = new LockedViewer(element, { onSort: () => {}, onToggle: () => {}, onRefused: this.onRefused });
      this.charts.push(chart);
      await chart.draw({ ...config, columns: [measure] }, table);
    }
  }

  async clear() {
    const charts = this.charts;
    this.charts = [];
    for (const chart of charts) {
      await chart.viewer.delete();
      chart.viewer.remove();
    }
  }
}
