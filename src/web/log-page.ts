import { ansiToHtml } from "./ansi-to-html.js";
import { escapeHtml } from "./html-escape.js";
import type { LogEntry, LogRecord, LogSnapshot, StepStatus } from "../trail/index.js";

type Outcome = Extract<LogRecord, { t: "end" }>["outcome"];

/** One update for the page, as sent over SSE; `html` is already escaped. */
export type PageItem =
  | { k: "step"; step: string; name: string; status: StepStatus; exitCode?: number }
  | { k: "line"; step: string; html: string }
  | { k: "gap"; bytes: number }
  | { k: "end"; outcome: Outcome; message?: string };

/** Lines that name no step go to this section. */
export const GENERAL_STEP = "_";

export function pageItems(entries: readonly LogEntry[]): PageItem[] {
  const items: PageItem[] = [];
  for (const e of entries) {
    if ("gapBytes" in e) {
      items.push({ k: "gap", bytes: e.gapBytes });
      continue;
    }
    for (const r of e.records) items.push(toItem(r));
  }
  return items;
}

function toItem(r: LogRecord): PageItem {
  if (r.t === "step") return { k: "step", step: r.step, name: r.name, status: r.status, ...(r.exitCode === undefined ? {} : { exitCode: r.exitCode }) };
  if (r.t === "line") return { k: "line", step: r.step ?? GENERAL_STEP, html: ansiToHtml(r.text) };
  return { k: "end", outcome: r.outcome, ...(r.message === undefined ? {} : { message: r.message }) };
}

const STATUS_LABEL: Record<StepStatus, string> = { running: "running", done: "done", cached: "cached", error: "failed" };

/** The general section has no step of its own: it runs while the build runs, then shows how the build ended. */
type SectionStatus = StepStatus | Outcome | "finished";
const SECTION_LABEL: Record<Exclude<SectionStatus, StepStatus>, string> = { success: "success", failure: "failure", cancelled: "cancelled", neutral: "neutral", finished: "" };

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} bytes`;
}

interface Section {
  step: string;
  name: string;
  status: SectionStatus;
  exitCode?: number;
  lines: string[];
}

const STYLE = `
body{margin:0;font:14px/1.45 system-ui,sans-serif;background:#0d1117;color:#c9d1d9}
header{padding:12px 16px;border-bottom:1px solid #30363d}h1{font-size:16px;margin:0}#state{margin:4px 0 0;color:#8b949e}
main{padding:8px 16px}details{border:1px solid #30363d;border-radius:6px;margin:6px 0}
summary{cursor:pointer;padding:6px 10px;font-family:ui-monospace,monospace}
pre{margin:0;padding:8px 10px;overflow-x:auto;font:12px/1.4 ui-monospace,monospace;white-space:pre-wrap;word-break:break-all;border-top:1px solid #30363d}
.status{display:inline-block;min-width:5em;color:#8b949e}.status-error,.status-failure{color:#f85149}.status-done,.status-success{color:#3fb950}.status-cached{color:#58a6ff}.status-running{color:#d29922}
.gap{margin:8px 0;padding:6px 10px;border:1px dashed #d29922;color:#d29922}
.ansi-black-fg{color:#484f58}.ansi-red-fg{color:#ff7b72}.ansi-green-fg{color:#3fb950}.ansi-yellow-fg{color:#d29922}.ansi-blue-fg{color:#58a6ff}.ansi-magenta-fg{color:#bc8cff}.ansi-cyan-fg{color:#39c5cf}.ansi-white-fg{color:#b1bac4}
.ansi-bright-black-fg{color:#6e7681}.ansi-bright-red-fg{color:#ffa198}.ansi-bright-green-fg{color:#56d364}.ansi-bright-yellow-fg{color:#e3b341}.ansi-bright-blue-fg{color:#79c0ff}.ansi-bright-magenta-fg{color:#d2a8ff}.ansi-bright-cyan-fg{color:#56d4dd}.ansi-bright-white-fg{color:#f0f6fc}
.ansi-black-bg{background:#484f58}.ansi-red-bg{background:#da3633}.ansi-green-bg{background:#238636}.ansi-yellow-bg{background:#9e6a03}.ansi-blue-bg{background:#1f6feb}.ansi-magenta-bg{background:#8957e5}.ansi-cyan-bg{background:#1b7c83}.ansi-white-bg{background:#b1bac4}
`;

// Applies PageItems as they arrive over SSE; mirrors the server rendering below.
const SCRIPT = `
(() => {
  const log = document.getElementById("log");
  const state = document.getElementById("state");
  const steps = new Map();
  for (const d of log.querySelectorAll("details[data-step]")) steps.set(d.dataset.step, d);
  const labels = ${JSON.stringify({ ...STATUS_LABEL, ...SECTION_LABEL })};
  const general = ${JSON.stringify(GENERAL_STEP)};
  function setStatus(d, status, exitCode) {
    const st = d.querySelector(".status");
    st.className = "status status-" + status;
    st.textContent = labels[status] + (exitCode !== undefined ? " (exit " + exitCode + ")" : "");
  }
  function section(id, name) {
    let d = steps.get(id);
    if (!d) {
      d = document.createElement("details");
      d.dataset.step = id;
      const s = document.createElement("summary");
      const st = document.createElement("span");
      st.className = "status";
      const n = document.createElement("span");
      n.className = "name";
      n.textContent = name || "Build";
      s.append(st, " ", n);
      d.append(s, document.createElement("pre"));
      log.append(d);
      steps.set(id, d);
      if (id === general) setStatus(d, "running");
    }
    return d;
  }
  function apply(it) {
    if (it.k === "step") {
      const d = section(it.step, it.name);
      d.querySelector(".name").textContent = it.name;
      setStatus(d, it.status, it.exitCode);
      if (it.status === "running" || it.status === "error") d.open = true;
      else if (it.status === "done" || it.status === "cached") d.open = false;
    } else if (it.k === "line") {
      const pre = section(it.step, "").querySelector("pre");
      pre.insertAdjacentHTML("beforeend", it.html + "\\n");
    } else if (it.k === "gap") {
      const g = document.createElement("div");
      g.className = "gap";
      g.textContent = "… " + it.bytes + " bytes of log were dropped here to keep the log within its size limit …";
      log.append(g);
    } else if (it.k === "end") {
      state.textContent = "Finished: " + it.outcome + (it.message ? " — " + it.message : "");
      const d = steps.get(general);
      if (d) {
        setStatus(d, it.outcome);
        d.open = it.outcome === "failure" && !log.querySelector("details[data-step] .status-error");
      }
    }
  }
  const cursor = document.body.dataset.cursor;
  if (document.body.dataset.done === "1") return;
  const es = new EventSource(location.pathname.replace(/\\/$/, "") + "/events" + (cursor ? "?after=" + encodeURIComponent(cursor) : ""));
  es.addEventListener("records", (e) => { for (const it of JSON.parse(e.data)) apply(it); });
  es.addEventListener("end", () => {
    es.close();
    const d = steps.get(general);
    if (d && d.querySelector(".status-running")) setStatus(d, "finished");
  });
})();
`;

function sectionLabel(status: SectionStatus): string {
  return status in STATUS_LABEL ? STATUS_LABEL[status as StepStatus] : SECTION_LABEL[status as Exclude<SectionStatus, StepStatus>];
}

/** The whole page for what is stored so far; the script then follows the build live. */
export function renderLogPage(snapshot: LogSnapshot, nonce: string): string {
  const sections: Section[] = [];
  const byStep = new Map<string, Section>();
  const blocks: Array<Section | { gap: number }> = [];
  let end: Extract<PageItem, { k: "end" }> | undefined;
  const section = (step: string, name: string): Section => {
    let s = byStep.get(step);
    if (!s) {
      s = { step, name: name || "Build", status: "running", lines: [] };
      byStep.set(step, s);
      sections.push(s);
      blocks.push(s);
    }
    return s;
  };
  for (const it of pageItems(snapshot.entries)) {
    if (it.k === "step") {
      const s = section(it.step, it.name);
      s.name = it.name;
      s.status = it.status;
      if (it.exitCode !== undefined) s.exitCode = it.exitCode;
    } else if (it.k === "line") section(it.step, "").lines.push(it.html);
    else if (it.k === "gap") blocks.push({ gap: it.bytes });
    else end = it;
  }
  const generalSection = byStep.get(GENERAL_STEP);
  if (generalSection && (end || snapshot.done)) generalSection.status = end?.outcome ?? "finished";
  const failed = sections.some((s) => s.status === "error");
  const lastRunning = [...sections].reverse().find((s) => s.status === "running");
  const html = blocks.map((b) => {
    if ("gap" in b) return `<div class="gap">… ${escapeHtml(formatBytes(b.gap))} of log were dropped here to keep the log within its size limit …</div>`;
    // The general section holds the failure's reason when no step failed.
    const open = b.status === "error" || (b.status === "failure" && !failed) || (!failed && !snapshot.done && b === lastRunning);
    const label = sectionLabel(b.status) + (b.exitCode !== undefined ? ` (exit ${b.exitCode})` : "");
    return (
      `<details data-step="${escapeHtml(b.step)}"${open ? " open" : ""}>` +
      `<summary><span class="status status-${b.status}">${escapeHtml(label)}</span> <span class="name">${escapeHtml(b.name)}</span></summary>` +
      `<pre>${b.lines.map((l) => `${l}\n`).join("")}</pre></details>`
    );
  });
  const state = end ? `Finished: ${end.outcome}${end.message ? ` — ${end.message}` : ""}` : snapshot.done ? "Finished" : "Running…";
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="robots" content="noindex"><title>Build log · buildkit-bot</title><style nonce="${nonce}">${STYLE}</style></head>` +
    `<body data-cursor="${escapeHtml(snapshot.lastId ?? "")}" data-done="${snapshot.done ? "1" : "0"}">` +
    `<header><h1>Build log</h1><p id="state">${escapeHtml(state)}</p></header>` +
    `<main id="log">${html.join("")}</main><script nonce="${nonce}">${SCRIPT}</script></body></html>`
  );
}
