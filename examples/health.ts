// Connects to BUILDKIT_HOST and prints which daemon answers.
//   BUILDKIT_HOST=docker-engine:///var/run/docker.sock npx tsx examples/health.ts
import { BuildKitClient, ConnectionError } from "@buildkit-bot/buildkit";

try {
  const client = await BuildKitClient.connect(); // address from BUILDKIT_HOST
  try {
    const health = await client.health();
    const version = health.version?.buildkit ? `BuildKit ${health.version.buildkit}` : `Docker Engine ${health.version?.engine ?? "?"}`;
    console.log(`${health.daemon} at ${health.address} (${version})`);
    for (const worker of health.workers) console.log(`  worker ${worker.id}: ${worker.platforms.join(", ")}`);
  } finally {
    await client.close();
  }
} catch (error) {
  if (!(error instanceof ConnectionError)) throw error;
  console.error(error.message);
  process.exitCode = 3;
}
