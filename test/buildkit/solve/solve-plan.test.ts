import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { BuildRequest } from "../../../src/buildkit/build-request.js";
import { InvalidRequestError, UnsupportedByDaemonError } from "../../../src/buildkit/errors.js";
import type { SolveRequest__Output } from "../../../src/buildkit/generated/moby/buildkit/v1/SolveRequest.js";
import { protos } from "../../../src/buildkit/proto.js";
import { stagedNames } from "../../../src/buildkit/push/engine-publish.js";
import { newBuildRef } from "../../../src/buildkit/solve/build-ref.js";
import { daemonCapabilities, daemonProfile } from "../../../src/buildkit/index.js";
import type { DaemonCapabilities } from "../../../src/buildkit/index.js";
import { planSolve } from "../../../src/buildkit/solve/solve-plan.js";

const buildkitd = daemonCapabilities(daemonProfile("buildkitd"), "v0.11.6");
const engine2010 = daemonCapabilities(daemonProfile("engine-classic"), "v0.8");
const engineContainerd = daemonCapabilities(daemonProfile("engine-containerd"), "v0.12");

const git = { type: "git" as const, remote: "https://git.example:8443/octo/app.git", ref: "0123456789abcdef0123456789abcdef01234567" };

function plan(request: BuildRequest, capabilities: DaemonCapabilities = buildkitd) {
  return planSolve(request, { ref: "ref0", sessionId: "sess0", capabilities, stageNames: stagedNames });
}

type Codec = { serialize(v: object): Buffer; deserialize(b: Buffer): SolveRequest__Output };
const codec = protos().control.moby.buildkit.v1.SolveRequest as unknown as Codec;

/** Top-level protobuf field numbers present in an encoded message (all SolveRequest fields we send are length-delimited). */
function topLevelFields(bytes: Buffer): number[] {
  const fields: number[] = [];
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  };
  while (i < bytes.length) {
    const key = varint();
    const wire = key & 7;
    fields.push(key >>> 3);
    if (wire === 2) {
      const length = varint();
      i += length;
    }
    else if (wire === 0) varint();
    else throw new Error(`unexpected wire type ${wire}`);
  }
  return fields;
}

describe("planSolve: frontend attrs", () => {
  test("dockerfile.v0 with filename, target, build args, labels, platform, no-cache, pull and cache imports", () => {
    const { solve } = plan({
      context: git,
      dockerfile: "build/Dockerfile",
      target: "release",
      buildArgs: { VERSION: "1.2", EMPTY: "" },
      labels: { "org.opencontainers.image.source": "https://git.example/octo/app" },
      platforms: ["linux/amd64", "linux/arm64/v8"],
      noCache: true,
      pull: true,
      cacheImports: [{ type: "registry", attrs: { ref: "r.example/app:cache" } }],
      cacheExports: [{ type: "inline" }],
    });
    assert.equal(solve.Frontend, "dockerfile.v0");
    assert.equal(solve.Ref, "ref0");
    assert.equal(solve.Session, "sess0");
    assert.deepEqual(solve.FrontendAttrs, {
      context: `${git.remote}#${git.ref}`,
      filename: "build/Dockerfile",
      target: "release",
      "build-arg:VERSION": "1.2",
      "build-arg:EMPTY": "",
      "label:org.opencontainers.image.source": "https://git.example/octo/app",
      platform: "linux/amd64,linux/arm64/v8",
      "no-cache": "",
      "image-resolve-mode": "pull",
      "cache-imports": JSON.stringify([{ Type: "registry", Attrs: { ref: "r.example/app:cache" } }]),
    });
    assert.deepEqual(solve.Cache, {
      Exports: [{ Type: "inline", Attrs: {} }],
      Imports: [{ Type: "registry", Attrs: { ref: "r.example/app:cache" } }],
    });
  });

  test("a git subdir goes into the fragment where the daemon supports it", () => {
    const { solve } = plan({ context: { ...git, subdir: "services/api/" } });
    assert.equal(solve.FrontendAttrs?.context, `${git.remote}#${git.ref}:services/api`);
    assert.equal(solve.FrontendAttrs?.filename, "Dockerfile");
    assert.equal(solve.FrontendAttrs?.contextsubdir, undefined);
  });

  test("BuildKit 0.8 gets contextsubdir and the Dockerfile path from the repository root", () => {
    const { solve } = plan({ context: { ...git, subdir: "services/api" }, dockerfile: "docker/Dockerfile" }, engine2010);
    assert.equal(solve.FrontendAttrs?.context, `${git.remote}#${git.ref}`);
    assert.equal(solve.FrontendAttrs?.contextsubdir, "services/api");
    assert.equal(solve.FrontendAttrs?.filename, "services/api/docker/Dockerfile");
  });

  test("BuildKit 0.8 cannot express a Dockerfile outside the repository", () => {
    assert.throws(() => plan({ context: { ...git, subdir: "a" }, dockerfile: "../../Dockerfile" }, engine2010), UnsupportedByDaemonError);
  });

  test("invalid requests are refused before anything is sent", () => {
    assert.throws(() => plan({ context: { ...git, remote: "https://user:pw@git.example/octo/app.git" } }), InvalidRequestError);
    assert.throws(() => plan({ context: { ...git, remote: "https://git.example/octo/app" } }), InvalidRequestError);
    assert.throws(() => plan({ context: { ...git, subdir: "../x" } }), InvalidRequestError);
    assert.throws(() => plan({ context: git, platforms: ["amd64"] }), InvalidRequestError);
    assert.throws(() => plan({ context: git, output: { type: "image", names: [], push: true } }), InvalidRequestError);
    assert.throws(() => plan({ context: git, secrets: { GIT_AUTH_TOKEN: "x" } }), InvalidRequestError);
  });
});

describe("planSolve: secrets", () => {
  test("the git token is served only as GIT_AUTH_TOKEN.<host:port> and never appears in the request", () => {
    const token = "ghs_plan_test_token_value";
    const { solve, secrets } = plan({ context: git, gitAuthToken: token, secrets: { npmrc: "registry=x" } });
    assert.deepEqual([...secrets.keys()].sort(), ["GIT_AUTH_TOKEN.git.example:8443", "npmrc"]);
    assert.equal(secrets.get("GIT_AUTH_TOKEN.git.example:8443"), token);
    const bytes = codec.serialize(solve);
    assert.ok(!bytes.includes(Buffer.from(token)));
    assert.ok(!bytes.includes(Buffer.from(`x-access-token:${token}`).toString("base64")));
  });
});

describe("planSolve: exporters", () => {
  test("buildkitd pushes with the image exporter, in both the old fields and the Exporters list", () => {
    const { solve, enginePush } = plan({
      context: git,
      output: { type: "image", names: ["127.0.0.1:5000/octo/app:sha-1", "127.0.0.1:5000/octo/app:latest"], push: true, insecure: true },
    });
    const attrs = { name: "127.0.0.1:5000/octo/app:sha-1,127.0.0.1:5000/octo/app:latest", push: "true", "registry.insecure": "true" };
    assert.equal(solve.Exporter, "image");
    assert.deepEqual(solve.ExporterAttrs, attrs);
    assert.deepEqual(solve.Exporters, [{ Type: "image", Attrs: attrs }]);
    assert.equal(enginePush, undefined);

    const bytes = codec.serialize(solve);
    const fields = topLevelFields(bytes);
    for (const field of [1, 3, 4, 5, 6, 7, 8, 13]) assert.ok(fields.includes(field), `field ${field} encoded`);
    const decoded = codec.deserialize(bytes);
    assert.equal(decoded.Exporter, "image");
    assert.deepEqual(decoded.ExporterAttrs, attrs);
    assert.deepEqual(decoded.Exporters.map((e) => [e.Type, e.Attrs]), [["image", attrs]]);
  });

  test("Cache is on the wire even when empty", () => {
    const { solve } = plan({ context: git });
    assert.deepEqual(solve.Cache, { Exports: [], Imports: [] });
    const bytes = codec.serialize(solve);
    assert.ok(topLevelFields(bytes).includes(8), "field 8 (Cache) encoded");
    assert.ok(bytes.includes(Buffer.from([0x42, 0x00])));
    assert.deepEqual(solve.Exporters, []);
    assert.equal(solve.Exporter, undefined);
  });

  test("Engine (graphdriver) exports with moby under one staged name per repository and pushes afterwards", () => {
    const names = ["127.0.0.1:5000/octo/app:sha-1", "127.0.0.1:5000/octo/app:latest", "127.0.0.1:5000/octo/mirror:latest"];
    const { solve, enginePush } = plan({ context: git, output: { type: "image", names, push: true } }, engine2010);
    const staged = stagedNames(names, "ref0");
    assert.equal(staged.length, 2);
    assert.equal(solve.Exporter, "moby");
    assert.deepEqual(solve.ExporterAttrs, { name: staged.join(",") });
    assert.deepEqual(solve.Exporters, [{ Type: "moby", Attrs: { name: staged.join(",") } }]);
    assert.deepEqual(enginePush, { names, insecure: false });
  });

  test("Engine without push tags the final names locally", () => {
    const { solve, enginePush } = plan({ context: git, output: { type: "image", names: ["octo/app:dev"], push: false } }, engine2010);
    assert.deepEqual(solve.ExporterAttrs, { name: "octo/app:dev" });
    assert.equal(enginePush, undefined);
  });

  test("Engine on the containerd image store pushes from the exporter like buildkitd", () => {
    const { solve, enginePush } = plan({ context: git, output: { type: "image", names: ["r.example/app:1"], push: true } }, engineContainerd);
    assert.equal(solve.Exporter, "moby");
    assert.deepEqual(solve.ExporterAttrs, { name: "r.example/app:1", push: "true" });
    assert.equal(enginePush, undefined);
  });

  test("multi-platform images on the Engine 20.10 image store are refused before sending", () => {
    assert.throws(
      () => plan({ context: git, platforms: ["linux/amd64", "linux/arm64"], output: { type: "image", names: ["r.example/app:1"], push: true } }, engine2010),
      (err: unknown) => err instanceof UnsupportedByDaemonError && err.feature === "multi-platform-image",
    );
  });

  test("push by digest: the image exporter pushes each name's repository untagged (name-canonical), on buildkitd and the containerd-store Engine", () => {
    for (const capabilities of [buildkitd, engineContainerd]) {
      const { solve, enginePush } = plan({ context: git, platforms: ["linux/arm64"], output: { type: "image", names: ["r.example/o/app:sha-1", "r.example/o/app:main", "r.example/o/cache:x"], push: true, pushByDigest: true } }, capabilities);
      assert.equal(enginePush, undefined);
      assert.deepEqual(solve.ExporterAttrs, { name: "r.example/o/app,r.example/o/cache", push: "true", "push-by-digest": "true", "name-canonical": "true" });
    }
  });

  test("push by digest on the Engine's classic store (it pushes by tag through its API) is refused before sending, saying why", () => {
    assert.throws(
      () => plan({ context: git, platforms: ["linux/amd64"], output: { type: "image", names: ["r.example/app:1"], push: true, pushByDigest: true } }, engine2010),
      (err: unknown) => err instanceof UnsupportedByDaemonError && err.feature === "push-by-digest" && /cannot push an image by digest alone/.test(err.message),
    );
    assert.throws(() => plan({ context: git, output: { type: "image", names: ["r.example/app:1"], push: false, pushByDigest: true } }), InvalidRequestError);
  });

  test("local and tar outputs use the matching exporter and a client-side destination", () => {
    const local = plan({ context: git, output: { type: "local", dest: "/tmp/out" } });
    assert.equal(local.solve.Exporter, "local");
    assert.deepEqual(local.fileOutput, { type: "local", dest: "/tmp/out" });
    const tar = plan({ context: git, output: { type: "tar", dest: "/tmp/out.tar" } }, engine2010);
    assert.deepEqual(tar.solve.Exporters, [{ Type: "tar", Attrs: {} }]);
  });

  test("a local context asks for the context and dockerfile dirs", () => {
    const { solve, localDirs } = plan({ context: { type: "local", dir: "/src/app" }, dockerfile: "docker/Dockerfile" });
    assert.deepEqual(localDirs, { context: "/src/app", dockerfile: "/src/app" });
    assert.equal(solve.FrontendAttrs?.filename, "docker/Dockerfile");
    assert.equal(solve.FrontendAttrs?.context, undefined);
  });
});

test("build refs are 25 base36 characters and unique", () => {
  const refs = new Set(Array.from({ length: 200 }, newBuildRef));
  assert.equal(refs.size, 200);
  for (const ref of refs) assert.match(ref, /^[0-9a-z]{25}$/);
});

describe("attestations", () => {
  const push = { type: "image" as const, names: ["registry.example/app:main"], push: true };

  test("provenance and SBOM go as the attest: frontend attributes buildctl's --opt sends", () => {
    const attrs = plan({ context: git, output: push, attestations: { provenance: "max", sbom: true } }).solve.FrontendAttrs ?? {};
    assert.equal(attrs["attest:provenance"], "mode=max");
    assert.equal(attrs["attest:sbom"], "");
    const min = plan({ context: git, output: push, attestations: { provenance: "min" } }).solve.FrontendAttrs ?? {};
    assert.equal(min["attest:provenance"], "mode=min");
    assert.equal("attest:sbom" in min, false);
    assert.equal(Object.keys(plan({ context: git, output: push }).solve.FrontendAttrs ?? {}).some((k) => k.startsWith("attest:")), false, "none unless asked");
  });

  test("refused where they would be dropped: BuildKit older than 0.11, or the classic Engine store; an Engine on containerd takes them", () => {
    for (const capabilities of [engine2010, daemonCapabilities(daemonProfile("buildkitd"), "v0.10.6"), daemonCapabilities(daemonProfile("engine-classic"), "v0.12")]) {
      assert.equal(capabilities.attestations, false);
      assert.throws(
        () => plan({ context: git, output: push, attestations: { provenance: "min" } }, capabilities),
        (err: unknown) => err instanceof UnsupportedByDaemonError && err.feature === "attestations" && /BuildKit v0\.11 or newer/.test(err.message),
      );
    }
    assert.equal(engineContainerd.attestations, true);
    assert.equal(plan({ context: git, output: push, attestations: { provenance: "max" } }, engineContainerd).solve.FrontendAttrs?.["attest:provenance"], "mode=max");
  });
});
