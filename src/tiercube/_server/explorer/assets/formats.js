// How numbers look: a share of a parent (``m / parent_value(m, level)``) as a percent; in a chart,
// measures of different scale on axes of their own, so that the smaller ones are not flattened
// against the larger.

import { SEPARATOR } from "./tree.js";

const PERCENT = { number_format: { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 } };
// Measures whose largest values differ by this factor or more are drawn on two axes.
const SCALE_GAP = 10;

// The measure a column of the grid shows: "qty.SUM" or "Europe · qty.SUM".
export function measureOf(column, measures) {
  return measures.find((m) => column === m || column.endsWith(`${SEPARATOR}${m}`));
}

function isShare(expression) {
  return expression?.type === "arithmetic" && expression.op === "/" && expression.right?.type === "parent_value";
}

// Perspective's ``columns_config`` for the grid's ``columns``: percents for the shares.
export function columnsConfig(columns, measures, info) {
  const shares = new Set((info?.measures ?? []).filter((m) => isShare(m.expression)).map((m) => m.name));
  const config = {};
  for (const column of columns) if (shares.has(measureOf(column, measures))) config[column] = PERCENT;
  return config;
}

// The measures a line chart puts on its second axis: those far smaller than the largest.
export function secondAxis(columns, measures) {
  if (measures.length < 2) return [];
  const largest = Object.fromEntries(measures.map((m) => [m, Math.max(0, ...columns[m].filter(Number.isFinite).map(Math.abs))]));
  const top = Math.max(...Object.values(largest));
  return measures.filter((m) => largest[m] > 0 && largest[m] * SCALE_GAP <= top);
}
