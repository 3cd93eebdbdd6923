/** What a build log is made of. Stored as JSON lines; `step` ties lines to a build step (a BuildKit vertex). */
export type StepStatus = "running" | "done" | "cached" | "error";

export type LogRecord =
  | { t: "step"; step: string; name: string; status: StepStatus; exitCode?: number }
  | { t: "line"; step?: string; text: string }
  | { t: "end"; outcome: "success" | "failure" | "cancelled" | "neutral"; message?: string };

export function encodeRecords(records: readonly LogRecord[]): string {
  return records.map((r) => JSON.stringify(r)).join("\n");
}

export function decodeRecords(chunk: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of chunk.split("\n")) {
    if (line === "") continue;
    try {
      out.push(JSON.parse(line) as LogRecord);
    } catch {
      // A chunk is written whole by one script call; an undecodable line would be a bug, not data to show.
    }
  }
  return out;
}
