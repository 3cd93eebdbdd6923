// Builds a GitHub (or any https git) repository at a ref and pushes the image; prints the pushed digest.
//   GITHUB_TOKEN=… BUILDKIT_HOST=… npx tsx examples/build-github.ts https://github.com/OWNER/REPO REF IMAGE
// IMAGE is a full name such as ghcr.io/owner/repo:tag. Registry credentials, when needed, come from
// REGISTRY_USER / REGISTRY_PASSWORD.
import { BuildConfig, BuildKitClient, jsonLinesProgress } from "@buildkit-bot/buildkit";

const [url, ref, image] = process.argv.slice(2);
if (!url || !ref || !image) {
  console.error("usage: build-github.ts REPO_URL REF IMAGE");
  process.exit(2);
}

const config = BuildConfig.github(url, { ref, token: process.env.GITHUB_TOKEN }) // token: never in the URL or logs
  .platform("linux/amd64")
  .tag(image)
  .push();
const { REGISTRY_USER, REGISTRY_PASSWORD } = process.env;
if (REGISTRY_USER && REGISTRY_PASSWORD) config.registryAuth(new URL(`https://${image}`).host, REGISTRY_USER, REGISTRY_PASSWORD);

const client = await BuildKitClient.connect();
try {
  // One JSON object per progress event on stderr; the result on stdout.
  const result = await client.solve(config.build(), { onProgress: jsonLinesProgress(process.stderr) });
  console.log(JSON.stringify({ digest: result.digest, names: result.names }));
} finally {
  await client.close();
}
