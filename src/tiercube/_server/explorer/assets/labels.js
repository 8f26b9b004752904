// Members as the page shows them (one way for dates, in the level's sense for a date hierarchy)
// and as the API takes them in a filter.
import { levelsOf } from "./builder.js";
import { state } from "./state.js";

export function levelType(level) {
  const type = state.info ? levelsOf(state.info).find((l) => l.name === level)?.data_type : undefined;
  return typeof type === "object" && type !== null ? type.type : type;
}

// What a date hierarchy's level truncates its dates to ("year", "quarter", ...), or null.
function truncation(level) {
  const expression = state.info ? levelsOf(state.info).find((l) => l.name === level)?.expression : null;
  if (expression?.type !== "call" || expression.function !== "date_trunc") return null;
  return expression.arguments.find((argument) => argument.type === "row_literal")?.value ?? null;
}

const isoDate = (value) => new Date(value).toISOString().slice(0, 10);

// A member of a date hierarchy's level as that level means it: 2024, 2024 Q1, 2024-01, a week's Monday.
function dateLabel(level, value) {
  const iso = isoDate(value);
  switch (truncation(level)) {
    case "year":
      return iso.slice(0, 4);
    case "quarter":
      return `${iso.slice(0, 4)} Q${Math.floor(Number(iso.slice(5, 7)) / 3) + 1}`;
    case "month":
      return iso.slice(0, 7);
    case "week":
      return `week of ${iso}`;
    default:
      return iso;
  }
}

// One way to show a member: dates as 2024-01-31 (a date hierarchy's years, quarters and months
// as 2024, 2024 Q1, 2024-01), timestamps as 2024-01-31 12:00:00.
export function label(level, value) {
  if (value === null || value === undefined) return "(null)";
  const type = levelType(level);
  if (type === "date") return dateLabel(level, value);
  if (type === "timestamp") return new Date(value).toISOString().slice(0, 19).replace("T", " ");
  return String(value);
}

// A member as the API takes it in a filter (dates and timestamps as ISO text).
export function wireValue(level, value) {
  const type = levelType(level);
  if (value === null) return null;
  if (type === "date") return isoDate(value);
  if (type === "timestamp") return new Date(value).toISOString().slice(0, 23);
  return value;
}
