import { describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Probot } from "probot";
import { BuildKitClient, retireTags } from "@buildkit-bot/buildkit";
import type { RegistryConfig } from "../../src/app/app-config.js";
import { createBuildProcessor } from "../../src/worker/build-processor.js";
import type { BuildProcessorDeps } from "../../src/worker/build-processor.js";
import { provenanceReport } from "../../src/worker/provenance.js";
import { solveSplit } from "../../src/worker/split-solve.js";
import type { FakeGitHub } from "../support/fake-github/index.js";
import type { GitRepo } from "../support/git-server.js";
import { buildkitdDaemon, engineDaemon } from "../support/daemons.js";
import { testStack } from "../support/stack/env.js";
import { workerWorldOfFile } from "./worker-world.js";
import { buildJob, captureLog, registryDigest, unique, registryJson } from "./worker-test-kit.js";

/**
 * Provenance attestations (issue 19 point 4), read back from the real registry: a default-branch build's `mode=max`
 * statement names the git commit, its moving tag copies the whole index; a pull request's is `mode=min` and its
 * clean-up still deletes its tag; a split build's joined index keeps each part's attestation; the Engine 20.10 builds
 * without one and says so once.
 */
const stack = testStack();
const INSTALLATION = 83;
const OWNER = "prov";
const captured = captureLog();
const registry: RegistryConfig = { prefix: `${stack.registry}/prov-test`, host: stack.registry };

let fake: FakeGitHub<GitRepo>;
let request: Awaited<ReturnType<Probot["auth"]>>["request"];
let deps: BuildProcessorDeps;

workerWorldOfFile({ label: "prov", installation: INSTALLATION, owner: OWNER, appId: 4307, registry, logger: captured.logger }, (world) => ({ fake, request, deps } = world));

interface Descriptor {
  mediaType: string;
  digest: string;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
}

const registryGet = (repository: string, path: string) => registryJson(stack.registry, repository, path);

interface Statement {
  predicateType: string;
  subject: Array<{ name: string; digest: { sha256: string } }>;
  predicate: { materials?: Array<{ uri: string; digest?: Record<string, string> }>; buildConfig?: unknown; invocation?: { configSource?: { uri?: string; digest?: Record<string, string> } } };
}

/**
 * The index under `reference`, read the way any client must: its platform images, and for each attestation entry
 * (`unknown/unknown`, `vnd.docker.reference.type: attestation-manifest`) the in-toto statement in its layer.
 */
async function attestationsOf(repository: string, reference: string): Promise<{ images: Descriptor[]; attestations: Array<{ entry: Descriptor; statement: Statement }> }> {
  const index = await registryGet(repository, `manifests/${reference}`);
  assert.equal(index.mediaType, "application/vnd.oci.image.index.v1+json", "an image with an attestation is an OCI index");
  const entries = index.manifests as Descriptor[];
  const images = entries.filter((e) => e.platform?.os !== "unknown");
  const attestations = [];
  for (const entry of entries.filter((e) => e.annotations?.["vnd.docker.reference.type"] === "attestation-manifest")) {
    assert.deepEqual(entry.platform, { architecture: "unknown", os: "unknown" });
    const manifest = await registryGet(repository, `manifests/${entry.digest}`);
    const layer = (manifest.layers as Descriptor[]).find((l) => l.mediaType === "application/vnd.in-toto+json" && l.annotations?.["in-toto.io/predicate-type"]?.startsWith("https://slsa.dev/provenance/"));
    assert.ok(layer, `a provenance layer in ${JSON.stringify(manifest.layers)}`);
    attestations.push({ entry, statement: (await registryGet(repository, `blobs/${layer.digest}`)) as unknown as Statement });
  }
  return { images, attestations };
}

/** The statement names the repository (without credentials) at exactly the commit built. */
function assertNamesCommit(statement: Statement, remote: string, sha: string): void {
  const materials = statement.predicate.materials ?? [];
  const commit = materials.find((m) => m.digest?.sha1 === sha);
  assert.ok(commit, `a material with the commit's sha1 in ${JSON.stringify(materials)}`);
  assert.ok(commit.uri.startsWith(remote.replace(/\.git$/, "")), `${commit.uri} is the repository's URL`);
  assert.ok(commit.uri.includes(sha), `${commit.uri} names the commit`);
  assert.ok(!JSON.stringify(statement).includes("x-access-token"), "no credentials in the statement");
}

interface Repo {
  name: string;
  repo: GitRepo & { id: number };
  sha: string;
  checkRunId: number;
  private: boolean;
}

async function newRepo(prefix: string, opts: { private?: boolean } = {}): Promise<Repo> {
  const name = `${prefix}-${unique()}`;
  const repo = await fake.createRepo(INSTALLATION, OWNER, name, { private: opts.private ?? true });
  const sha = await repo.commit({ Dockerfile: "FROM scratch\nCOPY x.txt /x.txt\n", "x.txt": `${name}\n` });
  const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
  return { name, repo, sha, checkRunId: (data as { id: number }).id, private: opts.private ?? true };
}

const jobFor = (r: Repo, image: Parameters<typeof buildJob>[0]["image"], extra: Partial<Parameters<typeof buildJob>[0]> = {}) =>
  buildJob({ checkRunId: r.checkRunId, installationId: INSTALLATION, repoId: r.repo.id, owner: OWNER, repo: r.name, private: r.private, cloneUrl: r.repo.remote, sha: r.sha, image, ...extra });

describe("provenance on buildkitd", { skip: buildkitdDaemon(stack).skip, timeout: 600_000 }, () => {
  const processor = (): ReturnType<typeof createBuildProcessor> => createBuildProcessor({ ...deps, buildkitHost: buildkitdDaemon(stack).address });

  test("a default-branch build pushes a mode=max attestation naming the commit; main moves to the whole index; the check run shows how to read it", { timeout: 300_000 }, async () => {
    const r = await newRepo("main");
    const repository = `prov-test/${OWNER}/${r.name}`;
    const commitTag = `${registry.prefix}/${OWNER}/${r.name}:sha-${r.sha.slice(0, 7)}`;
    const job = jobFor(r, {
      tags: [`${registry.prefix}/${OWNER}/${r.name}:main`, commitTag],
      push: true,
      ifBranchMoved: { branch: "main", tags: [commitTag] },
      attestations: { provenance: "max" },
    });

    const outcome = await processor()(job, new AbortController().signal);

    assert.ok(outcome.digest);
    assert.equal(await registryDigest(stack.registry, repository, `sha-${r.sha.slice(0, 7)}`), outcome.digest);
    assert.equal(await registryDigest(stack.registry, repository, "main"), outcome.digest, "main is a copy of the index, attestation included");
    const { images, attestations } = await attestationsOf(repository, "main");
    assert.equal(images.length, 1, "one platform image");
    assert.equal(attestations.length, 1, "and its attestation");
    const [{ entry, statement }] = attestations as [(typeof attestations)[0]];
    assert.equal(entry.annotations?.["vnd.docker.reference.digest"], images[0]?.digest, "the attestation describes the platform image");
    assert.equal(statement.predicateType, "https://slsa.dev/provenance/v0.2");
    assert.ok(statement.subject.some((s) => `sha256:${s.digest.sha256}` === images[0]?.digest), "its subject is the image");
    assertNamesCommit(statement, r.repo.remote, r.sha);
    assert.ok(statement.predicate.buildConfig, "mode=max carries the build definition");

    const summary = fake.checkRun(r.checkRunId)?.output.summary ?? "";
    assert.equal(fake.checkRun(r.checkRunId)?.conclusion, "success");
    assert.ok(summary.includes(`Attestation: \`${entry.digest}\``), summary);
    assert.ok(summary.includes(`docker buildx imagetools inspect ${registry.prefix}/${OWNER}/${r.name}@${outcome.digest} --format '{{ json .Provenance }}'`), summary);
  });

  test("a pull request's image carries mode=min, still naming the commit; its clean-up deletes its tag from the index and leaves the commit's", { timeout: 300_000 }, async () => {
    const r = await newRepo("pr");
    const repository = `prov-test/${OWNER}/${r.name}`;
    const prTag = `${registry.prefix}/${OWNER}/${r.name}:pr-4`;
    const commitTag = `${registry.prefix}/${OWNER}/${r.name}:sha-${r.sha.slice(0, 7)}`;
    const job = jobFor(r, { tags: [prTag, commitTag], push: true, attestations: { provenance: "min" } });

    const outcome = await processor()(job, new AbortController().signal);

    const { attestations } = await attestationsOf(repository, "pr-4");
    assert.equal(attestations.length, 1);
    const statement = attestations[0]!.statement;
    assertNamesCommit(statement, r.repo.remote, r.sha);
    assert.equal(statement.predicate.buildConfig, undefined, "mode=min leaves the build definition out");
    assert.match(fake.checkRun(r.checkRunId)?.output.summary ?? "", /\*\*Provenance\*\* \(SLSA, `mode=min`\)/);

    const [retired] = await retireTags({ tags: [{ name: prTag, expect: [outcome.digest ?? "?"] }] });
    assert.equal(retired?.outcome, "deleted", JSON.stringify(retired));
    assert.equal(await registryDigest(stack.registry, repository, "pr-4"), undefined);
    assert.equal(await registryDigest(stack.registry, repository, `sha-${r.sha.slice(0, 7)}`), outcome.digest, "the index and its other tag stay");
  });

  test("a split build's parts carry their attestations, and the joined index keeps each one beside its platform", { timeout: 300_000 }, async () => {
    // Public: the parts are solved here directly, without the worker's repository token.
    const r = await newRepo("split", { private: false });
    const repository = `prov-test/${OWNER}/${r.name}`;
    const name = `${registry.prefix}/${OWNER}/${r.name}:sha-${r.sha.slice(0, 7)}`;
    const client = await BuildKitClient.connect(buildkitdDaemon(stack).address);
    try {
      const part = (platform: string) => ({ platforms: [platform], name: `b-${platform}`, client, holdId: platform, release: async () => undefined });
      const buildRequest = {
        context: { type: "git" as const, remote: r.repo.remote, ref: r.sha },
        output: { type: "image" as const, names: [name], push: true, insecure: true },
        attestations: { provenance: "max" as const },
      };
      const { result } = await solveSplit([part("linux/amd64"), part("linux/arm64")], buildRequest, {
        signal: new AbortController().signal,
        onProgress: () => undefined,
        dockerfileText: Promise.resolve(undefined),
        line: () => undefined,
      });

      const { images, attestations } = await attestationsOf(repository, `sha-${r.sha.slice(0, 7)}`);
      assert.deepEqual(images.map((i) => `${i.platform?.os}/${i.platform?.architecture}`).sort(), ["linux/amd64", "linux/arm64"]);
      assert.equal(attestations.length, 2, "one attestation per part");
      assert.deepEqual(attestations.map((a) => a.entry.annotations?.["vnd.docker.reference.digest"]).sort(), images.map((i) => i.digest).sort(), "each describes one platform image of the index");
      for (const a of attestations) assertNamesCommit(a.statement, r.repo.remote, r.sha);

      const report = await provenanceReport(
        jobFor(r, { tags: [name], push: true, attestations: { provenance: "max" } }),
        { request: buildRequest, pushTags: [name], client },
        result,
      );
      assert.deepEqual(report?.attestations?.map((a) => a.platform).sort(), ["linux/amd64", "linux/arm64"]);
    } finally {
      await client.close();
    }
  });
});

/**
 * A pass-through proxy in front of the stack's registry. Once armed, it holds every GET of a manifest by digest (what
 * the provenance read-back and the size diff ask first of the image just pushed) until a GET of `opener` (the size
 * diff's base image, by tag) arrives, or a minute passes; it says which opened the gate.
 */
async function startGatedRegistry(opener: (path: string) => boolean): Promise<{ host: string; arm(): void; held: () => number; openedBy: () => string | undefined; close(): Promise<void> }> {
  const [targetHost, targetPort] = stack.registry.split(":");
  let armed = false;
  let held = 0;
  let openedBy: string | undefined;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let timer: NodeJS.Timeout | undefined;
  const forward = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const upstream = http.request({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    if (armed && req.method === "GET" && opener(path) && openedBy === undefined) {
      openedBy = "the base image's read";
      open();
    }
    if (armed && req.method === "GET" && /\/manifests\/sha256:[0-9a-f]{64}$/.test(path) && openedBy === undefined) {
      held++;
      timer ??= setTimeout(() => {
        openedBy ??= "the timer";
        open();
      }, 60_000);
      void opened.then(() => forward(req, res));
      return;
    }
    forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    arm: () => void (armed = true),
    held: () => held,
    openedBy: () => openedBy,
    close: () =>
      new Promise<void>((resolve) => {
        clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("after the push, on buildkitd", { skip: buildkitdDaemon(stack).skip, timeout: 600_000 }, () => {
  test("the provenance read-back and the size diff read the registry side by side; the check run shows both", { timeout: 300_000 }, async () => {
    const r = await newRepo("side");
    const path = `prov-test/${OWNER}/${r.name}`;
    const gate = await startGatedRegistry((p) => p === `/v2/${path}/manifests/main`);
    try {
      const gated = { ...deps, registry: { prefix: `${gate.host}/prov-test`, host: gate.host }, buildkitHost: buildkitdDaemon(stack).address };
      const image = `${gate.host}/${path}`;
      await createBuildProcessor(gated)(jobFor(r, { tags: [`${image}:main`], push: true }), new AbortController().signal);
      assert.equal(fake.checkRun(r.checkRunId)?.conclusion, "success", "main is built (the gate is open)");

      const sha = await r.repo.commit({ "x.txt": `${r.name}, changed\n` });
      const { data } = await request("POST /repos/{owner}/{repo}/check-runs", { owner: OWNER, repo: r.name, name: "buildkit-bot / app", head_sha: sha, status: "queued" });
      const checkRunId = (data as { id: number }).id;
      gate.arm();
      const job = jobFor({ ...r, sha, checkRunId }, { tags: [`${image}:pr-1`], push: true, attestations: { provenance: "min" }, sizeBase: { branch: "main", reference: `${image}:main` } });
      await createBuildProcessor(gated)(job, new AbortController().signal);

      const run = fake.checkRun(checkRunId);
      const summary = run?.output.summary ?? "";
      assert.equal(run?.conclusion, "success", summary);
      assert.ok(gate.held() >= 2, `both reads of the pushed image were held (${gate.held()})`);
      assert.equal(gate.openedBy(), "the base image's read", "the provenance read-back was still waiting when the size diff read the base image");
      assert.match(summary, /\*\*Provenance\*\* \(SLSA, `mode=min`\)/, summary);
      assert.match(summary, /Attestation: `sha256:[0-9a-f]{64}`/, summary);
      assert.match(summary, /\*\*Image size:\*\* [\d.]+ (k?B) \([+−][\d.]+ (k?B), [+−][\d.]+% vs `main`\)/, summary);
    } finally {
      await gate.close();
    }
  });
});

describe("provenance on the Docker Engine 20.10", { timeout: 300_000 }, () => {
  test("no attestation can be made: the image is pushed without one, and the check run says so once", { timeout: 240_000 }, async () => {
    const r = await newRepo("engine");
    const repository = `prov-test/${OWNER}/${r.name}`;
    const job = jobFor(r, { tags: [`${registry.prefix}/${OWNER}/${r.name}:main`], push: true, attestations: { provenance: "max" } });

    const outcome = await createBuildProcessor({ ...deps, buildkitHost: engineDaemon(stack).address })(job, new AbortController().signal);

    assert.equal(await registryDigest(stack.registry, repository, "main"), outcome.digest);
    const manifest = await registryGet(repository, "manifests/main");
    assert.equal(manifest.manifests, undefined, "a single image manifest, no index");
    const run = fake.checkRun(r.checkRunId);
    assert.equal(run?.conclusion, "success");
    const summary = run?.output.summary ?? "";
    assert.equal(summary.split("Provenance attestations need BuildKit v0.11 or newer").length, 2, `said once: ${summary}`);
    assert.ok(!summary.includes("imagetools"));
  });
});
