// The page's state: the view on screen (cube, levels, measures, filters, the tree as drawn) and
// what the signed-in caller may do. One object, shared by the page's modules.

export const state = {
  grant: null,
  cube: null,
  info: null, // the cube's structure, when the grant lets the page read it
  factKeys: [], // the fact table's key columns: a member per fact row, not offered as levels at first
  measures: [],
  rows: [],
  columns: [],
  filters: {}, // level -> {members: [...]} or {from, to} (either may be null)
  totals: false,
  top: null, // or {n, measure, per}: the server keeps the n best rows by measure per member of per (per null: per query, so per parent)
  plugin: "Datagrid",
  expanded: new Set(), // the ids of the row paths drawn with their children
  sort: null, // {column, descending}: siblings ordered by a column of the grid
  showAll: false,
  versions: {},
  tree: null, // {roots, grand, columnKeys}: the server's answers, as the grid's rows
  grid: null, // the rows on screen (flatten's ``rows``)
  shown: null, // the Perspective table on screen, and the key of the configuration it is drawn with
  exported: null, // the grid as exports write it ({data, schema}), or null: the table on screen
};

export const can = (group) => state.grant.groups.includes(group);
