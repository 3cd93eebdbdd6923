import assert from "node:assert/strict";
import type { FakeCheckRun } from "../../support/fake-github/index.js";
import { eventually } from "./wait.js";

/** Reading what a build showed: its check run's step count and its log page. */

/** `3/3 steps done, 2 cached` in a success summary → 2. */
export function cachedSteps(run: FakeCheckRun): number {
  const m = /(\d+)\/(\d+) steps done, (\d+) cached/.exec(run.output.summary ?? "");
  assert.ok(m, `steps line in the summary:\n${run.output.summary}`);
  return Number(m[3]);
}

/** The HTML of the log page a check run links. */
export async function logPage(run: FakeCheckRun): Promise<string> {
  assert.ok(run.details_url, "the check run links its log page");
  return eventually(async () => {
    const res = await fetch(run.details_url as string);
    return res.ok ? res.text() : undefined;
  }, "the log page");
}

export interface PageStep {
  status: string;
  name: string;
}

/** The steps of a log page as it renders them, in order. */
export function steps(html: string): PageStep[] {
  return [...html.matchAll(/<summary><span class="status status-(\w+)">[^<]*<\/span> <span class="name">([^<]*)<\/span>/g)].map((m) => ({
    status: m[1] ?? "",
    name: m[2] ?? "",
  }));
}

/** `[2/4] RUN …`, `[4/4] COPY …`: the Dockerfile's instructions after FROM. */
export function instructionSteps(list: PageStep[]): PageStep[] {
  return list.filter((s) => /^\[\d+\/\d+\] /.test(s.name) && !/\] FROM /.test(s.name));
}

/** One line per step, for failure messages. */
export function showSteps(list: PageStep[]): string {
  return list.map((s) => `${s.status} ${s.name}`).join("\n");
}
