// The filters: a level's members (only those the caller may see: the server answers), searched in
// the browser, chosen with checkboxes; a date or a timestamp by a range, on a calendar.
import { ApiError } from "./api.js";

const $ = (id) => document.getElementById(id);
// A level with more members than this asks for another filter first.
export const MEMBER_LIMIT = 10000;

// ``query(body)``: the decoded answer of a cube query; ``label(member)`` its text; ``wire(member)``
// the member as a filter sends it; ``done({members} | null)``: apply, or no filter.
export async function chooseMembers(level, selected, query, label, wire, done) {
  const dialog = $("members");
  $("members-title").textContent = `Filter ${level}`;
  $("members-note").textContent = "loading members…";
  $("members-list").replaceChildren();
  $("members-search").value = "";
  dialog.onclose = null;
  dialog.returnValue = ""; // what the last close left would otherwise count as this one's choice
  dialog.showModal();
  let members;
  try {
    members = (await query({ measures: [], levels: [level], max_rows: MEMBER_LIMIT })).columns[level];
    $("members-note").textContent = "";
  } catch (error) {
    $("members-note").textContent =
      error instanceof ApiError && error.code === "result_too_large"
        ? `${level} has more than ${MEMBER_LIMIT.toLocaleString()} members: filter another level first.`
        : error.message;
    return;
  }
  const chosen = new Set(members.filter((member) => selected.includes(wire(member))));
  const draw = () => {
    const needle = $("members-search").value.toLowerCase();
    const list = $("members-list");
    list.replaceChildren();
    for (const member of members) {
      const text = label(member);
      if (needle && !text.toLowerCase().includes(needle)) continue;
      const item = document.createElement("li");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = chosen.has(member);
      box.addEventListener("change", () => (box.checked ? chosen.add(member) : chosen.delete(member)));
      const name = document.createElement("label");
      name.append(box, " ", text);
      item.append(name);
      list.append(item);
    }
  };
  $("members-search").oninput = draw;
  draw();
  dialog.onclose = () => {
    if (dialog.returnValue === "apply") done(chosen.size ? { members: [...chosen].map(wire) } : null);
    else if (dialog.returnValue === "clear") done(null);
  };
}

// ``current``: {from, to} as the filter holds them (ISO text, either may be null); ``done({from, to} | null)``.
export function chooseRange(level, type, current, done) {
  const dialog = $("range");
  $("range-title").textContent = `${level}: from, to`;
  for (const [id, value] of [["range-from", current.from], ["range-to", current.to]]) {
    const input = $(id);
    input.type = type === "date" ? "date" : "datetime-local";
    input.step = type === "date" ? "" : "1";
    input.value = value ?? "";
  }
  dialog.returnValue = "";
  dialog.onclose = () => {
    const [from, to] = [$("range-from").value || null, $("range-to").value || null];
    if (dialog.returnValue === "apply") done(from || to ? { from, to } : null);
    else if (dialog.returnValue === "clear") done(null);
  };
  dialog.showModal();
}
