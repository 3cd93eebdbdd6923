import { execFile } from "node:child_process";
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import type { BrowserContext, Page } from "playwright-core";

/**
 * A check run's output as GitHub's Checks tab shows it, since GitHub itself cannot be reached here: the Markdown
 * goes through cmark-gfm (Debian's build of GitHub's own fork of cmark, with GitHub's extensions), into a page
 * styled like GitHub's `.markdown-body`, opened in Debian's headless Chromium.
 */

export const CMARK_GFM = "/usr/bin/cmark-gfm";
export const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** An iPhone's CSS width, and the Checks tab's content column on a desktop. */
export const PHONE_WIDTH = 390;
export const DESKTOP_WIDTH = 1012;

/** Why these checks cannot run here (the one line to act on), or false. */
export async function checkRunPageSkip(): Promise<false | string> {
  for (const [bin, pkg] of [
    [CMARK_GFM, "cmark-gfm"],
    [CHROMIUM, "chromium"],
  ]) {
    try {
      await access(bin as string);
    } catch {
      return `${bin} is missing: apt-get install -y ${pkg}`;
    }
  }
  return false;
}

/** Markdown to HTML the way GitHub renders comments and check runs (raw HTML is left out, as GitHub's sanitiser does). */
export function renderGfm(markdown: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      CMARK_GFM,
      ["--to", "html", "--github-pre-lang", "-e", "table", "-e", "strikethrough", "-e", "autolink", "-e", "tagfilter", "-e", "tasklist"],
      { maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`cmark-gfm failed: ${stderr || err.message}`)) : resolve(stdout)),
    );
    child.stdin?.end(markdown);
  });
}

export interface CheckRunView {
  /** The check run's name, e.g. `buildkit-bot / app`. */
  name: string;
  conclusion: string;
  title: string;
  summary: string;
  text?: string | null;
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The subset of github-markdown-css (MIT) that the check-run output uses, light theme. */
const STYLE = `
*{box-sizing:border-box}
body{margin:0;background:#fff;color:#1f2328;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;font-size:14px;line-height:1.5}
.check{padding:16px;max-width:1012px}
.check header{display:flex;align-items:center;gap:8px;padding-bottom:8px;border-bottom:1px solid #d1d9e0;margin-bottom:16px}
.check header h1{font-size:16px;font-weight:600;margin:0;overflow-wrap:anywhere}
.check .badge{display:inline-block;width:20px;height:20px;border-radius:50%;color:#fff;text-align:center;line-height:20px;font-size:12px;flex:none}
.check .success{background:#1a7f37}.check .failure{background:#d1242f}.check .other{background:#59636e}
.check h2{font-size:20px;font-weight:600;margin:0 0 16px;overflow-wrap:anywhere}
.markdown-body{word-wrap:break-word;margin-bottom:24px}
.markdown-body>*:first-child{margin-top:0!important}
.markdown-body p,.markdown-body blockquote,.markdown-body ul,.markdown-body ol,.markdown-body table,.markdown-body pre,.markdown-body details{margin-top:0;margin-bottom:16px}
.markdown-body a{color:#0969da;text-decoration:none}
.markdown-body strong{font-weight:600}
.markdown-body ul,.markdown-body ol{padding-left:2em}
.markdown-body blockquote{margin:0 0 16px;padding:0 1em;color:#59636e;border-left:.25em solid #d1d9e0}
.markdown-body table{border-spacing:0;border-collapse:collapse;display:block;width:max-content;max-width:100%;overflow:auto}
.markdown-body table th{font-weight:600}
.markdown-body table th,.markdown-body table td{padding:6px 13px;border:1px solid #d1d9e0}
.markdown-body table tr{background-color:#fff;border-top:1px solid #d1d9e0b3}
.markdown-body table tr:nth-child(2n){background-color:#f6f8fa}
.markdown-body code,.markdown-body pre{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace}
.markdown-body code{padding:.2em .4em;margin:0;font-size:85%;white-space:break-spaces;background-color:#818b981f;border-radius:6px}
.markdown-body pre{padding:16px;overflow:auto;font-size:85%;line-height:1.45;background-color:#f6f8fa;border-radius:6px;word-wrap:normal}
.markdown-body pre code{display:inline;padding:0;margin:0;background:transparent;border:0;white-space:pre;font-size:100%}
`;

/** The whole page: header (name and conclusion), the title as GitHub shows it, the summary, then the text. */
export async function checkRunHtml(run: CheckRunView): Promise<string> {
  const badge = run.conclusion === "success" ? ["success", "✓"] : run.conclusion === "failure" ? ["failure", "✕"] : ["other", "•"];
  const text = run.text ? `<article class="markdown-body" id="text">${await renderGfm(run.text)}</article>` : "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(run.name)}</title><style>${STYLE}</style></head>
<body><div class="check"><header><span class="badge ${badge[0]}">${badge[1]}</span><h1>${escapeHtml(run.name)}</h1></header>
<h2 id="title">${escapeHtml(run.title)}</h2>
<article class="markdown-body" id="summary">${await renderGfm(run.summary)}</article>${text}</div></body></html>`;
}

/** What a reader sees of the summary, measured in the browser. */
export interface SummaryLayout {
  /** The summary's first block: its tag and text. */
  first: { tag: string; text: string };
  tables: number;
  /** Paragraphs or list items that read like a Markdown table row, i.e. a table that did not render. */
  rawTableRows: string[];
  /** The page's own horizontal overflow (what makes a phone's whole page scroll sideways), in CSS px. */
  pageOverflow: number;
  /** Elements reaching past the viewport's right edge outside a table or code block, as `tag: text`. */
  overflowing: string[];
  /** Tables and code blocks wider than their box, and whether they scroll (their overflow-x is auto or scroll). */
  scrollers: Array<{ tag: string; scrolls: boolean; contentWidth: number; boxWidth: number }>;
}

/** The little of the DOM that `measure` uses (the project's TypeScript has no DOM library). */
interface DomElement {
  tagName: string;
  textContent: string | null;
  firstElementChild: DomElement | null;
  scrollWidth: number;
  clientWidth: number;
  closest(selector: string): DomElement | null;
  getBoundingClientRect(): { right: number };
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}

/** Runs in the page: keep it free of closures over this module. */
function measure(): SummaryLayout {
  const doc = (globalThis as unknown as { document: { documentElement: DomElement; body: DomElement; getElementById(id: string): DomElement | null } }).document;
  const win = globalThis as unknown as { getComputedStyle(el: DomElement): { overflowX: string } };
  const summary = doc.getElementById("summary") as DomElement;
  const first = summary.firstElementChild;
  const viewport = doc.documentElement.clientWidth;
  const overflowing: string[] = [];
  for (const el of Array.from(doc.body.querySelectorAll("*"))) {
    if (el.closest("table, pre")) continue;
    const right = el.getBoundingClientRect().right;
    if (right > viewport + 0.5) overflowing.push(`${el.tagName.toLowerCase()}: ${(el.textContent ?? "").slice(0, 80)}`);
  }
  const scrollers = Array.from(doc.body.querySelectorAll(".markdown-body table, .markdown-body pre"))
    .filter((el) => el.scrollWidth > el.clientWidth)
    .map((el) => ({
      tag: el.tagName.toLowerCase(),
      scrolls: ["auto", "scroll"].includes(win.getComputedStyle(el).overflowX),
      contentWidth: el.scrollWidth,
      boxWidth: el.clientWidth,
    }));
  return {
    first: { tag: first?.tagName.toLowerCase() ?? "", text: (first?.textContent ?? "").trim() },
    tables: summary.querySelectorAll("table").length,
    rawTableRows: Array.from(summary.querySelectorAll("p, li"))
      .flatMap((el) => (el.textContent ?? "").split("\n"))
      .filter((line) => /^\s*\|.*\|\s*$/.test(line)),
    pageOverflow: doc.documentElement.scrollWidth - viewport,
    overflowing,
    scrollers,
  };
}

/** Headless Chromium with throwaway profiles; `close()` removes them. */
export class CheckRunBrowser {
  private readonly contexts: BrowserContext[] = [];
  private readonly profiles: string[] = [];

  /** A page `width` CSS px wide showing `run`, with a phone's or a desktop's pixel ratio. */
  async open(run: CheckRunView, width: number): Promise<Page> {
    const profile = await mkdtemp(join(tmpdir(), "bkb-check-run-"));
    this.profiles.push(profile);
    const phone = width <= 480;
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width, height: phone ? 844 : 900 },
      deviceScaleFactor: phone ? 2 : 1,
      isMobile: phone,
      hasTouch: phone,
    });
    this.contexts.push(context);
    const page = context.pages()[0] ?? (await context.newPage());
    await page.setContent(await checkRunHtml(run), { waitUntil: "load" });
    return page;
  }

  async close(): Promise<void> {
    for (const c of this.contexts.splice(0)) await c.close().catch(() => undefined);
    for (const p of this.profiles.splice(0)) await rm(p, { recursive: true, force: true });
  }
}

export function summaryLayout(page: Page): Promise<SummaryLayout> {
  return page.evaluate(measure);
}
