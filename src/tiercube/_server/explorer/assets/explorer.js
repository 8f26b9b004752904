// The explorer: pick a cube, put levels on rows and columns, pick measures and filters; the server
// computes every cell (and every total), Perspective draws the grid and the charts. This module is
// the page: the builder's actions, opening a cube or a link, exports, editing, the live redraw.
import { ApiError, SERVER_GONE } from "./api.js";
import { levelsOf, renderBuilder } from "./builder.js";
import { formatValue, formatsOf, measureOf } from "./formats.js";
import { measureFromForm, showMeasureInputs } from "./measure-form.js";
import { chooseMembers, chooseRange } from "./members.js";
import { savedViews } from "./saved.js";
import { api, can, decode, forget, label, levelType, message, queryPath, ready, run, state, viewFragment, wireValue, worker } from "./view.js";

const $ = (id) => document.getElementById(id);
const TIME_TYPES = new Set(["date", "timestamp"]);

// A level kept out of the list until asked for: a key of the fact table or a timestamp has about
// a member per fact row, too many to put on rows or to tick in a filter.
function highCardinality(level) {
  return (level.table === state.info.fact_table && state.factKeys.includes(level.column)) || levelType(level.name) === "timestamp";
}

function filterText(level, filter) {
  if (filter.members) {
    const shown = filter.members.slice(0, 3).map((m) => (m === null ? "(null)" : String(m))).join(", ");
    return `${level} in (${shown}${filter.members.length > 3 ? ", …" : ""})`;
  }
  if (filter.from && filter.to) return `${level} ${filter.from} to ${filter.to}`;
  return filter.from ? `${level} from ${filter.from}` : `${level} to ${filter.to}`;
}

const actions = {
  measure(name, checked) {
    state.measures = checked ? [...state.measures, name] : state.measures.filter((m) => m !== name);
    if (state.sort && !state.measures.some((m) => state.sort.column.endsWith(m))) state.sort = null;
    run();
  },
  place(levels, where) {
    state.rows = state.rows.filter((l) => !levels.includes(l));
    state.columns = state.columns.filter((l) => !levels.includes(l));
    state[where].push(...levels);
    reshaped();
  },
  remove(where, level) {
    state[where] = state[where].filter((l) => l !== level);
    reshaped();
  },
  filter(level) {
    const query = (body) => api.arrow(queryPath(), body).then(decode);
    const done = (chosen) => {
      if (chosen === null) delete state.filters[level];
      else state.filters[level] = chosen;
      render();
      run();
    };
    // A date or a timestamp is filtered by a range, not by ticking a box per day.
    if (TIME_TYPES.has(levelType(level))) chooseRange(level, levelType(level), state.filters[level] ?? {}, done);
    else chooseMembers(level, state.filters[level]?.members ?? [], query, (value) => label(level, value), (value) => wireValue(level, value), done);
  },
  clearFilter(level) {
    delete state.filters[level];
    render();
    run();
  },
};

// Rows or columns changed: the tree starts again from its top level.
function reshaped() {
  state.expanded.clear();
  state.sort = null;
  render();
  run();
}

function render() {
  renderBuilder(state, actions, filterText, highCardinality);
}

// The first view: the first measure and, on rows, the first level that is neither a date nor a
// level of a member per row; nothing on rows rather than such a level.
function firstView() {
  const measures = state.info.measures.map((m) => m.name);
  state.measures = measures.filter((m) => m !== "contributors.COUNT").slice(0, 1);
  if (state.measures.length === 0) state.measures = measures.slice(0, 1);
  const first = levelsOf(state.info).find((level) => !highCardinality(level) && !TIME_TYPES.has(levelType(level.name)));
  state.rows = first ? [first.name] : [];
}

function parsed(text, fallback) {
  try {
    return text ? JSON.parse(text) : fallback;
  } catch {
    return fallback;
  }
}

// ``view``: what the address's fragment asks for (as ``viewFragment`` writes it), if anything.
async function openCube(name, view = {}) {
  Object.assign(state, { cube: name, rows: [], columns: [], filters: {}, sort: null, tree: null, showAll: false });
  state.expanded.clear();
  const list = (text) => (text ? text.split(",").filter(Boolean) : []);
  if (can("READ_MODEL")) {
    state.info = await api.json("GET", `/api/v1/cubes/${encodeURIComponent(name)}`);
    const fact = await api.json("GET", `/api/v1/tables/${encodeURIComponent(state.info.fact_table)}`).catch(() => ({ keys: [] }));
    state.factKeys = fact.keys;
    state.factColumns = fact.columns ?? [];
    firstView();
    const levels = new Set(levelsOf(state.info).map((l) => l.name));
    if (view.rows !== undefined || view.columns !== undefined) {
      state.rows = list(view.rows).filter((l) => levels.has(l));
      state.columns = list(view.columns).filter((l) => levels.has(l) && !state.rows.includes(l));
    }
    const measures = state.info.measures.map((m) => m.name);
    if (view.measures !== undefined) state.measures = list(view.measures).filter((m) => measures.includes(m));
    const filters = parsed(view.filters, {});
    state.filters = Object.fromEntries(Object.entries(filters).filter(([level]) => levels.has(level)));
    state.top = topOf(parsed(view.top, null));
    $("structure").hidden = false;
    $("editing").hidden = !can("EDIT");
    render();
  } else {
    state.info = null;
    state.top = topOf(parsed(view.top, null));
    state.measures = list(view.measures);
    state.rows = list(view.rows);
    $("measure-names").value = state.measures.join(", ");
    $("level-names").value = state.rows.join(", ");
    $("by-name").hidden = false;
    $("structure").hidden = true;
    $("editing").hidden = true;
  }
  state.totals = view.totals === "1";
  $("totals").checked = state.totals;
  for (const path of parsed(view.expanded, [])) state.expanded.add(JSON.stringify(path));
  if (view.sort) state.sort = { column: view.sort.replace(/^-/, ""), descending: view.sort.startsWith("-") };
  choosePlugin(view.plugin && document.querySelector(`button.plugin[data-plugin="${CSS.escape(view.plugin)}"]`) ? view.plugin : "Datagrid");
  await run();
}

// A link's top n, if it names one this cube can answer: a whole n, a measure, a level or none.
function topOf(top) {
  if (!top || !Number.isInteger(top.n) || top.n < 1 || typeof top.measure !== "string") return null;
  if (state.info && !state.info.measures.some((m) => m.name === top.measure)) return null;
  const per = top.per ?? null;
  if (per !== null && state.info && !levelsOf(state.info).some((l) => l.name === per)) return null;
  return { n: top.n, measure: top.measure, per };
}

// The builder's top n, as the server takes it; none when n is empty. A change that changes
// nothing (the field left after its value was taken) asks nothing: a second run would race a
// member being expanded meanwhile.
function chooseTop() {
  const n = Number($("top-n").value);
  const top = Number.isInteger(n) && n >= 1 ? { n, measure: $("top-measure").value, per: $("top-per").value || null } : null;
  if (JSON.stringify(top) === JSON.stringify(state.top)) return;
  state.top = top;
  run();
}

function choosePlugin(plugin) {
  state.plugin = plugin;
  $("hint").hidden = plugin !== "Datagrid";
  for (const button of document.querySelectorAll("button.plugin")) button.setAttribute("aria-pressed", String(button.dataset.plugin === plugin));
}

function download(name, data, type) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([data], { type }));
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// The rows the page loaded, as the server computed them (the grid with a column per row level),
// never what the viewer shows: the viewer adds nothing up, and the export does not ask it.
// The display form: the same server numbers, each measure in the format the server keeps for it
// ("11.0%", "€1,234.50"), for a spreadsheet a person reads; Export CSV keeps the plain numbers.
function shownCsv(columns) {
  const names = Object.keys(columns).filter((name) => name !== "__ROW_PATH__");
  const formats = formatsOf(state.info);
  const field = (text) => (/[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
  const cell = (name, value) => formatValue(formats[measureOf(name, state.measures)], value);
  const rows = (columns[names[0]] ?? []).map((_, index) => names.map((name) => field(cell(name, columns[name][index]))).join(","));
  return [names.map(field).join(","), ...rows].join("\n") + "\n";
}

async function exportView(format) {
  if (!state.shown) return;
  let table = state.shown.table;
  if (state.exported) {
    table = await worker.table(state.exported.schema);
    await table.update(state.exported.data);
  }
  const view = await table.view();
  try {
    if (format === "shown") {
      download(`${state.cube} (as shown).csv`, shownCsv(await view.to_columns()), "text/csv");
      return;
    }
    const data = format === "csv" ? await view.to_csv() : await view.to_arrow();
    download(`${state.cube}.${format}`, data, format === "csv" ? "text/csv" : "application/vnd.apache.arrow.file");
  } finally {
    await view.delete();
    if (table !== state.shown.table) await table.delete();
  }
}

async function addMeasure(event) {
  event.preventDefault();
  const name = $("new-measure-name").value.trim();
  if (state.info.measures.some((m) => m.name === name)) {
    message(`The cube already has a measure named "${name}": pick another name (or delete that measure from Python first).`);
    return;
  }
  const expression = measureFromForm();
  if (expression.error) {
    message(expression.error);
    return;
  }
  // The page redraws itself once the measure is there; the new version the server announces for
  // it is not a second redraw racing with that one (the watcher skips a cube of unknown version).
  delete state.versions[state.cube];
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
}

function wire() {
  $("gone").textContent = SERVER_GONE;
  $("cube").addEventListener("change", () => openCube($("cube").value));
  $("totals").addEventListener("change", () => {
    state.totals = $("totals").checked;
    run();
  });
  for (const id of ["top-n", "top-measure", "top-per"]) $(id).addEventListener("change", chooseTop);
  for (const button of document.querySelectorAll("button.plugin")) {
    button.addEventListener("click", () => {
      choosePlugin(button.dataset.plugin);
      run();
    });
  }
  $("more-levels").addEventListener("click", () => {
    state.showAll = true;
    render();
  });
  $("export-csv").addEventListener("click", () => exportView("csv"));
  $("export-arrow").addEventListener("click", () => exportView("arrow"));
  $("export-shown").addEventListener("click", () => exportView("shown"));
  $("copy-code").addEventListener("click", () => navigator.clipboard.writeText($("code").textContent));
  $("sign-out").addEventListener("click", () => api.signOut());
  $("run-by-name").addEventListener("click", () => {
    const names = (id) => $(id).value.split(",").map((s) => s.trim()).filter(Boolean);
    state.measures = names("measure-names");
    state.rows = names("level-names");
    state.expanded.clear();
    run();
  });
  $("new-measure-op").addEventListener("change", showMeasureInputs);
  $("new-measure").addEventListener("submit", addMeasure);
}

// Who is signed in and what they may do, in plain words.
function who(grant) {
  const may = can("EDIT") ? "may query and edit" : can("READ_MODEL") ? "may query (read only)" : "may query by name";
  return `${grant.user ?? "anyone"} · ${may}`;
}

async function main() {
  wire();
  // The grant and the cubes' names at once: each only needs the versions this page states.
  const [grant, names] = await Promise.all([api.grant(), api.json("GET", "/api/query/cubes")]);
  state.grant = grant;
  api.user = grant.user ?? "anyone"; // whose saved views are whose (the server's name for no one signed in)
  $("who").textContent = who(grant);
  $("who").title = `tier: ${grant.tier}`;
  $("sign-out").hidden = !state.grant.security || api.embedded;
  const select = $("cube");
  select.replaceChildren(...names.map((name) => new Option(name, name)));
  const refreshViews = savedViews(api, {
    open: (fragment) => {
      const view = Object.fromEntries(new URLSearchParams(fragment));
      if (!names.includes(view.cube)) return message(`The saved view's cube "${view.cube}" is not here any more.`);
      select.value = view.cube;
      return openCube(view.cube, view);
    },
    fragment: () => location.hash.slice(1),
    message,
  });
  refreshViews().catch((error) => message(error.message));
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
    if (changed) {
      forget();
      run();
    }
  }, (reached) => {
    $("gone").hidden = reached;
  });
}

main().catch((error) => message(error instanceof ApiError ? error.message : `The page could not start: ${error.message}`));
