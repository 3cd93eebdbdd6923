import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { LogStore } from "../../src/trail/log-store.js";
import { createLogPageHandler } from "../../src/web/log-page-handler.js";
import { redisForTest } from "../github/redis-test-keys.js";

let server: Server;
let base: string;
let store: LogStore;
let cleanup: () => Promise<void>;

before(async () => {
  const r = await redisForTest("logpage");
  cleanup = r.cleanup;
  store = new LogStore(r.redis, { prefix: r.prefix });
  const handler = createLogPageHandler(store, { pollMs: 50 });
  server = createServer((req, res) => {
    void handler(req, res).then((handled) => {
      if (!handled) res.writeHead(418).end("not the log page's");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await cleanup();
});

test("unknown, malformed or missing tokens all get the same bare 404; other paths are not handled", async () => {
  const bodies = new Set<string>();
  for (const path of [`/logs/${"A".repeat(32)}`, "/logs/short", "/logs/", "/logs", `/logs/${"A".repeat(32)}/events`, "/logs/a/b/c"]) {
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 404, path);
    bodies.add(await res.text());
  }
  assert.deepEqual([...bodies], ["Not Found\n"]);
  const token = await store.open("post-build");
  assert.equal((await fetch(`${base}/logs/${token}`, { method: "POST" })).status, 404);
  assert.equal((await fetch(`${base}/healthz`)).status, 418);
  assert.equal((await fetch(`${base}/logsx`)).status, 418);
});

test("the page: steps as <details>, the failed one open, HTML escaped, ANSI rendered, safe headers", async () => {
  const token = await store.open("page-build");
  await store.append("page-build", [
    { t: "step", step: "v1", name: "[1/2] FROM busybox", status: "running" },
    { t: "line", step: "v1", text: "\u001b[32mresolved\u001b[0m" },
    { t: "step", step: "v1", name: "[1/2] FROM busybox", status: "done" },
    { t: "step", step: "v2", name: "[2/2] RUN <b>make</b>", status: "running" },
    { t: "line", step: "v2", text: '<script>alert("x")</script>' },
    { t: "step", step: "v2", name: "[2/2] RUN <b>make</b>", status: "error", exitCode: 2 },
  ]);
  await store.finish("page-build", "failure", "make failed");
  const res = await fetch(`${base}/logs/${token}`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
  assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'nonce-[^']+'/);
  const html = await res.text();
  assert.ok(!html.includes('<script>alert("x")'), "log text is escaped");
  assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
  assert.ok(html.includes("[2/2] RUN &lt;b&gt;make&lt;/b&gt;"));
  assert.ok(html.includes('<span class="ansi-green-fg">resolved</span>'));
  const details = [...html.matchAll(/<details data-step="([^"]+)"( open)?>/g)].map((m) => [m[1], Boolean(m[2])]);
  assert.deepEqual(details, [
    ["v1", false],
    ["v2", true],
  ]);
  assert.match(html, /failed \(exit 2\)/);
  assert.match(html, /Finished: failure — make failed/);
  assert.match(html, /data-done="1"/);
});

interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

async function* sse(url: string, headers: Record<string, string> = {}): AsyncGenerator<SseEvent> {
  const res = await fetch(url, { headers });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let cut: number;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const ev: SseEvent = { event: "message", data: "" };
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) ev.event = line.slice(7);
        else if (line.startsWith("id: ")) ev.id = line.slice(4);
        else if (line.startsWith("data: ")) ev.data += line.slice(6);
      }
      if (ev.data || ev.event !== "message") yield ev;
    }
  }
}

test("SSE delivers lines appended after the page was rendered, then ends with the build", { timeout: 30_000 }, async () => {
  const token = await store.open("live-build");
  await store.append("live-build", [{ t: "step", step: "v1", name: "[1/1] RUN test", status: "running" }]);
  const page = await (await fetch(`${base}/logs/${token}`)).text();
  const cursor = /data-cursor="([^"]*)"/.exec(page)?.[1] ?? "";
  assert.match(cursor, /^\d+-\d+$/);
  assert.match(page, /data-done="0"/);
  assert.match(page, /new EventSource/);

  const events = sse(`${base}/logs/${token}/events?after=${cursor}`);
  const seen: unknown[] = [];
  const reading = (async () => {
    for await (const ev of events) {
      seen.push(ev.event === "records" ? JSON.parse(ev.data) : ev.event);
      if (ev.event === "end") return;
    }
  })();
  await store.append("live-build", [{ t: "line", step: "v1", text: "\u001b[1mfirst\u001b[0m <ok>" }]);
  await new Promise((r) => setTimeout(r, 200));
  await store.append("live-build", [{ t: "line", step: "v1", text: "second" }, { t: "step", step: "v1", name: "[1/1] RUN test", status: "done" }]);
  await store.finish("live-build", "success");
  await reading;
  const items = seen.filter((s) => s !== "end").flat();
  assert.deepEqual(items, [
    { k: "line", step: "v1", html: '<span style="font-weight:bold">first</span> &lt;ok&gt;' },
    { k: "line", step: "v1", html: "second" },
    { k: "step", step: "v1", name: "[1/1] RUN test", status: "done" },
    { k: "end", outcome: "success" },
  ]);
  assert.equal(seen.at(-1), "end");
});

test("SSE resumes after Last-Event-ID", { timeout: 30_000 }, async () => {
  const token = await store.open("resume-build");
  await store.append("resume-build", [{ t: "line", text: "one" }]);
  await store.append("resume-build", [{ t: "line", text: "two" }]);
  await store.finish("resume-build", "success");
  const all: SseEvent[] = [];
  for await (const ev of sse(`${base}/logs/${token}/events`)) all.push(ev);
  const firstId = all.find((e) => e.event === "records")?.id ?? "";
  const firstBatch = JSON.parse(all.find((e) => e.event === "records")?.data ?? "[]") as Array<{ html?: string }>;
  assert.ok(firstBatch.some((i) => i.html === "one"));
  const idOfOne = (await store.read("resume-build"))?.entries[0]?.id ?? "";
  const resumed: SseEvent[] = [];
  for await (const ev of sse(`${base}/logs/${token}/events`, { "last-event-id": idOfOne })) resumed.push(ev);
  const htmls = resumed.filter((e) => e.event === "records").flatMap((e) => JSON.parse(e.data) as Array<{ html?: string }>).map((i) => i.html).filter(Boolean);
  assert.deepEqual(htmls, ["two"]);
  assert.ok(firstId);
});
