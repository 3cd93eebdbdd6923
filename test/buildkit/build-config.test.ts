import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BuildConfig } from "../../src/buildkit/build-config.js";
import { InvalidOptionError, InvalidRequestError, UnsupportedByDaemonError } from "../../src/buildkit/errors.js";
import type { SolveRequest__Output } from "../../src/buildkit/generated/moby/buildkit/v1/SolveRequest.js";
import { protos } from "../../src/buildkit/proto.js";
import { stagedNames } from "../../src/buildkit/push/engine-publish.js";
import { daemonCapabilities, daemonProfile } from "../../src/buildkit/index.js";
import type { DaemonCapabilities } from "../../src/buildkit/index.js";
import { planSolve } from "../../src/buildkit/solve/solve-plan.js";

const buildkitd = daemonCapabilities(daemonProfile("buildkitd"), "v0.11.6");
const engine2010 = daemonCapabilities(daemonProfile("engine-classic"), "v0.8");

type Codec = { serialize(v: object): Buffer; deserialize(b: Buffer): SolveRequest__Output };
const codec = protos().control.moby.buildkit.v1.SolveRequest as unknown as Codec;

/** The SolveRequest as the daemon decodes it from the wire. */
function onTheWire(config: BuildConfig, capabilities: DaemonCapabilities = buildkitd): SolveRequest__Output {
  const { solve } = planSolve(config.build(), { ref: "ref0", sessionId: "sess0", capabilities, stageNames: stagedNames });
  return codec.deserialize(codec.serialize(solve));
}

async function workspace(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "bkb-build-config-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, "app"));
  await writeFile(join(root, "app", "Dockerfile"), "FROM scratch\n");
  await mkdir(join(root, "docker"));
  await writeFile(join(root, "docker", "prod.Dockerfile"), "FROM scratch\n");
  await writeFile(join(root, "npmrc"), "//registry/:_authToken=s3cret\n");
  return root;
}

function rejects(run: () => unknown, option: string, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InvalidOptionError, `expected an InvalidOptionError, got ${String(error)}`);
    assert.ok(error instanceof InvalidRequestError);
    assert.equal(error.code, "INVALID_REQUEST");
    assert.equal(error.option, option);
    assert.match(error.message, message);
    return true;
  });
}

describe("BuildConfig", () => {
  test("a local build with every option", async (t) => {
    const root = await workspace(t);
    const request = BuildConfig.local(join(root, "app"), { env: { NPM_TOKEN: "from-env" } })
      .dockerfile(join(root, "docker", "prod.Dockerfile"))
      .buildArg("VERSION", "1.2=3")
      .target("runtime")
      .label("org.opencontainers.image.source", "https://example.com")
      .platform("linux/amd64")
      .platform("linux/arm64,linux/arm/v7", "linux/amd64")
      .secret("plain", "value")
      .secretFromFile("npmrc", join(root, "npmrc"))
      .secretFromEnv("token", "NPM_TOKEN")
      .cacheFrom("127.0.0.1:5000/app:old")
      .cacheFrom({ type: "registry", attrs: { ref: "127.0.0.1:5000/app:cache" } })
      .cacheTo("type=registry,ref=127.0.0.1:5000/app:cache,mode=max")
      .noCache()
      .pull()
      .provenance("max")
      .sbom()
      .tag("127.0.0.1:5000/app:1", "127.0.0.1:5000/app:latest")
      .push()
      .registryAuth("127.0.0.1:5000", "ci", "hunter2")
      .build();
    assert.deepEqual(request.context, { type: "local", dir: join(root, "app"), dockerfileDir: join(root, "docker") });
    assert.equal(request.dockerfile, "prod.Dockerfile");
    assert.deepEqual(request.buildArgs, { VERSION: "1.2=3" });
    assert.equal(request.target, "runtime");
    assert.deepEqual(request.labels, { "org.opencontainers.image.source": "https://example.com" });
    assert.deepEqual(request.platforms, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
    assert.deepEqual(
      Object.fromEntries(Object.entries(request.secrets ?? {}).map(([k, v]) => [k, v.toString()])),
      { plain: "value", npmrc: "//registry/:_authToken=s3cret\n", token: "from-env" },
    );
    assert.deepEqual(request.cacheImports, [
      { type: "registry", attrs: { ref: "127.0.0.1:5000/app:old" } },
      { type: "registry", attrs: { ref: "127.0.0.1:5000/app:cache" } },
    ]);
    assert.deepEqual(request.cacheExports, [{ type: "registry", attrs: { ref: "127.0.0.1:5000/app:cache", mode: "max" } }]);
    assert.equal(request.noCache, true);
    assert.equal(request.pull, true);
    assert.deepEqual(request.attestations, { provenance: "max", sbom: true });
    assert.deepEqual(request.output, { type: "image", names: ["127.0.0.1:5000/app:1", "127.0.0.1:5000/app:latest"], push: true });
    assert.deepEqual(request.registryAuth, [{ host: "127.0.0.1:5000", username: "ci", password: "hunter2" }]);
    assert.equal(request.gitAuthToken, undefined);
  });

  test("the smallest local build: the context only, no output", async (t) => {
    const root = await workspace(t);
    assert.deepEqual(BuildConfig.local(join(root, "app")).build(), { context: { type: "local", dir: join(root, "app") } });
  });

  test("github(): URL forms, #ref:subdir, options overriding them, and the token", () => {
    const fromUrl = BuildConfig.github("https://github.com/acme/app#v1.2.0:services/api").build();
    assert.deepEqual(fromUrl.context, { type: "git", remote: "https://github.com/acme/app.git", ref: "v1.2.0", subdir: "services/api" });
    const request = BuildConfig.github("acme/app", { ref: "main", subdir: "web", token: "ghs_x" }).dockerfile("Dockerfile.prod").build();
    assert.deepEqual(request.context, { type: "git", remote: "https://github.com/acme/app.git", ref: "main", subdir: "web" });
    assert.equal(request.dockerfile, "Dockerfile.prod");
    assert.equal(request.gitAuthToken, "ghs_x");
    const other = BuildConfig.github("http://127.0.0.1:8080/o/r.git").build();
    assert.deepEqual(other.context, { type: "git", remote: "http://127.0.0.1:8080/o/r.git", ref: "HEAD" });
  });

  test("outputs: local, tar, the --output syntax, and tags joining an image output", async (t) => {
    const root = await workspace(t);
    const local = () => BuildConfig.local(join(root, "app"));
    assert.deepEqual(local().output({ type: "local", dest: join(root, "out") }).build().output, { type: "local", dest: join(root, "out") });
    assert.deepEqual(local().output(`type=tar,dest=${join(root, "image.tar")}`).build().output, { type: "tar", dest: join(root, "image.tar") });
    assert.deepEqual(local().tag("r:5000/a").output("type=image,push=true,registry.insecure=true").build().output, {
      type: "image",
      names: ["r:5000/a"],
      push: true,
      insecure: true,
    });
    assert.deepEqual(local().tag("r/a:1").output({ type: "image", names: ["r/a:2"], push: false }).build().output, {
      type: "image",
      names: ["r/a:1", "r/a:2"],
      push: false,
    });
    assert.deepEqual(local().tag("app:dev").build().output, { type: "image", names: ["app:dev"], push: false });
  });

  test("every build() returns a fresh request, and secrets files are read at build()", async (t) => {
    const root = await workspace(t);
    const config = BuildConfig.local(join(root, "app")).secretFromFile("npmrc", join(root, "npmrc")).buildArg("A", "1");
    const first = config.build();
    first.buildArgs!.A = "changed";
    await writeFile(join(root, "npmrc"), "rotated");
    const second = config.build();
    assert.deepEqual(second.buildArgs, { A: "1" });
    assert.equal(second.secrets?.npmrc?.toString(), "rotated");
  });

  test("invalid options are refused at once, naming the method", async (t) => {
    const root = await workspace(t);
    const local = () => BuildConfig.local(join(root, "app"));
    rejects(() => local().platform("amd64"), "platform()", /expected os\/arch/);
    rejects(() => local().tag("Bad Name"), "tag()", /not a valid image name/);
    rejects(() => local().target("a b"), "target()", /not a stage name/);
    rejects(() => local().provenance("full" as "max"), "provenance()", /expected min or max/);
    rejects(() => local().buildArg("A B", "x"), "buildArg()", /without spaces/);
    rejects(() => local().label("", "x"), "label()", /key/);
    rejects(() => local().secret("GIT_AUTH_TOKEN", "x"), "secret()", /reserved for git/);
    rejects(() => local().secret("a/b", "x"), "secret()", /may only contain/);
    rejects(() => local().cacheFrom({ type: "inline" }), "cacheFrom()", /export-only/);
    rejects(() => local().cacheFrom("type=registry,ref=r/a,mode=max"), "cacheFrom()", /only applies to cache exports/);
    rejects(() => local().cacheTo("type=registry"), "cacheTo()", /needs ref/);
    rejects(() => local().cacheTo({ type: "registry", attrs: { ref: "r/a", mode: "all" } }), "cacheTo()", /mode must be min or max/);
    rejects(() => local().cacheTo({ type: "local", attrs: {} }), "cacheTo()", /type=local needs dest=DIR/);
    rejects(() => local().cacheTo("type=gha,scope=x"), "cacheTo()", /unsupported cache type "gha"/);
    rejects(() => local().output("type=oci,dest=x"), "output()", /unsupported type "oci"/);
    rejects(() => local().output("type=local"), "output()", /needs dest=DIR/);
    rejects(() => local().output({ type: "local", dest: "-" }), "output()", /needs a directory/);
    rejects(() => local().registryAuth("r:5000", "u", ""), "registryAuth()", /must not be empty/);
    rejects(() => BuildConfig.github("https://x-access-token:ghs_secret@github.com/a/b"), "github()", /must not contain credentials/);
    rejects(() => BuildConfig.github("ftp://host/a/b"), "github()", /only https/);
    rejects(() => BuildConfig.github("acme/app", { ref: "a b" }), "github() ref", /not a valid ref/);
    rejects(() => BuildConfig.github("acme/app", { subdir: "../etc" }), "github() subdir", /inside the repository/);
  });

  test("build() checks how the options fit together and what they point at", async (t) => {
    const root = await workspace(t);
    const local = () => BuildConfig.local(join(root, "app"));
    rejects(() => local().push().build(), "push()", /push\(\) needs at least one tag\(\)/);
    rejects(() => local().output("type=image,push=true").build(), "output()", /pushing needs at least one tag\(\)/);
    rejects(() => local().push().output({ type: "local", dest: "out" }).build(), "push()", /cannot be combined with output\(\) type=local/);
    rejects(() => local().tag("a").output({ type: "tar", dest: "x.tar" }).build(), "tag()", /only applies to image outputs/);
    rejects(() => BuildConfig.local(join(root, "missing")).build(), "local()", /not a directory/);
    rejects(() => local().dockerfile(join(root, "nope", "Dockerfile")).build(), "dockerfile()", /no such file/);
    rejects(() => local().secretFromFile("x", join(root, "missing")).build(), "secretFromFile()", /cannot read .*missing \(ENOENT\)/);
    rejects(() => BuildConfig.local(join(root, "app"), { env: {} }).secretFromEnv("x", "NOPE").build(), "secretFromEnv()", /NOPE is not set/);
  });

  test("error messages never contain secret values", async (t) => {
    const root = await workspace(t);
    for (const run of [
      () => BuildConfig.github("https://u:ghs_supersecret@github.com/a/b"),
      () => BuildConfig.local(join(root, "app")).registryAuth("bad host", "u", "ghs_supersecret"),
    ]) {
      assert.throws(run, (error: Error) => !error.message.includes("ghs_supersecret"));
    }
  });
});

describe("BuildConfig → SolveRequest on the wire, for paths only a standalone buildkitd takes", () => {
  test("a multi-platform push: one image exporter pushing all names, both platforms in the frontend attrs", async (t) => {
    const root = await workspace(t);
    const config = BuildConfig.local(join(root, "app"))
      .platform("linux/amd64,linux/arm64")
      .tag("registry.example:5000/app:1", "registry.example:5000/app:latest")
      .push();
    const wire = onTheWire(config);
    assert.equal(wire.FrontendAttrs.platform, "linux/amd64,linux/arm64");
    const attrs = { name: "registry.example:5000/app:1,registry.example:5000/app:latest", push: "true" };
    assert.equal(wire.Exporter, "image");
    assert.deepEqual(wire.ExporterAttrs, attrs);
    assert.deepEqual(wire.Exporters.map((e) => [e.Type, e.Attrs]), [["image", attrs]]);
    // The Engine 20.10 image store cannot hold a manifest list: refused before anything is sent, saying why.
    assert.throws(() => onTheWire(config, engine2010), (error: unknown) => {
      assert.ok(error instanceof UnsupportedByDaemonError);
      assert.match(error.message, /cannot export a multi-platform image/);
      return true;
    });
  });

  test("a registry cache export with mode=max, plus an inline one and a registry import", async (t) => {
    const root = await workspace(t);
    const config = BuildConfig.local(join(root, "app"))
      .cacheFrom("registry.example/app:cache")
      .cacheTo("type=registry,ref=registry.example/app:cache,mode=max")
      .cacheTo({ type: "inline" })
      .tag("registry.example/app:1")
      .push();
    const wire = onTheWire(config);
    assert.deepEqual(
      wire.Cache?.Exports.map((e) => [e.Type, e.Attrs]),
      [
        ["registry", { ref: "registry.example/app:cache", mode: "max" }],
        ["inline", {}],
      ],
    );
    assert.deepEqual(wire.Cache?.Imports.map((e) => [e.Type, e.Attrs]), [["registry", { ref: "registry.example/app:cache" }]]);
    assert.deepEqual(JSON.parse(wire.FrontendAttrs["cache-imports"] ?? "null"), [{ Type: "registry", Attrs: { ref: "registry.example/app:cache" } }]);
    // Engine 20.10 (graphdriver store) only exports inline caches; BuildKit < 0.11 only one cache export.
    assert.throws(() => onTheWire(config, engine2010), /can only export an inline cache \(type=inline\), not type=registry/);
    const twoExports = BuildConfig.local(join(root, "app")).cacheTo("type=registry,ref=r/a:c").cacheTo("type=inline");
    assert.throws(() => onTheWire(twoExports, { ...buildkitd, buildkitVersion: "v0.10.6" }), /exports one cache per build; 2 were asked for/);
  });
});
