import { createServer } from "node:http";
import { Redis } from "ioredis";

/**
 * A reference for the ingest benchmark: the bare server (bare-server.ts) plus one Redis round trip per request,
 * a SET of the body on an auto-pipelined connection (as the app's ingest connection is), answered once Redis
 * replied. No signature check, no parsing, no BullMQ. What a webhook that must be in Redis before its 2xx costs on
 * this machine before the app's own work. Run as a child process with REDIS_URL; prints its port on stdout.
 */
const url = process.env.REDIS_URL;
if (!url) throw new Error("REDIS_URL is required");
const redis = new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
let n = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    redis.set(`bench-floor:${n++ % 1000}`, Buffer.concat(chunks)).then(
      () => {
        res.writeHead(202, { "content-type": "text/plain" });
        res.end("ok\n");
      },
      () => {
        res.writeHead(503).end();
      },
    );
  });
});
redis.once("ready", () =>
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    process.stdout.write(`${typeof address === "object" && address ? address.port : 0}\n`);
  }),
);
process.once("SIGTERM", () => server.close(() => (redis.disconnect(), process.exit(0))));
