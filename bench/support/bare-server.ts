import { createServer } from "node:http";

/**
 * The ingest benchmark's floor: a bare Node HTTP server that reads each request body and answers 202, nothing
 * else (no signature check, no Redis). Run as a child process like the app; prints its port on stdout.
 */
const server = createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    res.writeHead(202, { "content-type": "text/plain" });
    res.end("ok\n");
  });
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${typeof address === "object" && address ? address.port : 0}\n`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
