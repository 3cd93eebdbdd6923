/** The failing lines of a Dockerfile, 1-based and inclusive, as the failure names them. */
export interface ExcerptRange {
  file: string;
  startLine: number;
  endLine: number;
}

const RULE = "--------------------";

/**
 * The lines around a failure the way buildx quotes them under its progress: `Dockerfile:3`, a rule, each line
 * numbered with `>>>` on the failing ones, a rule. Two lines of context on each side of a single failing line, one
 * around a longer range, fewer where the file ends. Empty when the range lies outside the text.
 */
export function dockerfileExcerpt(text: string, range: ExcerptRange): string[] {
  const lines = text.split("\n");
  const first = range.startLine;
  const last = Math.min(Math.max(range.endLine, first), lines.length);
  if (first < 1 || first > lines.length) return [];
  let from = first;
  let to = last;
  for (let round = first === last ? 2 : 1; round > 0; round--) {
    if (from > 1) from--;
    if (to < lines.length) to++;
  }
  const quoted: string[] = [`${range.file}:${first}`, RULE];
  for (let n = from; n <= to; n++) {
    const marker = n >= first && n <= last ? ">>>" : "   ";
    quoted.push(` ${String(n).padStart(3)} | ${marker} ${lines[n - 1]}`);
  }
  quoted.push(RULE);
  return quoted;
}
