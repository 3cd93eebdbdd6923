/** A result table, printed to the terminal and written into BENCHMARKS.md as Markdown. */
export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
}

export function renderTable(table: Table): string {
  const widths = table.columns.map((c, i) => Math.max(c.length, ...table.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) => `| ${widths.map((w, i) => (cells[i] ?? "").padEnd(w)).join(" | ")} |`;
  return [
    `**${table.title}**`,
    "",
    line(table.columns),
    `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`,
    ...table.rows.map(line),
  ].join("\n");
}

export const ms = (v: number, digits = 0): string => (Number.isFinite(v) ? `${v.toFixed(digits)} ms` : "–");
export const ratio = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(3)}×` : "–");
export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
