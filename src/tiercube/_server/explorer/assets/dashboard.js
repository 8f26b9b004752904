// The dashboard: saved views side by side, each the server's cells for the signed-in user, drawn
// again when the data under its cube changes (as the explorer is). The page adds nothing up: every
// number is one the server computed for this caller, so a restricted user's dashboard shows her
// rows only. The address names the views (`#views=["q3","eu/q4"]`: the keys `session.views` uses,
// a user's own by name, others' as owner/name) or a saved dashboard (`#saved=<key>`). A dashboard
// is saved as a view of its own, whose fragment is `dashboard=<the keys>`.
// A view saved as a chart is drawn as that chart (panel-chart.js), a grid as a table of its cells.
import perspective from "./vendor/perspective/cdn/perspective.js";
import { Api, ApiError, replaceFragment } from "./api.js";
import { decode } from "./arrow.js";
import { CHARTS, chart, memberLabel } from "./panel-chart.js";

const $ = (id) => document.getElementById(id);
const api = new Api();
const worker = await perspective.worker();
const CELL_LIMIT = 50000;
const PATH = "/api/v1/explorer/views";

let views = []; // the saved views this user may open: explorer views and dashboards
let shown = []; // the keys of the views on the board, in order
let versions = {}; // cube -> the version of its data, as the server's events last said

const keyOf = (view) => (view.owner === api.user ? view.name : `${view.owner}/${view.name}`);
const fieldsOf = (view) => Object.fromEntries(new URLSearchParams(view.fragment));
const isDashboard = (view) => "dashboard" in fieldsOf(view);
const list = (text) => (text ? text.split(",").filter(Boolean) : []);

function parsed(text, fallback) {
  try {
    return text ? JSON.parse(text) : fallback;
  } catch {
    return fallback;
  }
}

function message(text) {
  $("message").hidden = !text;
  $("message").textContent = text || "";
}

// What a view asks the server: every cell of its measures by its row and column levels, under its
// filters, with the server's totals if it shows them (what `session.views[key].query()` runs).
function queryOf(fields) {
  const operands = [];
  for (const [level, filter] of Object.entries(parsed(fields.filters, {}))) {
    if (Array.isArray(filter?.members)) operands.push({ type: "isin", column: level, values: filter.members });
    if (filter?.from) operands.push({ type: "compare", column: level, op: ">=", value: filter.from });
    if (filter?.to) operands.push({ type: "compare", column: level, op: "<=", value: filter.to });
  }
  const filter = operands.length === 0 ? null : operands.length === 1 ? operands[0] : { type: "and", operands };
  const levels = [...list(fields.rows), ...list(fields.columns)];
  const measures = list(fields.measures);
  const query = { measures, levels, filter, include_totals: fields.totals === "1", max_rows: CELL_LIMIT };
  const top = topOf(parsed(fields.top, null), levels);
  return top ? { ...query, top } : query;
}

// The view's top n, when its cells can be ranked so (as the explorer's charts rank them): a whole
// n, a measure, and per a level that has a level below it, or per the whole query.
function topOf(top, levels) {
  if (!top || !Number.isInteger(top.n) || top.n < 1 || typeof top.measure !== "string") return null;
  const per = top.per ?? null;
  if (per !== null && (!levels.includes(per) || levels.indexOf(per) === levels.length - 1)) return null;
  return { n: top.n, measure: top.measure, per };
}


const cell = (tag, text, className) => Object.assign(document.createElement(tag), { textContent: text, className: className ?? "" });

function table(answer, query) {
  const element = document.createElement("table");
  const head = element.createTHead().insertRow();
  for (const level of query.levels) head.append(cell("th", level));
  for (const measure of query.measures) head.append(cell("th", measure, "number"));
  const body = element.createTBody();
  for (let i = 0; i < answer.rows; i += 1) {
    const row = body.insertRow();
    const rolled = query.levels.some((level) => answer.columns[level][i] === null);
    if (rolled) row.className = "total";
    for (const level of query.levels) row.append(cell("td", memberLabel(answer.schema[level], answer.columns[level][i], query.include_totals)));
    for (const measure of query.measures) {
      const value = answer.columns[measure][i];
      const decimals = answer.schema[measure] === "float" ? 2 : 0;
      const text = value === null ? "" : value.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
      row.append(cell("td", text, "number"));
    }
  }
  return element;
}

function shapeOf(fields, query) {
  const by = [list(fields.rows).join(", "), list(fields.columns).join(", ")].filter(Boolean).join(" × ");
  const filtered = query.filter ? " · filtered" : "";
  const top = query.top ? ` · best ${query.top.n} by ${query.top.measure}${query.top.per ? ` per ${query.top.per}` : ""}` : "";
  return `${query.measures.join(", ")}${by ? ` by ${by}` : ""}${filtered}${top}${query.include_totals ? " · with totals" : ""}`;
}

// One panel: the view's name (a link to it in the explorer), its shape, and its cells.
async function drawPanel(panel) {
  const view = views.find((candidate) => keyOf(candidate) === panel.dataset.key);
  const heading = cell("h2", "");
  if (!view || isDashboard(view)) {
    heading.textContent = panel.dataset.key;
    panel.replaceChildren(heading, cell("p", "This view is not shared with you, or it was deleted.", "refused"));
    return;
  }
  const fields = fieldsOf(view);
  const query = queryOf(fields);
  heading.append(Object.assign(document.createElement("a"), { href: `/#${view.fragment}`, textContent: keyOf(view) }));
  panel.dataset.cube = fields.cube;
  try {
    const answer = await decode(worker, await api.arrow(`/api/query/cubes/${encodeURIComponent(fields.cube)}/query`, query));
    const shape = cell("p", shapeOf(fields, query), "shape");
    if (!CHARTS.has(fields.plugin)) {
      panel.replaceChildren(heading, shape, table(answer, query));
      return;
    }
    const drawn = await chart(worker, answer, query, { plugin: fields.plugin, rows: list(fields.rows), columns: list(fields.columns) });
    panel.replaceChildren(heading, shape, ...drawn.elements);
    await drawn.draw();
  } catch (error) {
    panel.replaceChildren(heading, cell("p", error.message, "refused"));
  }
}

// Tests and the README's screenshots wait for this attribute to change.
function ready() {
  document.body.dataset.ready = String(performance.now());
}

async function drawAll(panels = [...document.querySelectorAll(".panel")]) {
  await Promise.all(panels.map(drawPanel));
  ready();
}

function layOut() {
  const panels = shown.map((key) => Object.assign(document.createElement("section"), { className: "panel" }));
  panels.forEach((panel, i) => {
    panel.dataset.key = shown[i];
    panel.setAttribute("aria-label", shown[i]);
  });
  $("panels").replaceChildren(...panels);
  const choices = views.filter((view) => !isDashboard(view)).map((view) => {
    const box = Object.assign(document.createElement("input"), { type: "checkbox", checked: shown.includes(keyOf(view)) });
    box.addEventListener("change", () => choose(keyOf(view), box.checked));
    const item = document.createElement("li");
    item.append(Object.assign(document.createElement("label"), { textContent: ` ${keyOf(view)}` }));
    item.firstChild.prepend(box);
    return item;
  });
  $("choices").replaceChildren(...(choices.length ? choices : [cell("li", "No saved views yet: save one in the explorer (Save view).")]));
  if (!shown.length) message("Tick the saved views to show side by side.");
  return drawAll(panels);
}

function choose(key, on) {
  shown = on ? [...shown, key] : shown.filter((shownKey) => shownKey !== key);
  replaceFragment(new URLSearchParams({ views: JSON.stringify(shown) }));
  message("");
  layOut();
}

// The views the address names: a list of keys, or a saved dashboard's.
function fromAddress() {
  const fields = Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
  if (fields.saved !== undefined) {
    const saved = views.find((view) => keyOf(view) === fields.saved && isDashboard(view));
    if (!saved) message(`No dashboard "${fields.saved}" is yours or shared with you.`);
    return saved ? parsed(fieldsOf(saved).dashboard, []) : [];
  }
  return parsed(fields.views, []);
}

async function refreshViews() {
  views = (await api.json("GET", PATH)).views;
  const dashboards = views.filter(isDashboard);
  $("dashboards").replaceChildren(
    new Option(dashboards.length ? "Saved dashboards…" : "No saved dashboards", ""),
    ...dashboards.map((view) => new Option(keyOf(view), keyOf(view))),
  );
}

function wire() {
  $("dashboards").addEventListener("change", () => {
    const key = $("dashboards").value;
    $("dashboards").value = "";
    if (!key) return;
    replaceFragment(new URLSearchParams({ saved: key }));
    shown = fromAddress();
    layOut();
  });
  $("save-dashboard").addEventListener("click", () => {
    $("save-dialog").returnValue = "";
    $("save-dialog").showModal();
  });
  $("save-dialog").addEventListener("close", async () => {
    const name = $("save-name").value.trim();
    if ($("save-dialog").returnValue !== "save" || !name) return;
    const roles = $("save-roles").value.split(",").map((role) => role.trim()).filter(Boolean);
    try {
      await api.request("PUT", `${PATH}/${encodeURIComponent(name)}`, { fragment: `dashboard=${encodeURIComponent(JSON.stringify(shown))}`, shared_with: roles });
      await refreshViews();
      replaceFragment(new URLSearchParams({ saved: name }));
      message(`Saved the dashboard "${name}"${roles.length ? `, shared with ${roles.join(", ")}` : ""}.`);
    } catch (error) {
      message(error.message);
    }
  });
}

async function main() {
  wire();
  const grant = await api.grant();
  api.user = grant.user;
  $("who").textContent = `${grant.user ?? "anyone"} · dashboard`;
  try {
    await refreshViews();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 403)) throw error;
    message("Saved views belong to a signed-in user: on this server nobody signs in, so there are none to show.");
    ready();
    return;
  }
  shown = fromAddress();
  await layOut();
  // Live: a panel is drawn again when the data under its cube changes.
  api.watch((now) => {
    const changed = Object.keys(now).filter((cube) => versions[cube] !== undefined && versions[cube] !== now[cube]);
    versions = now;
    if (changed.length) drawAll([...document.querySelectorAll(".panel")].filter((panel) => changed.includes(panel.dataset.cube)));
  }, (reached) => {
    $("gone").hidden = reached;
    $("gone").textContent = reached ? "" : "The server is not answering: this dashboard is drawn again once it is back.";
  });
}

document.body.classList.add("dashboard");
main().catch((error) => message(error instanceof ApiError ? error.message : `The page could not start: ${error.message}`));
