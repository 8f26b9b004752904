// The queries the page ran, as the Python that runs them: copy it into a notebook or a script.

function py(value) {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return String(value);
  return `"${String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

function condition(filter) {
  switch (filter.type) {
    case "isin":
      return `tiercube.level(${py(filter.column)}).isin(${filter.values.map(py).join(", ")})`;
    case "compare":
      return `(tiercube.level(${py(filter.column)}) ${filter.op} ${py(filter.value)})`;
    case "isnull":
      return `tiercube.level(${py(filter.column)}).isnull()`;
    case "and":
      return filter.operands.map((operand) => (operand.type === "compare" ? condition(operand) : `(${condition(operand)})`)).join(" & ");
    default:
      return JSON.stringify(filter);
  }
}

export function pythonQuery(cube, queries) {
  const lines = ["import tiercube", "", `cube = session.cubes[${py(cube)}]`];
  for (const query of queries) {
    const args = query.measures.map(py);
    if (query.levels.length) args.push(`levels=[${query.levels.map(py).join(", ")}]`);
    if (query.filter) args.push(`filter=${condition(query.filter)}`);
    if (query.include_totals) args.push("include_totals=True");
    if (query.max_rows !== undefined && query.max_rows !== null) args.push(`max_rows=${query.max_rows}`);
    if (query.top) args.push(`top=tiercube.Top(${query.top.n}, ${py(query.top.measure)}${query.top.per === null ? "" : `, per=${py(query.top.per)}`})`);
    lines.push(`cube.query(${args.join(", ")})`);
  }
  return lines.join("\n");
}
