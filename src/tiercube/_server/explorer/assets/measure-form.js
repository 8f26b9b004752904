// The new-measure form: what it builds (the wire form of the measure language, as
// ``cube.measures[name] = ...`` sends it) and which of its inputs each kind of measure needs.

const $ = (id) => document.getElementById(id);
const ARITHMETIC = ["+", "-", "*", "/"];
const STATISTICS = ["median", "quantile", "std", "var"];
const NUMBERS = new Set(["int32", "int64", "float32", "float64", "decimal"]);

// The inputs each kind shows, beside the name and the kind itself.
const INPUTS = {
  arithmetic: ["new-measure-left", "new-measure-right"],
  cumulative: ["new-measure-left", "new-measure-level"],
  "to-date": ["new-measure-left", "new-measure-level", "new-measure-restart"],
  rolling: ["new-measure-left", "new-measure-level", "new-measure-window"],
  shift: ["new-measure-left", "new-measure-level"],
  growth: ["new-measure-left", "new-measure-level"],
  share: ["new-measure-left", "new-measure-level"],
  rank: ["new-measure-left", "new-measure-level", "new-measure-within"],
  statistic: ["new-measure-column"],
  quantile: ["new-measure-column", "new-measure-q"],
};
const ALL_INPUTS = [...new Set(Object.values(INPUTS).flat())];

function kind(op) {
  if (ARITHMETIC.includes(op)) return "arithmetic";
  if (op === "quantile") return "quantile";
  if (STATISTICS.includes(op)) return "statistic";
  return op;
}

// Show the inputs the chosen kind of measure needs, hide the others.
export function showMeasureInputs() {
  const shown = INPUTS[kind($("new-measure-op").value)];
  for (const id of ALL_INPUTS) $(id).hidden = !shown.includes(id);
}

// The columns a statistic reads (the fact table's numbers), and the levels a total restarts at
// or a rank is within (or none).
export function fillMeasureChoices(columns, levels) {
  const numbers = columns.filter((column) => NUMBERS.has(typeof column.data_type === "string" ? column.data_type : column.data_type.type));
  $("new-measure-column").replaceChildren(...numbers.map((column) => new Option(column.name, column.name)));
  for (const id of ["new-measure-restart", "new-measure-within"]) {
    const none = id === "new-measure-within" ? [new Option("(all members)", "")] : [];
    $(id).replaceChildren(...none, ...levels.map((level) => new Option(level.name, level.name)));
  }
}

// What the form builds, from its inputs' values; an error message instead when one is missing.
export function measureFromForm() {
  const op = $("new-measure-op").value;
  const left = $("new-measure-left").value;
  const level = $("new-measure-level").value;
  const ref = (name) => ({ type: "measure_ref", name });
  const previous = { type: "shift", measure: ref(left), level, offset: -1 };
  switch (kind(op)) {
    case "cumulative":
      return { type: "cumulative", measure: ref(left), level };
    case "to-date":
      return { type: "cumulative", measure: ref(left), level, partitioning: $("new-measure-restart").value };
    case "rolling": {
      const members = Number($("new-measure-window").value);
      if (!Number.isInteger(members) || members < 1) return { error: "A rolling window holds a whole number of members, 1 or more." };
      return { type: "cumulative", measure: ref(left), level, window: { members } };
    }
    case "shift":
      return previous;
    case "growth":
      return { type: "arithmetic", op: "-", left: { type: "arithmetic", op: "/", left: ref(left), right: previous }, right: { type: "constant", value: 1 } };
    case "share":
      return { type: "arithmetic", op: "/", left: ref(left), right: { type: "parent_value", measure: ref(left), level } };
    case "rank":
      return { type: "rank", measure: ref(left), level, within: $("new-measure-within").value || null };
    case "statistic":
      return { type: "aggregate", function: op, column: $("new-measure-column").value };
    case "quantile": {
      const q = Number($("new-measure-q").value);
      if ($("new-measure-q").value === "" || !(q >= 0 && q <= 1)) return { error: "A quantile is a number from 0 to 1 (0.9: the 90th percentile)." };
      return { type: "aggregate", function: "quantile", column: $("new-measure-column").value, q };
    }
    default:
      return { type: "arithmetic", op, left: ref(left), right: ref($("new-measure-right").value) };
  }
}
