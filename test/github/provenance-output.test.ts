import { test } from "node:test";
import assert from "node:assert/strict";
import { renderSucceeded } from "../../src/github/check-run-output.js";
import { renderProvenance } from "../../src/github/provenance-output.js";

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const base = { tags: ["127.0.0.1:5000/acme/app:main"], pushed: true, digest: d("1"), durationMs: 4000, stepsDone: 3, stepsTotal: 3, cachedSteps: 0 };

test("the check run shows the attestation's digest and the imagetools command that prints it", () => {
  const { summary } = renderSucceeded("app", {
    ...base,
    provenance: { mode: "max", image: `127.0.0.1:5000/acme/app@${d("1")}`, attestations: [{ digest: d("a"), platform: "linux/amd64" }] },
  });
  assert.match(summary, /\*\*Provenance\*\* \(SLSA, `mode=max`\)/);
  assert.ok(summary.includes(`Attestation: \`${d("a")}\``), summary);
  assert.ok(summary.includes(`docker buildx imagetools inspect 127.0.0.1:5000/acme/app@${d("1")} --format '{{ json .Provenance }}'`), summary);
});

test("one line per platform for a multi-platform image; a note alone when there is none", () => {
  const lines = renderProvenance({ mode: "min", image: `r/app@${d("1")}`, attestations: [{ digest: d("a"), platform: "linux/amd64" }, { digest: d("b"), platform: "linux/arm64" }] });
  assert.ok(lines.includes(`- \`linux/amd64\`: \`${d("a")}\``));
  assert.ok(lines.includes(`- \`linux/arm64\`: \`${d("b")}\``));
  const note = "Provenance attestations need BuildKit v0.11 or newer; this builder runs BuildKit v0.8 (docker-engine), so the image was pushed without one.";
  const { summary } = renderSucceeded("app", { ...base, provenance: { note } });
  assert.equal(summary.split(note).length, 2, "said once");
  assert.equal(summary.includes("imagetools"), false);
  assert.deepEqual(renderProvenance(undefined), []);
});
