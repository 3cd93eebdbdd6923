import * as grpc from "@grpc/grpc-js";
import { BuildKitClient } from "../../src/buildkit/client.js";
import type { StatusResponse__Output } from "../../src/buildkit/generated/moby/buildkit/v1/StatusResponse.js";

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
const status = { messages: 0, empty: 0 };
const countStatus: grpc.Interceptor = (options, nextCall) =>
  new grpc.InterceptingCall(nextCall(options), {
    start(metadata, _listener, next) {
      next(metadata, {
        onReceiveMessage(message: StatusResponse__Output, nextMessage) {
          if (options.method_definition.path === "/moby.buildkit.v1.Control/Status") {
            status.messages++;
            const parts = message.vertexes.length + message.statuses.length + message.logs.length + message.warnings.length;
            if (parts === 0) status.empty++;
          }
          nextMessage(message);
        },
      });
    },
  });
const client = await BuildKitClient.connect(address, { interceptors: [countStatus] });
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
