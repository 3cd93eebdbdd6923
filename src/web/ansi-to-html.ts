import { escapeHtml } from "./html-escape.js";

/**
 * Turns one line of terminal output into HTML: SGR colour/style sequences become `<span>`s, every other escape
 * sequence is dropped, and all text is escaped. Basic colours use classes (`ansi-fg-1`, `ansi-bright-fg-1`…)
 * so the page's palette decides them; 256-colour and true-colour codes become inline `color`s.
 */
interface Style {
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
}

// CSI … final byte, OSC … BEL/ST, or a two-byte escape.
// eslint-disable-next-line no-control-regex -- matching terminal escapes is the point
const ESCAPE = /\u001b(?:\[([0-?]*)[ -/]*([@-~])|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])/g;

const BASIC = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

function xterm256(n: number): string {
  if (n < 16) return n < 8 ? `c:${n}` : `b:${n - 8}`;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `#${[v, v, v].map((x) => x.toString(16).padStart(2, "0")).join("")}`;
  }
  const i = n - 16;
  const level = (x: number) => (x === 0 ? 0 : 55 + x * 40);
  return `#${[Math.floor(i / 36), Math.floor(i / 6) % 6, i % 6].map((x) => level(x).toString(16).padStart(2, "0")).join("")}`;
}

function extended(params: number[], i: number): { colour?: string; used: number } {
  const mode = params[i + 1];
  if (mode === 5 && params[i + 2] !== undefined) {
    const n = params[i + 2] as number;
    return n >= 0 && n <= 255 ? { colour: xterm256(n), used: 2 } : { used: 2 };
  }
  if (mode === 2 && params.length >= i + 5) {
    const rgb = params.slice(i + 2, i + 5).map((x) => Math.min(255, Math.max(0, x)));
    return { colour: `#${rgb.map((x) => x.toString(16).padStart(2, "0")).join("")}`, used: 4 };
  }
  return { used: params.length - i - 1 };
}

function applySgr(style: Style, raw: string): Style {
  const params = raw === "" ? [0] : raw.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
  const s: Style = { ...style };
  for (let i = 0; i < params.length; i++) {
    const p = params[i] as number;
    if (p === 0) for (const k of Object.keys(s) as Array<keyof Style>) delete s[k];
    else if (p === 1) s.bold = true;
    else if (p === 2) s.dim = true;
    else if (p === 3) s.italic = true;
    else if (p === 4) s.underline = true;
    else if (p === 22) {
      delete s.bold;
      delete s.dim;
    }
    else if (p === 23) delete s.italic;
    else if (p === 24) delete s.underline;
    else if (p >= 30 && p <= 37) s.fg = `c:${p - 30}`;
    else if (p >= 90 && p <= 97) s.fg = `b:${p - 90}`;
    else if (p === 39) delete s.fg;
    else if (p >= 40 && p <= 47) s.bg = `c:${p - 40}`;
    else if (p >= 100 && p <= 107) s.bg = `b:${p - 100}`;
    else if (p === 49) delete s.bg;
    else if (p === 38 || p === 48) {
      const { colour, used } = extended(params, i);
      if (colour) s[p === 38 ? "fg" : "bg"] = colour;
      i += used;
    }
  }
  return s;
}

function openTag(s: Style): string {
  const classes: string[] = [];
  const css: string[] = [];
  const colour = (value: string, layer: "fg" | "bg") => {
    if (value.startsWith("c:")) classes.push(`ansi-${layer}-${BASIC[Number(value.slice(2))]}`);
    else if (value.startsWith("b:")) classes.push(`ansi-${layer}-bright-${BASIC[Number(value.slice(2))]}`);
    else css.push(`${layer === "fg" ? "color" : "background-color"}:${value}`);
  };
  if (s.fg) colour(s.fg, "fg");
  if (s.bg) colour(s.bg, "bg");
  if (s.bold) classes.push("ansi-bold");
  if (s.dim) classes.push("ansi-dim");
  if (s.italic) classes.push("ansi-italic");
  if (s.underline) classes.push("ansi-underline");
  if (classes.length === 0 && css.length === 0) return "";
  return `<span${classes.length ? ` class="${classes.join(" ")}"` : ""}${css.length ? ` style="${css.join(";")}"` : ""}>`;
}

export function ansiToHtml(line: string): string {
  // A carriage return redraws the line in a terminal: only what was written last stays visible.
  const cr = line.lastIndexOf("\r", line.length - 2);
  const text = cr >= 0 ? line.slice(cr + 1) : line.replace(/\r$/, "");
  let out = "";
  let style: Style = {};
  let last = 0;
  const emit = (chunk: string) => {
    if (chunk === "") return;
    const tag = openTag(style);
    out += tag ? `${tag}${escapeHtml(chunk)}</span>` : escapeHtml(chunk);
  };
  for (const m of text.matchAll(ESCAPE)) {
    emit(text.slice(last, m.index));
    last = (m.index ?? 0) + m[0].length;
    if (m[2] === "m") style = applySgr(style, m[1] ?? "");
  }
  emit(text.slice(last));
  return out;
}
