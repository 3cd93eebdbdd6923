// Builds a directory on this machine and writes the image's files to a local directory.
//   BUILDKIT_HOST=docker-engine:///var/run/docker.sock npx tsx examples/build-local.ts [context-dir] [out-dir]
import { BuildConfig, BuildKitClient, consoleProgress } from "@buildkit-bot/buildkit";

const [contextDir = "examples/hello", outDir = "out/hello"] = process.argv.slice(2);

const request = BuildConfig.local(contextDir) // honours contextDir/.dockerignore
  .buildArg("GREETING", "hi")
  .label("org.opencontainers.image.title", "hello")
  .output({ type: "local", dest: outDir })
  .build(); // validated here: a missing directory or a bad option throws InvalidRequestError

const client = await BuildKitClient.connect();
try {
  const result = await client.solve(request, { onProgress: consoleProgress(process.stderr) });
  console.log(`exported to ${outDir}: ${result.steps.total} steps (${result.steps.cached} cached) in ${result.timings.totalMs} ms`);
} finally {
  await client.close();
}
