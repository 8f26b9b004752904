// Server answers -> the grid's rows: a tree of row members, column members across, every number
// as the server sent it.
//
// The browser never aggregates. Each level of the tree is one query over the row levels down to
// it and the column levels: the top level when the view is drawn, a member's children when it is
// expanded. A node's own cells come from the query of its level, so a parent row holds the
// server's subtotal of its children (means, distinct counts and ratios total correctly). Totals
// across columns are the rollup rows of the same query (``include_totals``), and so are the
// subtotals of a column level within its parent (Europe · Total: a partial column key); the grand
// total row is the rollup's last row and, per column, a query over the column levels alone.

export const TOTAL = "Total";
// Not "|": Perspective reads it in a column's name as the path of a split, and draws nothing.
export const SEPARATOR = " · ";
// Between the row levels in the name of the grid's first column: "region › country".
export const PATH_SEPARATOR = " › ";

// The depth of each row of a rollup over ``levels``: how many leading levels it is grouped by.
// A rolled-up level is null, like a null member; the server sorts a null member's cell just
// before the subtotal that looks the same, so in a run of equal keys the last is shallowest.
export function depths(columns, levels, rows) {
  const result = new Array(rows);
  const same = (i, j) => levels.every((level) => columns[level][i] === columns[level][j]);
  let start = 0;
  while (start < rows) {
    let end = start + 1;
    while (end < rows && same(start, end)) end += 1;
    let trailing = 0;
    while (trailing < levels.length && columns[levels[levels.length - 1 - trailing]][start] === null) trailing += 1;
    for (let i = start; i < end; i++) result[i] = levels.length - trailing + (end - 1 - i);
    start = end;
  }
  return result;
}

// A column level rolled up in a column key (Europe · Total): an object, which no member is, so
// that it differs from every member, null included, in a key and in the key's id.
const ROLLED = Object.freeze({ rolled: true });
const rolledUp = (value) => typeof value === "object" && value !== null;

// Members in the server's order (values ascending, nulls last), a subtotal after its members.
export function compareKeys(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const [x, y] = [a[i], b[i]];
    if (x === y || (rolledUp(x) && rolledUp(y))) continue;
    if (rolledUp(x)) return 1;
    if (rolledUp(y)) return -1;
    if (x === null) return 1;
    if (y === null) return -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

const keyId = (key) => JSON.stringify(key);

// Row ``i``'s column key, its levels from ``grouped`` down rolled up.
function columnKey(columns, columnLevels, i, grouped) {
  return columnLevels.map((level, position) => (position < grouped ? columns[level][i] : ROLLED));
}

// A row of the grid: ``path`` the members from the top level down to this one (``null`` for the
// grand total); ``cells`` column key id -> values by measure; ``total`` the values across columns.
function node(path) {
  return { path, cells: new Map(), total: null, children: null };
}

// Reads one answer for the level ``depth`` of the tree: ``part`` = {columns, rows} of a query over
// [rowLevels[0..depth], ...columnLevels], with the rollup when ``rolled``. Returns the nodes of that
// level in the server's order, and the grand total row when the answer holds it (the top level's
// rollup). ``columnKeys`` collects the column members met: id -> key.
export function readLevel(part, { rowLevels, columnLevels, measures, depth, rolled, columnKeys }) {
  const { columns, rows } = part;
  const levels = [...rowLevels.slice(0, depth + 1), ...columnLevels];
  const depthOf = rolled ? depths(columns, levels, rows) : null;
  const nodes = new Map(); // the row path's id -> node
  let grand = null;
  for (let i = 0; i < rows; i++) {
    const grouped = depthOf ? depthOf[i] : levels.length;
    // A measure missing from the answer (the measures changed while it was on its way; the next
    // run draws them) is empty, not an error.
    const values = measures.map((measure) => columns[measure]?.[i] ?? null);
    if (grouped === 0) {
      grand ??= node(null);
      if (columnLevels.length) grand.total = values;
      else grand.cells.set(keyId([]), values);
      continue;
    }
    if (grouped < depth + 1) continue; // an ancestor's: drawn from the ancestor's own query
    const path = rowLevels.slice(0, depth + 1).map((level) => columns[level][i]);
    const id = keyId(path);
    let row = nodes.get(id);
    if (row === undefined) nodes.set(id, (row = node(path)));
    if (grouped === depth + 1 && columnLevels.length) {
      row.total = values; // the row's total across the columns
    } else {
      const key = columnKey(columns, columnLevels, i, grouped - depth - 1);
      const columnId = keyId(key);
      if (!columnKeys.has(columnId)) columnKeys.set(columnId, key);
      row.cells.set(columnId, values);
    }
  }
  return { nodes: [...nodes.values()], grand };
}

// The grand total row's cells per column key: the answer of a query over the column levels alone
// (with its rollup when ``rolled``: then its last row is the total across every column).
export function readGrand(part, grand, { columnLevels, measures, columnKeys, rolled }) {
  const { columns, rows } = part;
  const depthOf = rolled ? depths(columns, columnLevels, rows) : null;
  for (let i = 0; i < rows; i++) {
    const grouped = depthOf ? depthOf[i] : columnLevels.length;
    // A measure missing from the answer (the measures changed while it was on its way; the next
    // run draws them) is empty, not an error.
    const values = measures.map((measure) => columns[measure]?.[i] ?? null);
    if (grouped === 0 && columnLevels.length) {
      grand.total = values;
    } else {
      const key = columnKey(columns, columnLevels, i, grouped);
      const columnId = keyId(key);
      if (!columnKeys.has(columnId)) columnKeys.set(columnId, key);
      grand.cells.set(columnId, values);
    }
  }
  return grand;
}

export const grandNode = () => node(null);

export const pathId = (path) => keyId(path);

// ``sort``: {column, descending} or null. Siblings are ordered among themselves, so a parent's
// children stay under it and the grand total stays last; nulls sort last either way.
function ordered(nodes, sort, valueOf) {
  if (!sort) return nodes;
  const direction = sort.descending ? -1 : 1;
  return [...nodes].sort((a, b) => {
    const [x, y] = [valueOf(a), valueOf(b)];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return x < y ? -direction : direction;
  });
}

// The grid as Perspective takes it: ``data`` column name -> values, ``order`` the column names,
// ``rows`` what each row of the grid is ({path, depth, expandable, expanded, grand}).
export function flatten(roots, grand, { rowLevels, columnLevels, measures, columnKeys, totals, sort, label }) {
  const labelColumn = rowLevels.join(PATH_SEPARATOR) || TOTAL;
  const keys = [...columnKeys.values()].sort(compareKeys);
  const valueColumns = []; // [name, (node) -> value]
  for (const key of keys) {
    const prefix = columnLevels.length ? key.map((value, i) => (rolledUp(value) ? TOTAL : label(columnLevels[i], value))).join(SEPARATOR) + SEPARATOR : "";
    const id = keyId(key);
    measures.forEach((measure, m) => valueColumns.push([prefix + measure, (row) => row.cells.get(id)?.[m] ?? null]));
  }
  if (totals && columnLevels.length) {
    measures.forEach((measure, m) => valueColumns.push([TOTAL + SEPARATOR + measure, (row) => row.total?.[m] ?? null]));
  }
  const order = [labelColumn, ...valueColumns.map(([name]) => name)];
  const byName = new Map(valueColumns);
  const valueOf = sort && byName.has(sort.column) ? byName.get(sort.column) : (row) => row.path.at(-1);
  const rows = [];
  const walk = (nodes, depth) => {
    for (const row of ordered(nodes, sort, valueOf)) {
      const expandable = depth < rowLevels.length - 1;
      rows.push({ node: row, depth, expandable, expanded: row.children !== null, grand: false });
      if (row.children) walk(row.children, depth + 1);
    }
  };
  walk(roots, 0);
  if (grand) rows.push({ node: grand, depth: 0, expandable: false, expanded: false, grand: true });
  const data = { [labelColumn]: rows.map((row) => rowLabel(row, rowLevels, label)) };
  const values = {};
  for (const [name, value] of valueColumns) values[name] = rows.map((row) => value(row.node));
  // For exports: a column per row level, empty below the row's own level ("Total" for the grand total).
  const members = Object.fromEntries(rowLevels.map((level, i) => [level, rows.map((row) => {
    if (row.grand) return i === 0 ? TOTAL : null;
    return i <= row.depth ? label(level, row.node.path[i]) : null;
  })]));
  return { data: { ...data, ...values }, order, rows, labelColumn, exported: { ...members, ...values } };
}

// Indented by depth (non-breaking spaces: the grid would collapse plain ones), with ▸ / ▾ on the
// members that expand.
function rowLabel(row, rowLevels, label) {
  if (row.grand) return TOTAL;
  const member = label(rowLevels[row.depth], row.node.path[row.depth]);
  const marker = row.expandable ? (row.expanded ? "▾ " : "▸ ") : "";
  return "\u00a0\u00a0\u00a0".repeat(row.depth) + marker + member;
}
