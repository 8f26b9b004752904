// The explorer: pick a cube, put levels on rows and columns, pick measures and member filters;
// the server computes the cells (and the totals), Perspective draws the grid and the charts.
import "./vendor/perspective-viewer/cdn/perspective-viewer.js";
import "./vendor/perspective-viewer-datagrid/cdn/perspective-viewer-datagrid.js";
import "./vendor/perspective-viewer-d3fc/cdn/perspective-viewer-d3fc.js";
import perspective from "./vendor/perspective/cdn/perspective.js";
import { Api, ApiError } from "./api.js";
import { SEPARATOR, pivot } from "./pivot.js";
import { pythonQuery } from "./code.js";
import { chooseMembers } from "./members.js";

// The page never asks for more cells than this; a larger view says so and asks for a filter.
export const CELL_LIMIT = 50000;

const $ = (id) => document.getElementById(id);
const api = new Api();
const worker = await perspective.worker();
const viewer = $("viewer");

const state = {
  grant: null,
  cube: null,
  info: null, // the cube's structure, when the grant lets the page read it
  measures: [],
  rows: [],
  columns: [],
  filters: {}, // level -> selected members
  totals: false,
  plugin: "Datagrid",
  versions: {},
  shown: null, // the Perspective table on screen, and the view it is drawn with
};

const can = (group) => state.grant.groups.includes(group);

function message(text) {
  $("message").hidden = !text;
  $("message").textContent = text || "";
}

function levelsOf(info) {
  return info.hierarchies.flatMap((hierarchy) => hierarchy.levels);
}

function label(level, value) {
  if (value === null || value === undefined) return "(null)";
  const type = state.info ? levelsOf(state.info).find((l) => l.name === level)?.data_type : undefined;
  if (type === "date") return new Date(value).toISOString().slice(0, 10);
  if (type === "datetime") return new Date(value).toISOString().replace(".000Z", "Z");
  return String(value);
}

// Arrow IPC from the server -> plain columns, decoded by Perspective's own engine.
async function decode(buffer) {
  const table = await worker.table(buffer);
  const view = await table.view();
  const [columns, schema, rows] = [await view.to_columns(), await table.schema(), await table.size()];
  await view.delete();
  await table.delete();
  return { columns, schema, rows };
}

function wireFilter() {
  const operands = Object.entries(state.filters)
    .filter(([, members]) => members.length)
    .map(([level, members]) => ({ type: "isin", column: level, values: members }));
  if (operands.length === 0) return null;
  return operands.length === 1 ? operands[0] : { type: "and", operands };
}

function queries() {
  const base = { measures: state.measures, filter: wireFilter(), max_rows: CELL_LIMIT };
  const charting = state.plugin !== "Datagrid";
  const totals = state.totals && !charting;
  const list = [{ ...base, levels: [...state.rows, ...state.columns], include_totals: totals }];
  if (totals && state.rows.length && state.columns.length) {
    list.push({ ...base, levels: [...state.columns, ...state.rows], include_totals: true });
  }
  return list;
}

// Marks the page as drawn: tests and the first-paint benchmark wait for this attribute to change.
function ready() {
  document.body.dataset.ready = String(performance.now());
}

async function run() {
  if (!state.cube || state.measures.length === 0) {
    message(state.cube ? (state.info ? "Pick at least one measure." : "Name the measures (and levels) to query.") : "");
    ready();
    return;
  }
  const asked = queries();
  viewFragment();
  $("code").textContent = pythonQuery(state.cube, asked);
  $("status").textContent = "querying…";
  const started = performance.now();
  let answers;
  try {
    const path = `/api/query/cubes/${encodeURIComponent(state.cube)}/query`;
    answers = await Promise.all(asked.map((body) => api.arrow(path, body)));
  } catch (error) {
    $("status").textContent = "";
    if (error instanceof ApiError && error.code === "result_too_large") {
      message(`This view has more cells than the page shows (${CELL_LIMIT.toLocaleString()}): add a filter or take a level off. ${error.message}`);
    } else {
      message(error.message);
    }
    return;
  }
  message("");
  const cells = await show(asked, answers);
  $("status").textContent = `${cells.toLocaleString()} cells in ${Math.round(performance.now() - started)} ms`;
  ready();
}

// Draws the answers; returns how many cells the server sent. The same view with new numbers
// (a live update, a filter) replaces the table's rows in place: the viewer keeps its state.
async function show(asked, answers) {
  let data;
  let schema = null;
  let config;
  let cells;
  if (state.plugin === "Datagrid" && (state.columns.length || asked[0].include_totals)) {
    const parts = await Promise.all(answers.map(decode));
    const { grid, order } = pivot(
      parts.map((part, i) => ({ ...part, levels: asked[i].levels })),
      state.rows,
      state.columns,
      state.measures,
      label,
    );
    data = grid;
    schema = Object.fromEntries(order.map((name) => [name, state.rows.includes(name) ? "string" : valueType(parts[0].schema, name)]));
    config = { plugin: "Datagrid", columns: order, group_by: [], split_by: [], aggregates: {} };
    cells = parts[0].rows;
  } else if (state.plugin === "Datagrid") {
    // Levels on rows only, no totals: the server's cells are the grid, loaded as they came.
    data = answers[0];
    config = { plugin: "Datagrid", columns: [...state.rows, ...state.measures], group_by: [], split_by: [], aggregates: {} };
  } else {
    // Charts draw the cells as the server sent them: each (rows, columns) group holds exactly one
    // cell, so Perspective's "sum" of a group is that cell, whatever the measure.
    data = answers[0];
    config = {
      plugin: state.plugin,
      group_by: state.rows,
      split_by: state.columns,
      columns: state.plugin === "Heatmap" ? [state.measures[0]] : state.measures,
      aggregates: Object.fromEntries(state.measures.map((m) => [m, "sum"])),
    };
  }
  const key = JSON.stringify([config, schema]);
  if (state.shown && state.shown.key === key) {
    await state.shown.table.replace(data);
  } else {
    const table = schema ? await worker.table(schema) : await worker.table(data);
    if (schema) await table.update(data);
    // The configuration first: drawn with the previous one, the new table can upset a chart.
    const loaded = viewer.load(table);
    await viewer.restore({ ...config, sort: [], filter: [], expressions: {}, settings: false });
    await loaded;
    state.shown?.table.delete().catch(() => {});
    state.shown = { table, key };
  }
  return cells ?? (await state.shown.table.size());
}

function valueType(schema, column) {
  const measure = state.measures.find((m) => column === m || column.endsWith(`${SEPARATOR}${m}`));
  return schema[measure] === "integer" ? "integer" : "float";
}

// The builder -------------------------------------------------------------------------------

function chip(list, text, onRemove) {
  const item = document.createElement("li");
  item.textContent = text;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "×";
  remove.setAttribute("aria-label", `remove ${text}`);
  remove.addEventListener("click", onRemove);
  item.append(remove);
  list.append(item);
}

function render() {
  const measures = $("measures");
  measures.replaceChildren();
  for (const measure of state.info.measures) {
    const item = document.createElement("li");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = state.measures.includes(measure.name);
    box.setAttribute("aria-label", `measure ${measure.name}`);
    box.addEventListener("change", () => {
      state.measures = box.checked ? [...state.measures, measure.name] : state.measures.filter((m) => m !== measure.name);
      run();
    });
    const name = document.createElement("label");
    name.append(box, " ", measure.name);
    item.append(name);
    measures.append(item);
  }
  const levels = $("levels").tBodies[0];
  levels.replaceChildren();
  for (const level of levelsOf(state.info)) {
    const row = levels.insertRow();
    row.insertCell().textContent = level.name;
    for (const [text, act] of [
      ["Rows", () => place(level.name, "rows")],
      ["Columns", () => place(level.name, "columns")],
      ["Filter", () => pickMembers(level.name)],
    ]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = text;
      button.setAttribute("aria-label", `${text.toLowerCase()}: ${level.name}`);
      button.addEventListener("click", act);
      row.insertCell().append(button);
    }
  }
  for (const where of ["rows", "columns"]) {
    const list = $(where);
    list.replaceChildren();
    for (const level of state[where]) chip(list, level, () => {
      state[where] = state[where].filter((l) => l !== level);
      render();
      run();
    });
  }
  const filters = $("filters");
  filters.replaceChildren();
  for (const [level, members] of Object.entries(state.filters)) {
    if (!members.length) continue;
    const shown = members.slice(0, 3).map((m) => label(level, m)).join(", ") + (members.length > 3 ? ", …" : "");
    chip(filters, `${level} in (${shown})`, () => {
      delete state.filters[level];
      render();
      run();
    });
  }
  const options = state.info.measures.map((m) => `<option>${escapeHtml(m.name)}</option>`).join("");
  $("new-measure-left").innerHTML = options;
  $("new-measure-right").innerHTML = options;
  $("new-measure-level").innerHTML = levelsOf(state.info).map((l) => `<option>${escapeHtml(l.name)}</option>`).join("");
}

// What the new-measure form builds: arithmetic on two measures, or a measure moved along a level
// (the wire form of tiercube.cumulative, shift(-1), rank, and a measure over its parent_value).
function newMeasure(op, left, right, level) {
  const ref = (name) => ({ type: "measure_ref", name });
  switch (op) {
    case "cumulative":
      return { type: "cumulative", measure: ref(left), level };
    case "shift":
      return { type: "shift", measure: ref(left), level, offset: -1 };
    case "rank":
      return { type: "rank", measure: ref(left), level };
    case "share":
      return { type: "arithmetic", op: "/", left: ref(left), right: { type: "parent_value", measure: ref(left), level } };
    default:
      return { type: "arithmetic", op, left: ref(left), right: ref(right) };
  }
}

function escapeHtml(text) {
  const span = document.createElement("span");
  span.textContent = text;
  return span.innerHTML;
}

function place(level, where) {
  state.rows = state.rows.filter((l) => l !== level);
  state.columns = state.columns.filter((l) => l !== level);
  state[where].push(level);
  render();
  run();
}

function pickMembers(level) {
  const query = (body) => api.arrow(`/api/query/cubes/${encodeURIComponent(state.cube)}/query`, body).then(decode);
  const type = levelsOf(state.info).find((l) => l.name === level)?.data_type;
  chooseMembers(level, type, state.filters[level] || [], query, label, (chosen) => {
    if (chosen === null) delete state.filters[level];
    else state.filters[level] = chosen;
    render();
    run();
  });
}

// The page ------------------------------------------------------------------------------------

// ``view``: what the address's fragment asks for (as ``viewFragment`` writes it), if anything.
async function openCube(name, view = {}) {
  state.cube = name;
  state.rows = [];
  state.columns = [];
  state.filters = {};
  const list = (text) => (text ? text.split(",").filter(Boolean) : []);
  if (can("READ_MODEL")) {
    state.info = await api.json("GET", `/api/v1/cubes/${encodeURIComponent(name)}`);
    const fact = api.json("GET", `/api/v1/tables/${encodeURIComponent(state.info.fact_table)}`);
    const measures = state.info.measures.map((m) => m.name);
    state.measures = measures.filter((m) => m !== "contributors.COUNT").slice(0, 1);
    if (state.measures.length === 0) state.measures = measures.slice(0, 1);
    // Rows start with the first level that is not a key of the fact table (one row per fact row).
    const factInfo = await fact;
    const levels = levelsOf(state.info);
    const first = levels.find((l) => !(l.table === factInfo.name && factInfo.keys.includes(l.column))) ?? levels[0];
    if (first) state.rows = [first.name];
    const known = new Set(levels.map((l) => l.name));
    if (view.rows !== undefined || view.columns !== undefined) {
      state.rows = list(view.rows).filter((l) => known.has(l));
      state.columns = list(view.columns).filter((l) => known.has(l) && !state.rows.includes(l));
    }
    if (view.measures !== undefined) state.measures = list(view.measures).filter((m) => measures.includes(m));
    $("structure").hidden = false;
    $("editing").hidden = !can("EDIT");
    render();
  } else {
    state.measures = list(view.measures);
    state.rows = list(view.rows);
    $("measure-names").value = state.measures.join(", ");
    $("level-names").value = state.rows.join(", ");
    $("by-name").hidden = false;
    $("structure").hidden = true;
    $("editing").hidden = true;
  }
  if (view.plugin && document.querySelector(`button.plugin[data-plugin="${CSS.escape(view.plugin)}"]`)) choosePlugin(view.plugin);
  await run();
}

// The view in the address bar, so that a link opens it again (never with the embedded token).
function viewFragment() {
  const fragment = new URLSearchParams({ cube: state.cube, rows: state.rows.join(","), columns: state.columns.join(","), measures: state.measures.join(",") });
  if (state.plugin !== "Datagrid") fragment.set("plugin", state.plugin);
  history.replaceState(null, "", `${location.pathname}#${fragment}`);
}

function choosePlugin(plugin) {
  state.plugin = plugin;
  for (const button of document.querySelectorAll("button.plugin")) button.setAttribute("aria-pressed", String(button.dataset.plugin === plugin));
}

function download(name, data, type) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([data], { type }));
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// What the viewer shows now, as the user may have re-pivoted it in the viewer's own settings.
async function exportView(format) {
  const view = await viewer.getView();
  const data = format === "csv" ? await view.to_csv() : await view.to_arrow();
  download(`${state.cube}.${format}`, data, format === "csv" ? "text/csv" : "application/vnd.apache.arrow.file");
}

function wire() {
  $("cube").addEventListener("change", () => openCube($("cube").value));
  $("totals").addEventListener("change", () => {
    state.totals = $("totals").checked;
    run();
  });
  for (const button of document.querySelectorAll("button.plugin")) {
    button.addEventListener("click", () => {
      choosePlugin(button.dataset.plugin);
      run();
    });
  }
  $("export-csv").addEventListener("click", () => exportView("csv"));
  $("export-arrow").addEventListener("click", () => exportView("arrow"));
  $("copy-code").addEventListener("click", () => navigator.clipboard.writeText($("code").textContent));
  $("sign-out").addEventListener("click", () => api.signOut());
  $("run-by-name").addEventListener("click", () => {
    const names = (id) => $(id).value.split(",").map((s) => s.trim()).filter(Boolean);
    state.measures = names("measure-names");
    state.rows = names("level-names");
    run();
  });
  $("new-measure-op").addEventListener("change", () => {
    const alongLevel = !["+", "-", "*", "/"].includes($("new-measure-op").value);
    $("new-measure-right").hidden = alongLevel;
    $("new-measure-level").hidden = !alongLevel;
  });
  $("new-measure").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("new-measure-name").value.trim();
    const expression = newMeasure($("new-measure-op").value, $("new-measure-left").value, $("new-measure-right").value, $("new-measure-level").value);
    try {
      await api.request("PUT", `/api/v1/cubes/${encodeURIComponent(state.cube)}/measures/${encodeURIComponent(name)}`, { expression });
    } catch (error) {
      message(error.message);
      return;
    }
    state.info = await api.json("GET", `/api/v1/cubes/${encodeURIComponent(state.cube)}`);
    state.measures = [...state.measures, name];
    render();
    run();
  });
}

async function main() {
  wire();
  // The grant and the cubes' names at once: each only needs the versions this page states.
  const [grant, names] = await Promise.all([api.grant(), api.json("GET", "/api/query/cubes")]);
  state.grant = grant;
  $("who").textContent = `${state.grant.user ?? "anonymous"} · ${state.grant.tier}`;
  $("sign-out").hidden = !state.grant.security || api.token !== null;
  const select = $("cube");
  select.replaceChildren(...names.map((name) => new Option(name, name)));
  if (names.length === 0) {
    message("This session has no cube yet: create one from Python with session.create_cube(table).");
    ready();
  } else {
    const first = names.includes(api.view.cube) ? api.view.cube : names[0];
    select.value = first;
    await openCube(first, api.view.cube === first ? api.view : {});
  }
  api.watch((versions) => {
    const changed = state.cube && state.versions[state.cube] !== undefined && versions[state.cube] !== state.versions[state.cube];
    const cubesChanged = Object.keys(versions).join() !== Object.keys(state.versions).join();
    state.versions = versions;
    if (cubesChanged) {
      const current = select.value;
      select.replaceChildren(...Object.keys(versions).map((name) => new Option(name, name)));
      if (versions[current] !== undefined) select.value = current;
    }
    if (changed) run();
  });
}

main().catch((error) => message(error.message));
