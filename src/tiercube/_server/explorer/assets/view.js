// The view: the queries the page's state asks for, their answers drawn as a tree (the grid) or as
// they came (charts), a member expanded or collapsed, a column sorted. The server computes every
// cell and every total; Perspective draws them.
import "./vendor/perspective-viewer/cdn/perspective-viewer.js";
import "./vendor/perspective-viewer-datagrid/cdn/perspective-viewer-datagrid.js";
import "./vendor/perspective-viewer-d3fc/cdn/perspective-viewer-d3fc.js";
import perspective from "./vendor/perspective/cdn/perspective.js";
import { Api, ApiError, replaceFragment } from "./api.js";
import { decode as decodeArrow } from "./arrow.js";
import { TOTAL, depths, flatten, grandNode, pathId, readGrand, readLevel } from "./tree.js";
import { LockedViewer, SmallMultiples } from "./viewer.js";
import { columnsConfig, measureOf, secondAxis } from "./formats.js";
import { pythonQuery } from "./code.js";
import { label, wireValue } from "./labels.js";
import { state } from "./state.js";

export { can, state } from "./state.js";
export { label, levelType, wireValue } from "./labels.js";

// The page never asks for more cells than this; a larger view says so and asks for a filter.
export const CELL_LIMIT = 50000;

const $ = (id) => document.getElementById(id);
export const api = new Api();
export const worker = await perspective.worker();

export function message(text) {
  $("message").hidden = !text;
  $("message").textContent = text || "";
}

function refused() {
  message("The grid's own settings are off: the server computes every number. Use the builder on the left.");
}

// The grid and the charts each have a viewer of their own, and the one not in use is hidden, not
// emptied: going back to a view just left shows it as it was drawn instead of loading its table
// into the viewer again (most of a switch's time). ``shown``: the entry the screen draws.
const grid = {
  element: $("viewer"),
  viewer: new LockedViewer($("viewer"), { onSort: (column) => sortBy(column), onToggle: (index) => toggle(index), onRefused: refused }),
  shown: null,
};
const chart = {
  element: $("chart-viewer"),
  viewer: new LockedViewer($("chart-viewer"), { onSort: () => {}, onToggle: () => {}, onRefused: refused }),
  shown: null,
};

const multiples = new SmallMultiples($("chart-viewer"), refused);

function show(screen) {
  grid.element.hidden = screen !== grid;
  chart.element.hidden = screen !== chart;
  state.shown = screen.shown;
}

// The server's Arrow answers, decoded in this page's engine.
export const decode = (buffer) => decodeArrow(worker, buffer);

function combine(operands) {
  if (operands.length === 0) return null;
  return operands.length === 1 ? operands[0] : { type: "and", operands };
}

function userFilter() {
  const operands = [];
  for (const [level, filter] of Object.entries(state.filters)) {
    if (filter.members) operands.push({ type: "isin", column: level, values: filter.members });
    if (filter.from) operands.push({ type: "compare", column: level, op: ">=", value: filter.from });
    if (filter.to) operands.push({ type: "compare", column: level, op: "<=", value: filter.to });
  }
  return operands;
}

// The query for the level below ``path`` (the top level for []), limited to that member.
function levelQuery(path) {
  const operands = userFilter();
  path.forEach((member, i) => {
    const level = state.rows[i];
    operands.push(member === null ? { type: "isnull", column: level } : { type: "compare", column: level, op: "==", value: wireValue(level, member) });
  });
  const rolled = state.totals && (path.length === 0 || state.columns.length > 0);
  return withTop({
    measures: state.measures, levels: [...state.rows.slice(0, path.length + 1), ...state.columns],
    filter: combine(operands), include_totals: rolled, max_rows: CELL_LIMIT,
  });
}

// ``body`` keeping only the best rows when the view asks for a top n: per member of its level
// when the query holds a level below that one, else (no level named) per query, which is per
// parent for an expanded member's children. The server still computes totals over every row.
function withTop(body) {
  const top = state.top;
  if (!top) return body;
  const at = top.per === null ? -1 : body.levels.indexOf(top.per);
  if (top.per !== null && (at < 0 || at === body.levels.length - 1)) return body;
  return { ...body, top };
}

// What the view asks the server: for a chart its cells; for the grid the top level, the column
// totals, and the children of every expanded member.
function queries() {
  const base = { measures: state.measures, filter: combine(userFilter()), max_rows: CELL_LIMIT };
  if (state.plugin !== "Datagrid") {
    // With Totals, a chart draws the server's rollup too: a "Total" bar per group and a "Total" group.
    const levels = [...state.rows, ...state.columns];
    return [{ role: "cells", body: withTop({ ...base, levels, include_totals: state.totals && levels.length > 0 }) }];
  }
  if (state.rows.length === 0) {
    // One row, the total over everything, per column member.
    return [{ role: "column totals", body: { ...base, levels: state.columns, include_totals: state.totals && state.columns.length > 0 } }];
  }
  const list = [{ role: "level", path: [], body: levelQuery([]) }];
  // Rolled up when there are column levels to subtotal (Europe · Total), as the levels' queries are.
  if (state.totals && state.columns.length) list.push({ role: "column totals", body: { ...base, levels: state.columns, include_totals: state.columns.length > 1 } });
  const open = [...state.expanded].map((id) => JSON.parse(id)).filter((path) => path.length < state.rows.length);
  open.sort((a, b) => a.length - b.length);
  for (const path of open) list.push({ role: "level", path, body: levelQuery(path) });
  return list;
}

// Marks the page as drawn: tests and the benchmark wait for this attribute to change. The number
// of requests the page has made goes with it, so that a test can count the round trips of an action.
export function ready() {
  document.body.dataset.requests = String(api.requests);
  document.body.dataset.ready = String(performance.now());
}

// Says why, and marks the page drawn once the old grid is gone (a test reading it at once saw it).
async function failed(error) {
  $("view-status").textContent = "";
  if (error instanceof ApiError && error.code === "result_too_large") {
    message(`This view has more than ${CELL_LIMIT.toLocaleString()} cells, more than the page shows. Add a filter (Filter next to a level), take a level off the rows or columns, or collapse a member.`);
  } else {
    message(error.message);
  }
  await clear();
  ready();
}

export async function clear() {
  // A view that cannot be drawn leaves no grid: the old one would stand under the new chips.
  state.tree = null;
  state.grid = null;
  await multiples.clear();
  for (const screen of [grid, chart]) {
    if (!screen.shown) continue;
    await screen.viewer.draw({ plugin: "Datagrid", columns: [], group_by: [], split_by: [], aggregates: {} }, await worker.table({ "": "string" }));
    screen.shown.table.delete().catch(() => {});
    screen.shown = null;
  }
  show(grid);
}

// The answers of the last queries, decoded: switching between the grid and a chart, or back to a
// view just left, draws again without asking. Emptied when the data changes (``forget``).
const answered = new Map();
const KEPT_ANSWERS = 16;

export function forget() {
  answered.clear();
}

// The decoded answer to ``body``, from the server unless the page has it already.
export function ask(body) {
  const key = JSON.stringify([state.cube, body]);
  let answer = answered.get(key);
  if (answer === undefined) {
    answer = api.arrow(queryPath(), body).then(decode);
    answer.catch(() => answered.delete(key)); // a refusal is not kept: the next try asks again
    answered.set(key, answer);
    if (answered.size > KEPT_ANSWERS) answered.delete(answered.keys().next().value);
  }
  return answer;
}

export const queryPath = () => `/api/query/cubes/${encodeURIComponent(state.cube)}/query`;

// Runs overlap (a measure ticked while a slow query is under way): only the latest may draw,
// or an older answer would be read with the newer view's measures and levels.
let latestRun = 0;

export async function run() {
  const mine = ++latestRun;
  if (!state.cube || state.measures.length === 0) {
    message(state.cube ? (state.info ? "Pick at least one measure." : "Name the measures (and levels) to query.") : "");
    await clear();
    ready();
    return;
  }
  const asked = queries();
  viewFragment();
  $("code").textContent = pythonQuery(state.cube, asked.map((q) => q.body));
  $("view-status").textContent = "querying…";
  const started = performance.now();
  let answers;
  try {
    answers = await Promise.all(asked.map((q) => ask(q.body)));
  } catch (error) {
    if (mine === latestRun) await failed(error);
    return;
  }
  if (mine !== latestRun) return; // a newer view is on its way; it draws and says ready
  message("");
  let cells;
  if (asked[0].role === "cells") {
    cells = answers[0].rows;
    await showCells(answers[0], asked[0].body);
  } else {
    cells = buildTree(asked, answers);
    state.tree.answers = answers;
    await showTree();
  }
  $("view-status").textContent = `${cells.toLocaleString()} cells in ${Math.round(performance.now() - started)} ms`;
  ready();
}

function treeOptions(depth, rolled) {
  return { rowLevels: state.rows, columnLevels: state.columns, measures: state.measures, depth, rolled, columnKeys: state.tree.columnKeys };
}

// The answers of ``queries()`` as the tree: the top level, then each expanded member's children.
function buildTree(asked, answers) {
  state.tree = { roots: [], grand: null, columnKeys: new Map(), types: answers[0].schema };
  const byPath = new Map();
  let cells = 0;
  asked.forEach((query, i) => {
    cells += answers[i].rows;
    if (query.role === "column totals") return;
    const { nodes, grand } = readLevel(answers[i], treeOptions(query.path.length, query.body.include_totals));
    for (const node of nodes) byPath.set(pathId(node.path), node);
    if (query.path.length === 0) {
      state.tree.roots = nodes;
      state.tree.grand = state.totals ? grand : null;
    } else {
      const parent = byPath.get(pathId(query.path));
      if (parent) parent.children = nodes;
      else state.expanded.delete(pathId(query.path)); // the member is gone (a filter, new data)
    }
  });
  asked.forEach((query, i) => {
    if (query.role !== "column totals") return;
    state.tree.grand ??= grandNode();
    readGrand(answers[i], state.tree.grand, treeOptions(0, query.body.include_totals));
  });
  return cells;
}

function valueType(schema, column) {
  return schema[measureOf(column, state.measures)] === "integer" ? "integer" : "float";
}

// Draws ``data`` with ``config``. ``source`` says what the data was made of (the answers, which
// the page keeps, and how the tree stood): data made of the same is not sent to Perspective
// again. The same configuration (new numbers, an expanded member) replaces the rows of the table
// on screen, and the viewer keeps its scroll position; what the screen drew last stays drawn
// (``show``), and the tables last left are kept to come back to.
async function draw(screen, data, schema, config, source) {
  show(screen);
  const key = JSON.stringify([config, schema]);
  const same = (entry) => entry.source.length === source.length && entry.source.every((part, i) => part === source[i]);
  if (screen.shown && screen.shown.key === key) {
    if (same(screen.shown)) return; // drawn as it stands
    await screen.shown.table.replace(data);
    screen.shown.source = source;
    await screen.viewer.draw(config, null);
    return;
  }
  let entry = parked.get(key);
  parked.delete(key);
  if (entry && !same(entry)) await entry.table.replace(data);
  if (!entry) {
    entry = { table: await worker.table(schema), key };
    await entry.table.update(data);
  }
  entry.source = source;
  await screen.viewer.draw(config, entry.table);
  park(screen.shown);
  screen.shown = entry;
  state.shown = entry;
}

const parked = new Map(); // configuration key -> {table, key, source}
const KEPT_TABLES = 2;

function park(entry) {
  if (!entry) return;
  parked.set(entry.key, entry);
  if (parked.size > KEPT_TABLES) {
    const [oldest] = parked.values();
    parked.delete(oldest.key);
    oldest.table.delete().catch(() => {});
  }
}

async function showTree() {
  await multiples.clear();
  const { data, order, rows, labelColumn, exported } = flatten(state.tree.roots, state.tree.grand, {
    rowLevels: state.rows, columnLevels: state.columns, measures: state.measures, columnKeys: state.tree.columnKeys,
    totals: state.totals, sort: state.sort, label,
  });
  state.grid = rows;
  grid.viewer.rowStyle = (index) => {
    const row = rows[index];
    if (!row) return null;
    return { kind: row.grand ? "grand" : row.expanded ? "subtotal" : "member", expandable: row.expandable };
  };
  const schema = Object.fromEntries(order.map((name) => [name, name === labelColumn ? "string" : valueType(state.tree.types, name)]));
  state.exported = { data: exported, schema: Object.fromEntries(Object.keys(exported).map((name) => [name, schema[name] ?? "string"])) };
  const source = [...state.tree.answers, ...[...state.expanded].sort(), JSON.stringify(state.sort)];
  await draw(grid, data, schema, {
    plugin: "Datagrid", columns: order, group_by: [], split_by: [], aggregates: {},
    columns_config: columnsConfig(order, state.measures, state.info),
  }, source);
}

// Charts draw the cells as the server sent them, its total rows included when Totals is ticked.
// Each (rows, columns) group holds exactly one cell, and "unique" is that cell: the chart adds
// nothing up.
async function showCells(answer, body) {
  state.exported = null; // the table on screen is the server's answer as it came
  const columns = [...body.levels, ...state.measures];
  const data = Object.fromEntries(columns.map((name) => [name, answer.columns[name]]));
  const schema = Object.fromEntries(columns.map((name) => [name, state.measures.includes(name) ? valueType(answer.schema, name) : "string"]));
  // A rolled-up level (null in a total row of the server's rollup) is named "Total"; a member that
  // is itself null stays "(null)".
  const grouped = body.include_totals ? depths(answer.columns, body.levels, answer.rows) : null;
  body.levels.forEach((level, position) => {
    data[level] = data[level].map((value, i) => (grouped && position >= grouped[i] ? TOTAL : label(level, value)));
  });
  await multiples.clear();
  const apart = secondAxis(answer.columns, state.measures);
  // Perspective 3.8's bar chart draws its second axis with the first one's scale (the smaller
  // measure's bars flattened to a pixel against the larger's): bars of measures of different
  // scale are drawn as small multiples instead, one chart per measure, each on its own axis.
  // Lines draw a second axis correctly.
  const apartCharts = state.plugin === "Y Bar" && apart.length > 0;
  const config = {
    plugin: state.plugin,
    plugin_config: state.plugin === "Y Line" ? { splitMainValues: apart } : {},
    columns_config: columnsConfig(state.measures, state.measures, state.info),
    group_by: state.rows,
    split_by: state.columns,
    columns: state.plugin === "Heatmap" || apartCharts ? [state.measures[0]] : state.measures,
    aggregates: Object.fromEntries(state.measures.map((m) => [m, "unique"])),
  };
  await draw(chart, data, schema, config, [answer]);
  if (apartCharts) await multiples.draw(config, state.measures.slice(1), chart.shown.table);
}

// Expands a member (one query: its children) or collapses it (none).
async function toggle(index) {
  const row = state.grid?.[index];
  if (!row || !row.expandable) return;
  const id = pathId(row.node.path);
  if (row.expanded) {
    row.node.children = null;
    state.expanded.delete(id);
    viewFragment();
    await showTree();
    ready();
    return;
  }
  const body = levelQuery(row.node.path);
  $("view-status").textContent = "querying…";
  const started = performance.now();
  let answer;
  try {
    answer = await ask(body);
  } catch (error) {
    await failed(error);
    return;
  }
  row.node.children = readLevel(answer, treeOptions(row.node.path.length, body.include_totals)).nodes;
  state.expanded.add(id);
  viewFragment();
  $("code").textContent = pythonQuery(state.cube, queries().map((q) => q.body));
  await showTree();
  $("view-status").textContent = `${label(state.rows[row.node.path.length - 1], row.node.path.at(-1))}: ${answer.rows.toLocaleString()} cells in ${Math.round(performance.now() - started)} ms`;
  ready();
}

// A header click: sort by that column, then the other way, then the server's order again.
async function sortBy(column) {
  if (!state.tree) return;
  if (state.sort?.column !== column) state.sort = { column, descending: false };
  else if (!state.sort.descending) state.sort = { column, descending: true };
  else state.sort = null;
  viewFragment();
  await showTree();
  ready();
}

// The address names the whole view (filters, totals, expanded members and sort included), so
// that a link opens it again; never with the embedded token.
export function viewFragment() {
  const fragment = new URLSearchParams({ cube: state.cube, rows: state.rows.join(","), columns: state.columns.join(","), measures: state.measures.join(",") });
  if (state.plugin !== "Datagrid") fragment.set("plugin", state.plugin);
  if (state.totals) fragment.set("totals", "1");
  if (state.top) fragment.set("top", JSON.stringify(state.top));
  if (Object.keys(state.filters).length) fragment.set("filters", JSON.stringify(state.filters));
  if (state.expanded.size) fragment.set("expanded", JSON.stringify([...state.expanded].map((id) => JSON.parse(id))));
  if (state.sort) fragment.set("sort", `${state.sort.descending ? "-" : ""}${state.sort.column}`);
  replaceFragment(fragment);
}
