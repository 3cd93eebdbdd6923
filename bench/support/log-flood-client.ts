import { BuildKitClient } from "@buildkit-bot/buildkit";
import { statusMessageCounter } from "../../test/support/status-message-counter.js";

/**
 * Child process of the log-flood benchmark: one solve of a local context through our client, counting the log
 * bytes the status stream delivers and the Status messages read off the wire (empty ones apart: Engine 20.10 streams
 * those once a log outruns it). Prints one JSON line; the parent samples this process's memory.
 * argv: <buildkit address> <context dir>
 */
const [address, dir] = process.argv.slice(2);
if (!address || !dir) throw new Error("usage: log-flood-client.ts <buildkit address> <context dir>");

let bytes = 0;
let firstLogAt = 0;
let lastLogAt = 0;
let tail = "";
const events: Record<string, number> = {};
let clipped = "";
const { interceptor, counts: status } = statusMessageCounter();
const client = await BuildKitClient.connect(address, { interceptors: [interceptor] });
const started = performance.now();
const cpuBefore = process.cpuUsage();
try {
  await client.solve(
    { context: { type: "local", dir } },
    {
      onProgress: (event) => {
        events[event.type] = (events[event.type] ?? 0) + 1;
        if (event.type !== "log") return;
        const now = performance.now();
        if (firstLogAt === 0) firstLogAt = now;
        lastLogAt = now;
        bytes += Buffer.byteLength(event.data);
        tail = (tail + event.data).slice(-300);
        const notice = /\[output clipped[^\]]*\]/.exec(event.data);
        if (notice) clipped = notice[0];
      },
    },
  );
} finally {
  await client.close();
}
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write(`${JSON.stringify({ bytes, cpuMs: (cpu.user + cpu.system) / 1000, solveMs: performance.now() - started, logMs: lastLogAt - firstLogAt, clipped, tail, events, status })}\n`);
