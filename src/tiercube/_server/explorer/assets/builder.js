// The pivot builder on the left: measures to tick, the cube's hierarchies with their levels (each
// level to rows, columns or a filter; a hierarchy of several levels to rows as a whole, drilled
// as a tree), the chips of what the view holds.

import { fillMeasureChoices } from "./measure-form.js";

const $ = (id) => document.getElementById(id);

export function levelsOf(info) {
  return info.hierarchies.flatMap((hierarchy) => hierarchy.levels);
}

function button(text, aria, act) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.setAttribute("aria-label", aria);
  element.addEventListener("click", act);
  return element;
}

function chip(list, text, onRemove) {
  const item = document.createElement("li");
  item.textContent = text;
  item.append(button("×", `remove ${text}`, onRemove));
  list.append(item);
}

// ``on``: {measure(name, checked), place(levels, where), filter(level), remove(where, level),
// clearFilter(level)}; ``filterText(level, filter)``: a filter as the chip shows it;
// ``hidden(level)``: a level kept out of the list until asked for (a key, too many members).
export function renderBuilder(state, on, filterText, hidden) {
  const measures = $("measures");
  measures.replaceChildren();
  for (const measure of state.info.measures) {
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = state.measures.includes(measure.name);
    box.setAttribute("aria-label", `measure ${measure.name}`);
    box.addEventListener("change", () => on.measure(measure.name, box.checked));
    const name = document.createElement("label");
    name.append(box, " ", measure.name);
    const item = document.createElement("li");
    item.append(name);
    measures.append(item);
  }
  const levels = $("levels").tBodies[0];
  levels.replaceChildren();
  let held = 0;
  for (const hierarchy of state.info.hierarchies) {
    const shown = hierarchy.levels.filter((level) => state.showAll || !hidden(level));
    held += hierarchy.levels.length - shown.length;
    if (shown.length === 0) continue;
    if (hierarchy.levels.length > 1) {
      // A hierarchy of several levels: its name, and its levels to rows at once, as a tree.
      const row = levels.insertRow();
      row.className = "hierarchy";
      const name = row.insertCell();
      name.textContent = hierarchy.name;
      name.title = hierarchy.levels.map((level) => level.name).join(" › ");
      row.insertCell().append(button("Rows", `rows: hierarchy ${hierarchy.name}`, () => on.place(hierarchy.levels.map((l) => l.name), "rows")));
      row.insertCell().append(button("Columns", `columns: hierarchy ${hierarchy.name}`, () => on.place(hierarchy.levels.map((l) => l.name), "columns")));
      row.insertCell();
    }
    for (const level of shown) {
      const row = levels.insertRow();
      const name = row.insertCell();
      name.textContent = level.name;
      if (hierarchy.levels.length > 1) name.className = "in-hierarchy";
      row.insertCell().append(button("Rows", `rows: ${level.name}`, () => on.place([level.name], "rows")));
      row.insertCell().append(button("Columns", `columns: ${level.name}`, () => on.place([level.name], "columns")));
      row.insertCell().append(button("Filter", `filter: ${level.name}`, () => on.filter(level.name)));
    }
  }
  $("more-levels").hidden = held === 0;
  $("more-levels").textContent = `${held} more level${held === 1 ? "" : "s"} (the fact table's keys, timestamps: a member per row)`;
  for (const where of ["rows", "columns"]) {
    const list = $(where);
    list.replaceChildren();
    for (const level of state[where]) chip(list, level, () => on.remove(where, level));
  }
  const filters = $("filters");
  filters.replaceChildren();
  for (const [level, filter] of Object.entries(state.filters)) chip(filters, filterText(level, filter), () => on.clearFilter(level));
  const options = state.info.measures.map((m) => new Option(m.name, m.name));
  // Top n by a measure per level: the server's ``top=`` (tiercube.Top in Python).
  $("top-measure").replaceChildren(...options.map((option) => option.cloneNode(true)));
  $("top-per").replaceChildren(new Option("each parent (or the whole view)", ""), ...levelsOf(state.info).map((level) => new Option(level.name, level.name)));
  $("top-n").value = state.top ? String(state.top.n) : "";
  if (state.top) {
    $("top-measure").value = state.top.measure;
    $("top-per").value = state.top.per ?? "";
  }
  $("new-measure-left").replaceChildren(...options);
  $("new-measure-right").replaceChildren(...options.map((option) => option.cloneNode(true)));
  $("new-measure-level").replaceChildren(...levelsOf(state.info).map((level) => new Option(level.name, level.name)));
  fillMeasureChoices(state.factColumns ?? [], levelsOf(state.info));
}
