// The member filter: a level's members (only those the caller may see: the server answers), searched
// in the browser, chosen with checkboxes.
import { ApiError } from "./api.js";

const $ = (id) => document.getElementById(id);
// A level with more members than this asks for another filter first.
export const MEMBER_LIMIT = 10000;

// ``query(body)``: the decoded answer of a cube query; ``done(members | null)``: apply, or no filter.
export async function chooseMembers(level, type, selected, query, label, done) {
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
  // Members come back as Perspective decodes them (dates as milliseconds); filters send them as the API takes them.
  const wire = (value) => (value !== null && (type === "date" || type === "datetime") ? label(level, value) : value);
  const chosen = new Set(members.filter((member) => selected.includes(wire(member))));
  const draw = () => {
    const needle = $("members-search").value.toLowerCase();
    const list = $("members-list");
    list.replaceChildren();
    for (const member of members) {
      const text = label(level, member);
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
    if (dialog.returnValue === "apply") done([...chosen].map(wire));
    else if (dialog.returnValue === "clear") done(null);
  };
}
