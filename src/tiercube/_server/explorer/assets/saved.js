// Saved views: the whole view (the address's fragment) kept on the server under a name, for the
// signed-in user, and shared with roles if they choose. The list holds the user's own views,
// then those shared with one of their roles, and the dashboards saved from the dashboard page. Where the server keeps none for this page (nobody
// signs in on a server without security; a session that cannot read the model) the controls go.
import { ApiError } from "./api.js";

const $ = (id) => document.getElementById(id);
const PATH = "/api/v1/explorer/views";

// ``open(fragment)``: open a saved view; ``fragment()``: the view on screen, as the address holds it.
export function savedViews(api, { open, fragment, message }) {
  const select = $("saved-views");
  let views = [];

  async function refresh() {
    try {
      views = (await api.json("GET", PATH)).views;
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 403)) throw error;
      for (const control of [select, $("save-view"), $("dashboard-link")]) control.hidden = true;
      return;
    }
    const options = views.map((view, i) => new Option(view.owner === api.user ? view.name : `${view.name} (shared by ${view.owner})`, String(i)));
    select.replaceChildren(new Option(views.length ? "Saved views…" : "No saved views", ""), ...options);
  }

  select.addEventListener("change", () => {
    const view = views[Number(select.value)];
    select.value = "";
    if (!view) return;
    // A dashboard (saved from the dashboard page) opens there; a view opens here.
    const key = view.owner === api.user ? view.name : `${view.owner}/${view.name}`;
    if (new URLSearchParams(view.fragment).has("dashboard")) location.assign(`/dashboard#${new URLSearchParams({ saved: key })}`);
    else open(view.fragment);
  });

  $("save-view").addEventListener("click", () => {
    $("save-view-name").value = "";
    $("save-view-roles").value = "";
    $("save-dialog").returnValue = "";
    $("save-dialog").showModal();
  });

  $("save-dialog").addEventListener("close", async () => {
    if ($("save-dialog").returnValue !== "save") return;
    const name = $("save-view-name").value.trim();
    const roles = $("save-view-roles").value.split(",").map((role) => role.trim()).filter(Boolean);
    if (!name) return;
    if (views.some((view) => view.name === name && view.owner === api.user) && !confirm(`Replace your saved view "${name}"?`)) return;
    try {
      await api.request("PUT", `${PATH}/${encodeURIComponent(name)}`, { fragment: fragment(), shared_with: roles });
      await refresh();
      message(`Saved "${name}"${roles.length ? `, shared with ${roles.join(", ")}` : ""}.`);
    } catch (error) {
      message(error.message);
    }
  });

  return refresh;
}
