// Builds a directory's Dockerfile with BuildKit and pushes the image (`npm install @buildkit-bot/buildkit`):
//   BUILDKIT_HOST=tcp://127.0.0.1:1234 node library-build.mjs ./app registry.example.com/team/app:dev
import { BuildConfig, BuildKitClient, consoleProgress } from "@buildkit-bot/buildkit";

const [context, image] = process.argv.slice(2);
const client = await BuildKitClient.connect(); // BUILDKIT_HOST: tcp://…, unix://… or docker-engine://…
try {
  const { daemon, version } = await client.health();
  console.error(`building on ${daemon} ${version?.buildkit ?? version?.engine}`);
  const request = BuildConfig.local(context).tag(image).push().build();
  const result = await client.solve(request, { onProgress: consoleProgress(process.stderr) });
  console.log(`${result.names.join(", ")} ${result.digest} (${result.steps.total} steps, ${result.steps.cached} cached)`);
} finally {
  await client.close();
}
