import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";

/**
 * Collects `child`'s output and polls its Probot setup page (`/probot`) until it answers, failing with that output
 * when the process exits first or `timeoutMs` passes. `output()` keeps growing afterwards, for later assertions.
 */
export function watchAppProcess(child: ChildProcess, what: string): { output(): string; setupPage(port: number, timeoutMs: number, pollMs: number): Promise<Response> } {
  let output = "";
  child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  return {
    output: () => output,
    async setupPage(port, timeoutMs, pollMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        assert.equal(child.exitCode, null, `${what} exited early:\n${output}`);
        const page = await fetch(`http://127.0.0.1:${port}/probot`).catch(() => undefined);
        if (page) return page;
        assert.ok(Date.now() < deadline, `${what} never served its setup page:\n${output}`);
        await new Promise((r) => setTimeout(r, pollMs));
      }
    },
  };
}
