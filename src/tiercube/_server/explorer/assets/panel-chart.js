// A dashboard panel's chart: the view's cells as the server sent them, drawn by Perspective as the
// explorer draws them (each group of rows and columns holds exactly one cell, and "unique" is that
// cell: the chart adds nothing up). Measures of different scale get a bar chart each, or a second
// axis for lines, as in the explorer. The viewer is locked: its own settings cannot re-aggregate.
import "./vendor/perspective-viewer/cdn/perspective-viewer.js";
import "./vendor/perspective-viewer-d3fc/cdn/perspective-viewer-d3fc.js";
import { LockedViewer } from "./viewer.js";
import { TOTAL, depths } from "./tree.js";
import { secondAxis } from "./formats.js";

export const CHARTS = new Set(["Y Bar", "Y Line", "Heatmap"]);

// A member as the dashboard shows it; a null in a rolled-up level of the server's totals is "Total".
export function memberLabel(type, value, rolled = false) {
  if (value === null || value === undefined) return rolled ? TOTAL : "(null)";
  if (type === "date") return new Date(value).toISOString().slice(0, 10);
  if (type === "datetime") return new Date(value).toISOString().slice(0, 19).replace("T", " ");
  return String(value);
}

// ``answer``: the decoded cells of ``query``; ``rows`` and ``columns`` its levels on each axis.
// Returns the elements to put in the panel, drawn.
export async function chart(worker, answer, query, { plugin, rows, columns }) {
  const { measures, levels } = query;
  const grouped = query.include_totals ? depths(answer.columns, levels, answer.rows) : null;
  const data = Object.fromEntries(measures.map((measure) => [measure, answer.columns[measure]]));
  levels.forEach((level, position) => {
    // A rolled-up level is "Total"; a member that is itself null stays "(null)".
    data[level] = answer.columns[level].map((value, i) => (grouped && position >= grouped[i] ? TOTAL : memberLabel(answer.schema[level], value)));
  });
  const schema = Object.fromEntries([
    ...levels.map((level) => [level, "string"]),
    ...measures.map((measure) => [measure, answer.schema[measure] === "integer" ? "integer" : "float"]),
  ]);
  const table = await worker.table(schema);
  await table.update(data);
  const apart = secondAxis(answer.columns, measures);
  const config = {
    plugin,
    plugin_config: plugin === "Y Line" ? { splitMainValues: apart } : {},
    group_by: rows,
    split_by: columns,
    aggregates: Object.fromEntries(measures.map((measure) => [measure, "unique"])),
  };
  // Bars of measures of different scale: one chart each (Perspective's bar chart draws its second
  // axis with the first one's scale); a heat map draws its first measure.
  const each = plugin === "Heatmap" ? [[measures[0]]] : plugin === "Y Bar" && apart.length ? measures.map((m) => [m]) : [measures];
  const elements = [];
  for (const drawn of each) {
    const element = document.createElement("perspective-viewer");
    element.className = "chart";
    element.setAttribute("aria-label", `chart of ${drawn.join(", ")}`);
    elements.push(element);
  }
  return {
    elements,
    // Drawn once in the page (a viewer measures itself when it draws).
    draw: () => Promise.all(elements.map((element, i) => {
      const locked = new LockedViewer(element, { onSort: () => {}, onToggle: () => {}, onRefused: () => {} });
      return locked.draw({ ...config, columns: each[i] }, table);
    })),
  };
}
