// Server cells -> the grid: row levels down, column levels across, every number from the server.
//
// The browser never aggregates: totals come from the server's rollup rows
// (``include_totals``), so means, distinct counts and ratios total correctly.
// A rollup over (rows..., columns...) gives every row's total across columns;
// the column totals over rows come from a second rollup over (columns..., rows...).

export const TOTAL = "Total";
// Not "|": Perspective reads it in a column's name as the path of a split, and draws nothing.
export const SEPARATOR = " · ";

// The depth of each row of a rollup over ``levels``: how many leading levels it is grouped by.
// A rolled-up level is null, like a null member; the server sorts a null member's cell just
// before the subtotal that looks the same, so in a run of equal keys the last is shallowest.
export function depths(columns, levels, rows) {
  const result = new Array(rows);
  const key = (i) => JSON.stringify(levels.map((level) => columns[level][i]));
  let start = 0;
  while (start < rows) {
    let end = start + 1;
    const first = key(start);
    while (end < rows && key(end) === first) end += 1;
    let trailing = 0;
    while (trailing < levels.length && columns[levels[levels.length - 1 - trailing]][start] === null) trailing += 1;
    for (let i = start; i < end; i++) result[i] = levels.length - trailing + (end - 1 - i);
    start = end;
  }
  return result;
}

function compareKeys(a, b) {
  // Members in the server's order (values ascending, nulls last); a total after the members it totals.
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i >= a.length) return 1;
    if (i >= b.length) return -1;
    const [x, y] = [a[i], b[i]];
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

// ``parts``: [{columns, levels, rows, rowLevels}] (one or two rollups). Returns the grid's columns
// (row labels, then one column per column key and measure), their order, and the types of the values.
export function pivot(parts, rowLevels, columnLevels, measures, label) {
  const rowKeys = new Map(); // JSON(row key) -> row key, in order of first appearance
  const columnKeys = new Map();
  const cells = new Map(); // JSON([row key, column key]) -> values by measure
  for (const { columns, levels, rows } of parts) {
    const depthOf = depths(columns, levels, rows);
    const rowsFirst = levels[0] === rowLevels[0] || columnLevels.length === 0;
    for (let i = 0; i < rows; i++) {
      const values = levels.map((level) => columns[level][i]);
      const depth = depthOf[i];
      let rowDepth, columnDepth;
      if (rowsFirst) {
        rowDepth = Math.min(depth, rowLevels.length);
        columnDepth = depth > rowLevels.length ? depth - rowLevels.length : 0;
      } else {
        columnDepth = Math.min(depth, columnLevels.length);
        rowDepth = depth > columnLevels.length ? depth - columnLevels.length : 0;
      }
      const byName = Object.fromEntries(levels.map((level, j) => [level, values[j]]));
      const rowKey = rowLevels.slice(0, rowDepth).map((level) => byName[level]);
      const columnKey = columnLevels.slice(0, columnDepth).map((level) => byName[level]);
      const rowId = JSON.stringify(rowKey);
      const columnId = JSON.stringify(columnKey);
      if (!rowKeys.has(rowId)) rowKeys.set(rowId, rowKey);
      if (!columnKeys.has(columnId)) columnKeys.set(columnId, columnKey);
      cells.set(JSON.stringify([rowId, columnId]), Object.fromEntries(measures.map((m) => [m, columns[m][i]])));
    }
  }
  const orderedRows = [...rowKeys.values()];
  if (parts.length > 1) orderedRows.sort(compareKeys);
  const orderedColumns = [...columnKeys.values()].sort(compareKeys);
  const grid = {};
  const order = [];
  rowLevels.forEach((level, depth) => {
    order.push(level);
    grid[level] = orderedRows.map((key) => (depth < key.length ? label(level, key[depth]) : depth === key.length ? TOTAL : ""));
  });
  for (const columnKey of orderedColumns) {
    const prefix = columnLevels.length
      ? [...columnKey.map((value, i) => label(columnLevels[i], value)), ...(columnKey.length < columnLevels.length ? [TOTAL] : [])].join(SEPARATOR) + SEPARATOR
      : "";
    for (const measure of measures) {
      const name = prefix + measure;
      order.push(name);
      grid[name] = orderedRows.map((rowKey) => {
        const cell = cells.get(JSON.stringify([JSON.stringify(rowKey), JSON.stringify(columnKey)]));
        return cell === undefined ? null : cell[measure];
      });
    }
  }
  return { grid, order, rows: orderedRows.length };
}
