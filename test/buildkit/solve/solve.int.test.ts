import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { BuildConfig } from "../../../src/buildkit/build-config.js";
import type { BuildRequest } from "../../../src/buildkit/build-request.js";
import { BuildKitClient } from "../../../src/buildkit/client.js";
import { EngineApi } from "../../../src/buildkit/engine/engine-api.js";
import { BuildCancelledError, DockerfileParseError, GitCloneRefusedError, PushRefusedError, StepFailedError } from "../../../src/buildkit/errors.js";
import type { SolveRequest } from "../../../src/buildkit/generated/moby/buildkit/v1/SolveRequest.js";
import type { ProgressEvent } from "../../../src/buildkit/progress/events.js";
import { protos } from "../../../src/buildkit/proto.js";
import type { GitServer } from "../../support/git-server.js";
import { startGitServer } from "../../support/git-server.js";
import { testDaemons } from "../../support/daemons.js";
import { testStack } from "../../support/stack/env.js";
import { freePort } from "../../support/stack/free-port.js";

const stack = testStack();
const run = promisify(execFile);
const TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
const unique = (): string => randomBytes(5).toString("hex");

/** Every Solve request exactly as handed to grpc-js for the wire. */
const sentSolves: SolveRequest[] = [];
const captureSolve: grpc.Interceptor = (options, nextCall) =>
  new grpc.InterceptingCall(nextCall(options), {
    sendMessage(message: SolveRequest, next) {
      if (options.method_definition.path === "/moby.buildkit.v1.Control/Solve") sentSolves.push(message);
      next(message);
    },
  });

let git: GitServer;
const engine = new EngineApi(stack.dockerSocket);
const localImages: string[] = [];

before(async () => {
  git = await startGitServer({ tokens: [TOKEN] });
});
after(async () => {
  await git?.close();
  for (const image of localImages) await engine.removeImage(image).catch(() => undefined);
});

async function repoWith(files: Record<string, string>): Promise<{ remote: string; sha: string }> {
  const repo = await git.createRepo("octo", `app-${unique()}`);
  const sha = await repo.commit(files);
  return { remote: repo.remote, sha };
}

function gitRequest(remote: string, sha: string, extra: Partial<BuildRequest> = {}): BuildRequest {
  return { context: { type: "git", remote, ref: sha }, gitAuthToken: TOKEN, ...extra };
}

function logText(events: ProgressEvent[]): string {
  return events.map((e) => (e.type === "log" ? e.data : "")).join("");
}

async function processes(marker: string): Promise<string[]> {
  const { stdout } = await run("pgrep", ["-f", marker]).catch((err: { code?: number; stdout?: string }) => {
    if (err.code === 1) return { stdout: "" };
    throw err;
  });
  return stdout.split("\n").filter((line) => line.trim() !== "");
}


async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

for (const daemon of testDaemons()) describe(`solve from a git context on ${daemon.name}`, { skip: daemon.skip, timeout: 900_000 }, () => {
  let client: BuildKitClient;
  before(async () => {
    client = await BuildKitClient.connect(daemon.address, { interceptors: [captureSolve] });
  });
  after(async () => {
    await client?.close();
  });

  const tagged =
    daemon.kind === "docker-engine"
      ? "FROM scratch + COPY, tagged without an output: the image lands in the Engine's image store"
      : "FROM scratch + COPY, tagged without an output: buildkitd's OCI worker has no image store, so the result is its digest only";
  test(tagged, { timeout: 180_000 }, async () => {
    const content = `hello ${unique()}\n`;
    const { remote, sha } = await repoWith({ Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": content });
    const name = `bkb-test/scratch-${unique()}:latest`;
    localImages.push(name);
    const events: ProgressEvent[] = [];
    const sentBefore = sentSolves.length;
    const result = await client.solve(gitRequest(remote, sha, { output: { type: "image", names: [name], push: false } }), {
      onProgress: (e) => events.push(e),
    });
    assert.match(result.digest ?? "", /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(result.names, [name]);
    if (daemon.kind === "docker-engine") {
      assert.ok(await engine.imageExists(name), `${name} exists in the Engine`);
    } else {
      // The image exporter names images only in a worker's image store (containerd); the OCI worker keeps the
      // manifest in its content store under the result digest and names nothing. Our client asks for the `image`
      // exporter, never the Engine's `moby` one, so nothing reaches the Engine either.
      assert.ok(!(await engine.imageExists(name)), `${name} must not appear in the Engine`);
      assert.ok(events.some((e) => e.type === "step-completed" && /exporting to image/.test(e.name)), "the image exporter ran");
      assert.equal(sentSolves[sentBefore]?.Exporter, "image");
      assert.equal(sentSolves[sentBefore]?.ExporterAttrs?.name, name);
      assert.notEqual(sentSolves[sentBefore]?.ExporterAttrs?.push, "true");
    }
    assert.ok(events.some((e) => e.type === "step-completed" && /COPY hello\.txt/.test(e.name)), "COPY step completed");
    assert.ok(result.steps.total >= 2 && result.steps.completed === result.steps.total, JSON.stringify(result.steps));
    assert.ok(result.timings.solveMs > 0 && result.timings.totalMs >= result.timings.solveMs);
    assert.equal(result.timings.pushMs, 0);
    // The right token reached the git server as x-access-token basic auth, served as GIT_AUTH_TOKEN.<host:port>.
    assert.ok(git.requests.some((r) => r.path.startsWith(new URL(remote).pathname) && r.user === "x-access-token" && r.status === 200));
  });

  test("FROM the base image with a RUN step and a build arg", { timeout: 180_000 }, async () => {
    const greeting = `hi-${unique()}`;
    const { remote, sha } = await repoWith({
      Dockerfile: `FROM ${stack.baseImage}\nARG GREETING=none\nRUN echo "greeting=$GREETING"\n`,
    });
    const events: ProgressEvent[] = [];
    const result = await client.solve(gitRequest(remote, sha, { buildArgs: { GREETING: greeting } }), { onProgress: (e) => events.push(e) });
    assert.ok(logText(events).includes(`greeting=${greeting}`), logText(events));
    assert.ok(result.steps.total > 0);
  });

  test("a target stage builds only that stage", { timeout: 180_000 }, async () => {
    const mark = unique();
    const { remote, sha } = await repoWith({
      Dockerfile: `FROM ${stack.baseImage} AS first\nRUN echo in-first-${mark}\n\nFROM ${stack.baseImage} AS second\nRUN echo in-second-${mark}\n`,
    });
    const events: ProgressEvent[] = [];
    await client.solve(gitRequest(remote, sha, { target: "first" }), { onProgress: (e) => events.push(e) });
    const names = events.filter((e) => e.type === "step-started").map((e) => (e as { name: string }).name);
    assert.ok(names.some((n) => n.includes(`in-first-${mark}`)), names.join("\n"));
    assert.ok(!names.some((n) => n.includes(`in-second-${mark}`)), names.join("\n"));
    assert.ok(logText(events).includes(`in-first-${mark}`));
  });

  test("with the right token the image is pushed and the result digest is the registry's", { timeout: 300_000 }, async () => {
    const { remote, sha } = await repoWith({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo pushed-${unique()} > /pushed\n` });
    const repository = `bkb-test/push-${unique()}`;
    const names = [`${stack.registry}/${repository}:sha-${sha.slice(0, 7)}`, `${stack.registry}/${repository}:latest`];
    const result = await client.solve(gitRequest(remote, sha, { output: { type: "image", names, push: true, insecure: true } }));
    assert.deepEqual([...result.names].sort(), [...names].sort());
    assert.match(result.digest ?? "", /^sha256:[0-9a-f]{64}$/);
    for (const tag of [`sha-${sha.slice(0, 7)}`, "latest"]) {
      const res = await fetch(`http://${stack.registry}/v2/${repository}/manifests/${tag}`, {
        method: "HEAD",
        headers: {
          Accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
        },
      });
      assert.equal(res.status, 200, tag);
      assert.equal(res.headers.get("docker-content-digest"), result.digest, tag);
    }
  });

  for (const [label, token] of [
    ["a wrong token", `ghs_wrong_${randomBytes(12).toString("hex")}`],
    ["no token", undefined],
  ] as const) {
    test(`${label}: a clear clone-refused error that never shows a token`, { timeout: 180_000 }, async () => {
      const { remote, sha } = await repoWith({ Dockerfile: "FROM scratch\nCOPY Dockerfile /\n" });
      const before = sentSolves.length;
      const events: ProgressEvent[] = [];
      const request: BuildRequest = { context: { type: "git", remote, ref: sha } };
      if (token) request.gitAuthToken = token;
      const err = await client.solve(request, { onProgress: (e) => events.push(e) }).then(
        () => assert.fail("the build succeeded"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof GitCloneRefusedError, `expected GitCloneRefusedError, got ${String(err)}`);
      assert.equal(err.remote, remote);

      const messages: string[] = [];
      for (let e: unknown = err; e instanceof Error; e = e.cause) messages.push(e.message, String(e.stack));
      const sent = sentSolves.slice(before);
      assert.equal(sent.length, 1);
      const wire = (protos().control.moby.buildkit.v1.SolveRequest as unknown as { serialize(v: object): Buffer }).serialize(sent[0]!);
      const haystacks = [
        ...messages,
        ...events.map((e) => JSON.stringify(e)),
        JSON.stringify(sent[0]?.FrontendAttrs),
        wire.toString("latin1"),
        JSON.stringify(git.requests),
      ];
      for (const secret of [token, TOKEN].filter((s): s is string => s !== undefined)) {
        const forms = [secret, Buffer.from(`x-access-token:${secret}`).toString("base64"), Buffer.from(secret).toString("base64")];
        for (const text of haystacks) for (const form of forms) assert.ok(!text.includes(form), `token form leaked into: ${text.slice(0, 200)}`);
      }
      assert.ok(git.requests.some((r) => r.path.startsWith(new URL(remote).pathname) && r.status === 401), "the git server refused the clone");
    });
  }

  test(
    daemon.kind === "buildkitd"
      ? "a failing RUN carries its Dockerfile lines from BuildKit's error details (no Dockerfile text on this side)"
      : "a failing RUN on Engine 20.10 (no error details): no lines without the Dockerfile text",
    { timeout: 180_000 },
    async () => {
      const dockerfile = `FROM ${stack.baseImage}\nRUN echo fine\nRUN echo details-fail-${unique()} && \\\n    exit 5\nRUN echo never\n`;
      const { remote, sha } = await repoWith({ Dockerfile: dockerfile });
      const err = await client.solve(gitRequest(remote, sha)).then(
        () => assert.fail("the build succeeded"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StepFailedError, `expected StepFailedError, got ${String(err)}`);
      assert.equal(err.exitCode, 5);
      if (daemon.kind === "buildkitd") {
        assert.deepEqual(err.location, { file: "Dockerfile", startLine: 3, endLine: 4 });
      } else {
        assert.equal(err.location, undefined);
      }
    },
  );

  test(
    daemon.kind === "buildkitd"
      ? "a Dockerfile syntax error carries its line from BuildKit's error details"
      : "a Dockerfile syntax error carries its line from the Engine's message",
    { timeout: 180_000 },
    async () => {
      const dockerfile = `FROM scratch\nCOPY Dockerfile /\n\nFROBNICATE ${unique()}\n`;
      const { remote, sha } = await repoWith({ Dockerfile: dockerfile });
      const err = await client.solve(gitRequest(remote, sha)).then(
        () => assert.fail("the build succeeded"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof DockerfileParseError, `expected DockerfileParseError, got ${String(err)}`);
      assert.match(err.message, /frobnicate/i);
      assert.equal(err.location?.startLine, 4);
      assert.equal(err.location?.endLine, 4);
    },
  );

  test("a failing RUN reports the exit code and the Dockerfile lines", { timeout: 180_000 }, async () => {
    const dockerfile = `FROM ${stack.baseImage}\nRUN echo fine\nRUN echo about-to-fail-${unique()} && \\\n    exit 3\nRUN echo never\n`;
    const { remote, sha } = await repoWith({ Dockerfile: dockerfile });
    const err = await client.solve(gitRequest(remote, sha), { dockerfileText: dockerfile }).then(
      () => assert.fail("the build succeeded"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof StepFailedError, `expected StepFailedError, got ${String(err)}`);
    assert.equal(err.exitCode, 3);
    assert.equal(err.location?.startLine, 3);
    assert.equal(err.location?.endLine, 4);
    assert.ok(err.logTail.some((line) => line.includes("about-to-fail")), err.logTail.join("\n"));
  });

  test("aborting the signal cancels the solve and the daemon kills the running step", { timeout: 180_000 }, async () => {
    const marker = `marker-${unique()}`;
    const { remote, sha } = await repoWith({ Dockerfile: `FROM ${stack.baseImage}\nRUN sh -c 'sleep 300; echo ${marker}'\n` });
    const controller = new AbortController();
    const solving = client.solve(gitRequest(remote, sha), { signal: controller.signal });
    const outcome = solving.then(
      () => undefined,
      (e: unknown) => e,
    );
    await waitUntil("the RUN step to start", async () => (await processes(marker)).length > 0, 120_000);
    controller.abort(new Error("test abort"));
    const err = await outcome;
    assert.ok(err instanceof BuildCancelledError, `expected BuildCancelledError, got ${String(err)}`);
    await waitUntil("the step's processes to be gone", async () => (await processes(marker)).length === 0, 10_000);
  });

  test("a git subdir context builds (contextsubdir on Engine 20.10, #ref:subdir where supported)", { timeout: 180_000 }, async () => {
    const content = `from-subdir-${unique()}`;
    const { remote, sha } = await repoWith({
      Dockerfile: "FROM scratch\nCOPY nothing-here /\n",
      "services/api/Dockerfile": `FROM ${stack.baseImage}\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt\n`,
      "services/api/hello.txt": `${content}\n`,
    });
    const before = sentSolves.length;
    const events: ProgressEvent[] = [];
    await client.solve({ ...gitRequest(remote, sha), context: { type: "git", remote, ref: sha, subdir: "services/api" } }, {
      onProgress: (e) => events.push(e),
    });
    assert.ok(logText(events).includes(content), logText(events));
    const attrs = sentSolves[before]?.FrontendAttrs ?? {};
    if ((await client.capabilities()).gitSubdirFragment) {
      assert.equal(attrs.context, `${remote}#${sha}:services/api`);
      assert.equal(attrs.filename, "Dockerfile");
    } else {
      assert.equal(attrs.contextsubdir, "services/api");
      assert.equal(attrs.filename, "services/api/Dockerfile");
      assert.equal(attrs.context, `${remote}#${sha}`);
    }
  });

  test("BuildConfig.github with a #ref:dir fragment builds that directory at that ref", { timeout: 180_000 }, async () => {
    const content = `fragment-subdir-${unique()}`;
    const { remote, sha } = await repoWith({
      Dockerfile: "FROM scratch\nCOPY nothing-here /\n",
      "tools/web/Dockerfile": "FROM scratch\nCOPY page.txt /page.txt\n",
      "tools/web/page.txt": content,
    });
    const dest = await mkdtemp(join(tmpdir(), "bkb-git-fragment-"));
    try {
      const before = sentSolves.length;
      const request = BuildConfig.github(`${remote}#${sha}:tools/web`, { token: TOKEN }).output({ type: "local", dest }).build();
      await client.solve(request);
      assert.equal(await readFile(join(dest, "page.txt"), "utf8"), content);
      const attrs = sentSolves[before]?.FrontendAttrs ?? {};
      assert.equal(attrs.context, (await client.capabilities()).gitSubdirFragment ? `${remote}#${sha}:tools/web` : `${remote}#${sha}`);
    } finally {
      await rm(dest, { recursive: true, force: true });
    }
  });

  test("BuildConfig.github without a ref builds the default branch (BuildKit 0.24 cannot resolve #HEAD)", { timeout: 180_000 }, async () => {
    const repo = await git.createRepo("octo", `default-${unique()}`);
    const content = `default-branch-${unique()}`;
    await repo.commit({ Dockerfile: "FROM scratch\nCOPY which.txt /\n", "which.txt": content }, { branch: "main" });
    const dest = await mkdtemp(join(tmpdir(), "bkb-git-default-"));
    try {
      await client.solve(BuildConfig.github(repo.remote, { token: TOKEN }).output({ type: "local", dest }).build());
      assert.equal(await readFile(join(dest, "which.txt"), "utf8"), content);
    } finally {
      await rm(dest, { recursive: true, force: true });
    }
  });

  test("a ref the repository does not have is named as such, not as refused access", { timeout: 180_000 }, async () => {
    const { remote } = await repoWith({ Dockerfile: "FROM scratch\nCOPY Dockerfile /\n" });
    const err = await client.solve({ context: { type: "git", remote, ref: `no-such-branch-${unique()}` }, gitAuthToken: TOKEN }).then(
      () => assert.fail("the build succeeded"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof GitCloneRefusedError, `expected GitCloneRefusedError, got ${String(err)}`);
    assert.match(err.message, /the requested ref does not exist in the repository/);
  });

  test("an unreachable registry fails the push with a clear error", { timeout: 180_000 }, async () => {
    const { remote, sha } = await repoWith({ Dockerfile: `FROM scratch\nCOPY Dockerfile /df-${unique()}\n` });
    const registry = `127.0.0.1:${await freePort()}`;
    const err = await client
      .solve(gitRequest(remote, sha, { output: { type: "image", names: [`${registry}/bkb-test/unreachable:latest`], push: true, insecure: true } }))
      .then(
        () => assert.fail("the push succeeded"),
        (e: unknown) => e,
      );
    assert.ok(err instanceof PushRefusedError, `expected PushRefusedError, got ${String(err)}`);
    assert.equal(err.registry, registry);
    assert.equal(err.transient, true, "a registry that does not answer is worth a retry");
    assert.match(err.message, new RegExp(`${registry.replace(/[.]/g, "\\.")}.*connection refused`, "i"));
  });

  test("two concurrent builds of different commits pushing the same tag each get their own digest", { timeout: 300_000 }, async () => {
    const repo = await git.createRepo("octo", `race-${unique()}`);
    const first = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo first-${unique()} > /which\n` });
    const second = await repo.commit({ Dockerfile: `FROM ${stack.baseImage}\nRUN echo second-${unique()} > /which\n` });
    const repository = `bkb-test/race-${unique()}`;
    const build = (sha: string) =>
      client.solve(
        gitRequest(repo.remote, sha, {
          output: { type: "image", names: [`${stack.registry}/${repository}:main`, `${stack.registry}/${repository}:sha-${sha.slice(0, 7)}`], push: true, insecure: true },
        }),
      );
    const [a, b] = await Promise.all([build(first), build(second)]);
    assert.notEqual(a.digest, b.digest, "different commits give different images");
    for (const [result, sha] of [
      [a, first],
      [b, second],
    ] as const) {
      const res = await fetch(`http://${stack.registry}/v2/${repository}/manifests/sha-${sha.slice(0, 7)}`, {
        method: "HEAD",
        headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json" },
      });
      assert.equal(res.headers.get("docker-content-digest"), result.digest, `sha-${sha.slice(0, 7)} points at its own build's image`);
    }
    const main = await fetch(`http://${stack.registry}/v2/${repository}/manifests/main`, {
      method: "HEAD",
      headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json" },
    });
    assert.ok([a.digest, b.digest].includes(main.headers.get("docker-content-digest") ?? ""), "main is one of the two images");
  });

  test("a local context is synced and local / tar outputs are written on this side", { timeout: 180_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "bkb-local-ctx-"));
    try {
      const content = `local-${unique()}\n`;
      await writeFile(join(dir, "Dockerfile"), "FROM scratch\nCOPY a.txt /a.txt\n");
      await writeFile(join(dir, "a.txt"), content);
      await client.solve({ context: { type: "local", dir }, output: { type: "local", dest: join(dir, "out") } });
      assert.equal(await readFile(join(dir, "out", "a.txt"), "utf8"), content);
      await client.solve({ context: { type: "local", dir }, output: { type: "tar", dest: join(dir, "out.tar") } });
      assert.ok((await stat(join(dir, "out.tar"))).size > content.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
