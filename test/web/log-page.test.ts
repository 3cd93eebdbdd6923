import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { renderLogPage } from "../../src/web/log-page.js";
import type { LogRecord } from "../../src/trail/log-records.js";
import type { LogSnapshot } from "../../src/trail/log-store.js";

function snapshot(records: LogRecord[], done = records.some((r) => r.t === "end")): LogSnapshot {
  return { entries: [{ id: "1-0", records }], lastId: "1-0", done, droppedBytes: 0 };
}

/** Each `<details>` of the page: its step id, whether it is open, its status class and label, its name. */
function sections(html: string): Array<{ step: string; open: boolean; status: string; label: string; name: string }> {
  const out = [];
  const re = /<details data-step="([^"]*)"( open)?><summary><span class="status status-([a-z]+)">([^<]*)<\/span> <span class="name">([^<]*)<\/span>/g;
  for (const m of html.matchAll(re)) out.push({ step: m[1] ?? "", open: m[2] !== undefined, status: m[3] ?? "", label: m[4] ?? "", name: m[5] ?? "" });
  return out;
}

const general = (html: string) => sections(html).find((s) => s.step === "_");

const RUN: LogRecord[] = [
  { t: "line", text: "buildkit-bot: api at 0123abc (refs/heads/main), build b1" },
  { t: "step", step: "v1", name: "[1/1] RUN make", status: "running" },
  { t: "line", step: "v1", text: "compiling" },
];

describe("the log page's general Build section", () => {
  it("is running while the build runs", () => {
    assert.deepEqual(general(renderLogPage(snapshot(RUN), "n")), { step: "_", open: false, status: "running", label: "running", name: "Build" });
  });

  it("shows the outcome once the build has finished, folded when it succeeded", () => {
    const html = renderLogPage(
      snapshot([...RUN, { t: "step", step: "v1", name: "[1/1] RUN make", status: "done" }, { t: "line", text: "pushed 127.0.0.1:5000/acme/api:main" }, { t: "end", outcome: "success", message: "pushed" }]),
      "n",
    );
    assert.deepEqual(general(html), { step: "_", open: false, status: "success", label: "success", name: "Build" });
    assert.ok(!html.includes(">running<"), "nothing on a finished page says running");
    assert.match(html, /Finished: success — pushed/);
  });

  it("opens on a failure no step explains, and stays folded when a failed step does", () => {
    const unexplained = renderLogPage(snapshot([...RUN, { t: "step", step: "v1", name: "[1/1] RUN make", status: "done" }, { t: "line", text: "build failed: push refused" }, { t: "end", outcome: "failure", message: "push refused" }]), "n");
    assert.deepEqual(general(unexplained), { step: "_", open: true, status: "failure", label: "failure", name: "Build" });

    const explained = renderLogPage(snapshot([...RUN, { t: "step", step: "v1", name: "[1/1] RUN make", status: "error", exitCode: 2 }, { t: "end", outcome: "failure", message: "make failed" }]), "n");
    assert.deepEqual(
      sections(explained).map((s) => [s.step, s.open, s.label]),
      [
        ["_", false, "failure"],
        ["v1", true, "failed (exit 2)"],
      ],
    );
  });

  it("says cancelled for a cancelled build, and claims no status for a finished log without an end record", () => {
    assert.equal(general(renderLogPage(snapshot([...RUN, { t: "end", outcome: "cancelled", message: "superseded" }]), "n"))?.label, "cancelled");
    const noEnd = general(renderLogPage(snapshot(RUN, true), "n"));
    assert.deepEqual([noEnd?.label, noEnd?.open], ["", false]);
  });
});
