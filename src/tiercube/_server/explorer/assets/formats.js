// How numbers look: each measure in the format the server keeps for it (set from Python with
// ``cube.measures.set_format(name, tiercube.Format.percent(1))``), the same one the notebook display
// and ``tiercube.show`` use; in a chart, measures of different scale on axes of their own, so that
// the smaller ones are not flattened against the larger.

import { SEPARATOR } from "./tree.js";

// Measures whose largest values differ by this factor or more are drawn on axes of their own.
const SCALE_GAP = 10;
// Intl.NumberFormat's own default when a format gives no decimals: up to 3 for a number, none for a percent.
const DEFAULT_DECIMALS = { number: 3, percent: 0, currency: 2 };

// The measure a column of the grid shows: "qty.SUM" or "Europe · qty.SUM".
export function measureOf(column, measures) {
  return measures.find((m) => column === m || column.endsWith(`${SEPARATOR}${m}`));
}

// A server format ({style, decimals, thousands, currency}) as Intl.NumberFormat options: the names
// were chosen to map one to one. No decimals: "as many as the value has", up to the default.
export function intlOptions(format) {
  const options = { style: format.style, useGrouping: format.thousands !== false };
  if (format.style === "currency") options.currency = format.currency;
  const most = format.decimals ?? DEFAULT_DECIMALS[format.style] ?? 3;
  options.maximumFractionDigits = most;
  options.minimumFractionDigits = format.decimals ?? 0;
  return options;
}

// One number as its measure's format shows it (exports' display form); as it comes without one.
export function formatValue(format, value) {
  if (value === null || value === undefined) return "";
  if (!format || typeof value !== "number") return String(value);
  return new Intl.NumberFormat("en-US", intlOptions(format)).format(value);
}

// Each measure's format by name, as the cube's description carries it (null: none).
export function formatsOf(info) {
  return Object.fromEntries((info?.measures ?? []).map((m) => [m.name, m.format ?? null]));
}

// Perspective's ``columns_config`` for the grid's ``columns``: each measure's column in its format.
export function columnsConfig(columns, measures, info) {
  const formats = formatsOf(info);
  const config = {};
  for (const column of columns) {
    const format = formats[measureOf(column, measures)];
    if (format) config[column] = { number_format: intlOptions(format) };
  }
  return config;
}

// The measures far smaller than the largest: a line chart puts them on its second axis, bars
// draw every measure as a chart of its own (view.js, showCells).
export function secondAxis(columns, measures) {
  if (measures.length < 2) return [];
  const largest = Object.fromEntries(measures.map((m) => [m, Math.max(0, ...columns[m].filter(Number.isFinite).map(Math.abs))]));
  const top = Math.max(...Object.values(largest));
  return measures.filter((m) => largest[m] > 0 && largest[m] * SCALE_GAP <= top);
}
