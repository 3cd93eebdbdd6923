import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { classifyPushError, classifySolveError, stripCredentials } from "../../../src/buildkit/failure/classify.js";
import type { ClassifyContext } from "../../../src/buildkit/failure/classify.js";
import {
  BuildCancelledError,
  BuildKitErrorCode,
  ConnectionError,
  DockerfileChecksFailedError,
  DockerfileParseError,
  GitCloneRefusedError,
  InvalidRequestError,
  PushRefusedError,
  SolveError,
  StepFailedError,
  UnsupportedByDaemonError,
} from "../../../src/buildkit/errors.js";
import { ProgressTracker } from "../../../src/buildkit/progress/tracker.js";
import { Redactor } from "../../../src/buildkit/redact.js";
import { protos } from "../../../src/buildkit/proto.js";
import { loadStatusFixture, log, response, ts, vertex } from "../progress/status-messages.js";
import { FIXTURE_FAILED_RUN } from "./dockerfiles.js";
import { realGrpcError, statusDetails } from "./grpc-failure.js";

function context(overrides: Partial<ClassifyContext> = {}): ClassifyContext {
  return { tracker: new ProgressTracker(), redactor: new Redactor(), ...overrides };
}

/** A tracker that saw one failing vertex, with the given log lines. */
function failedTracker(name: string, error: string, lines: string[] = []): ProgressTracker {
  const tracker = new ProgressTracker();
  tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:f", name, started: ts(0) })] }));
  if (lines.length) tracker.ingest(response({ logs: lines.map((l) => log("sha256:f", `${l}\n`, 2)) }));
  tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:f", name, started: ts(0), completed: ts(40), error })] }));
  tracker.finish();
  return tracker;
}

describe("classifySolveError: failed steps", () => {
  it("types a failing RUN on Engine 20.10 (no details): exit code from the text, step, log tail and lines", async () => {
    const { messages, error } = loadStatusFixture("engine-20.10-failed-run");
    assert.equal(error, "executor failed running [/bin/sh -c echo about-to-fail &&     echo to-stderr >&2 &&     exit 3]: exit code: 3");
    const tracker = new ProgressTracker();
    for (const m of messages) tracker.ingest(m);
    tracker.finish();
    const err = await realGrpcError(grpc.status.UNKNOWN, error ?? "");

    const typed = classifySolveError(err, context({ tracker, dockerfile: { path: "Dockerfile", text: FIXTURE_FAILED_RUN } }));
    assert.ok(typed instanceof StepFailedError);
    assert.equal(typed.code, BuildKitErrorCode.StepFailed);
    assert.equal(typed.exitCode, 3);
    assert.equal(typed.step, "[3/3] RUN echo about-to-fail &&     echo to-stderr >&2 &&     exit 3");
    assert.deepEqual(typed.logTail, ["about-to-fail", "to-stderr"]);
    assert.deepEqual(typed.location, { file: "Dockerfile", startLine: 3, endLine: 5 });
    assert.equal(typed.message, "step [3/3] RUN echo about-to-fail &&     echo to-stderr >&2 &&     exit 3 failed with exit code 3");
    assert.equal(typed.cause, err);
  });

  it("prefers the daemon's details (buildkitd) for exit code and location", async () => {
    const tracker = failedTracker("[build 3/3] RUN make", 'process "/bin/sh -c make" did not complete successfully: exit code: 2');
    const err = await realGrpcError(
      grpc.status.UNKNOWN,
      'process "/bin/sh -c make" did not complete successfully: exit code: 2',
      statusDetails(2, "x", [
        { type: "errdefs.Source+json", json: { info: { filename: "docker/app.Dockerfile" }, ranges: [{ start: { line: 9 }, end: { line: 9 } }, { start: { line: 10 }, end: { line: 10 } }] } },
        { type: "gatewayapi.ExitMessage+json", json: { Code: 2 } },
      ]),
    );
    const typed = classifySolveError(err, context({ tracker, dockerfile: { path: "docker/app.Dockerfile" } }));
    assert.ok(typed instanceof StepFailedError);
    assert.equal(typed.exitCode, 2);
    assert.deepEqual(typed.location, { file: "docker/app.Dockerfile", startLine: 9, endLine: 10 });
  });

  it("types a COPY of a missing file as a failed step without exit code", () => {
    // Engine 20.10.24, `COPY missing.txt /` in a FROM scratch Dockerfile.
    const text = 'failed to compute cache key: "/missing.txt" not found: not found';
    const tracker = failedTracker("[1/1] COPY missing.txt /", text);
    const typed = classifySolveError(new Error(text), context({ tracker, dockerfile: { path: "Dockerfile", text: "FROM scratch\nCOPY missing.txt /\n" } }));
    assert.ok(typed instanceof StepFailedError);
    assert.equal(typed.exitCode, undefined);
    assert.equal(typed.message, `step [1/1] COPY missing.txt / failed: ${text}`);
    assert.deepEqual(typed.location, { file: "Dockerfile", startLine: 2, endLine: 2 });
  });

  it("a failed command is a step failure whatever words its command line contains", () => {
    const text = 'executor failed running [/bin/sh -c echo "failed to push x/y:z: 401 Unauthorized; failed to fetch remote a: exit status 128" && exit 4]: exit code: 4';
    const tracker = failedTracker('[2/2] RUN echo "failed to push x/y:z: 401 Unauthorized; failed to fetch remote a: exit status 128" && exit 4', text);
    const typed = classifySolveError(new Error(text), context({ tracker }));
    assert.ok(typed instanceof StepFailedError, typed.name);
    assert.equal(typed.exitCode, 4);
  });

  it("redacts secrets in the message, the step name and the log tail", () => {
    const secret = "npm_AbCdEf0123456789";
    const text = `executor failed running [/bin/sh -c NPM_TOKEN=${secret} npm ci]: exit code: 1`;
    const redactor = new Redactor([secret]);
    const tracker = new ProgressTracker({ redactor });
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:f", name: `[2/2] RUN NPM_TOKEN=${secret} npm ci`, started: ts(0) })] }));
    tracker.ingest(response({ logs: [log("sha256:f", `npm ERR! 401 token ${secret} rejected\n`)] }));
    tracker.ingest(response({ vertexes: [vertex({ digest: "sha256:f", name: `[2/2] RUN NPM_TOKEN=${secret} npm ci`, completed: ts(1), error: text })] }));
    const typed = classifySolveError(new Error(text), context({ tracker, redactor }));
    assert.ok(typed instanceof StepFailedError);
    assert.ok(!JSON.stringify({ m: typed.message, s: typed.step, l: typed.logTail }).includes(secret));
    assert.deepEqual(typed.logTail, ["npm ERR! 401 token *** rejected"]);
  });
});

describe("classifySolveError: Dockerfile errors (Engine 20.10.24 messages)", () => {
  const prefix = "failed to solve with frontend dockerfile.v0: failed to create LLB definition: ";

  it("unknown instruction, with the line from the message", () => {
    const typed = classifySolveError(
      new Error(`${prefix}dockerfile parse error line 3: unknown instruction: FROOM`),
      context({ dockerfile: { path: "sub/Dockerfile" } }),
    );
    assert.ok(typed instanceof DockerfileParseError);
    assert.equal(typed.message, "dockerfile parse error line 3: unknown instruction: FROOM");
    assert.deepEqual(typed.location, { file: "sub/Dockerfile", startLine: 3, endLine: 3 });
  });

  it("widens the line to the whole instruction when the Dockerfile text is known", () => {
    const typed = classifySolveError(
      new Error(`${prefix}dockerfile parse error line 1: FROM requires either one or three arguments`),
      context({ dockerfile: { path: "Dockerfile", text: "FROM a \\\n  b\nRUN true\n" } }),
    );
    assert.ok(typed instanceof DockerfileParseError);
    assert.deepEqual(typed.location, { file: "Dockerfile", startLine: 1, endLine: 2 });
  });

  it("unknown target stage and empty Dockerfile, without location", () => {
    for (const text of ["target stage nosuch could not be found", "the Dockerfile cannot be empty"]) {
      const typed = classifySolveError(new Error(prefix + text), context());
      assert.ok(typed instanceof DockerfileParseError, text);
      assert.equal(typed.message, text);
      assert.equal(typed.location, undefined);
    }
  });

  it("uses the Source detail when the daemon sends one", async () => {
    const err = await realGrpcError(
      grpc.status.UNKNOWN,
      "dockerfile parse error on line 4: unknown instruction: RUNN (did you mean run?)",
      statusDetails(2, "x", [{ type: "errdefs.Source+json", json: { info: { filename: "Dockerfile" }, ranges: [{ start: { line: 4 }, end: { line: 4 } }] } }]),
    );
    const typed = classifySolveError(err, context());
    assert.ok(typed instanceof DockerfileParseError);
    assert.deepEqual(typed.location, { file: "Dockerfile", startLine: 4, endLine: 4 });
  });

  it("a base image that cannot be resolved is a solve error naming the image", () => {
    const text = `${prefix}127.0.0.1:5055/nosuch:latest: not found`;
    const tracker = failedTracker("[internal] load metadata for 127.0.0.1:5055/nosuch:latest", "127.0.0.1:5055/nosuch:latest: not found");
    const typed = classifySolveError(new Error(text), context({ tracker }));
    assert.ok(typed instanceof SolveError);
    assert.equal(typed.message, "could not resolve the base image 127.0.0.1:5055/nosuch:latest: not found");
  });
});

describe("classifySolveError: Dockerfile build checks (buildkitd v0.24.0 message)", () => {
  it("a lint violation with BUILDKIT_DOCKERFILE_CHECK error=true names its rules, typed as a Dockerfile error", () => {
    const typed = classifySolveError(
      new Error("failed to solve: lint violation found for rules: LegacyKeyValueFormat, FromAsCasing"),
      context({ dockerfile: { path: "Dockerfile" } }),
    );
    assert.ok(typed instanceof DockerfileChecksFailedError);
    assert.ok(typed instanceof DockerfileParseError, "a Dockerfile error for callers that know only those");
    assert.equal(typed.code, BuildKitErrorCode.DockerfileParse);
    assert.deepEqual(typed.rules, ["LegacyKeyValueFormat", "FromAsCasing"]);
    assert.equal(
      typed.message,
      "the Dockerfile's build checks found violations of LegacyKeyValueFormat, FromAsCasing; with BUILDKIT_DOCKERFILE_CHECK error=true any finding fails the build before anything is exported",
    );
    assert.equal(typed.transient, false);
  });
});

describe("classifySolveError: git context", () => {
  const remote = "http://127.0.0.1:40529/owner/repo.git";
  // Engine 20.10.24, `docker build --secret id=GIT_AUTH_TOKEN,… http://…/owner/repo.git#main` against a server
  // answering 401 to every request.
  const refused = `failed to solve with frontend dockerfile.v0: failed to read dockerfile: failed to load cache key: failed to fetch remote ${remote}: exit status 128`;

  it("a refused clone says which remote and what to check", () => {
    const tracker = failedTracker(`[internal] load git source ${remote}#main`, `failed to fetch remote ${remote}: exit status 128`, [
      "Initialized empty Git repository in /tmp/devstack/docker/overlay2/w9baefayi5l9xw7tm5b5w7mui/diff/",
      "fatal: could not read Username for 'http://127.0.0.1:40529': terminal prompts disabled",
    ]);
    const typed = classifySolveError(new Error(refused), context({ tracker, gitRemote: remote }));
    assert.ok(typed instanceof GitCloneRefusedError);
    assert.equal(typed.remote, remote);
    assert.equal(typed.failure, "refused", "a refused token: the caller may drop it and fetch again with a fresh one");
    assert.equal(
      typed.message,
      `could not clone ${remote}: the daemon was refused access (check the token has contents:read on this repository, and that the repository exists)`,
    );
  });

  it("an unreachable git host is told apart from a refusal", () => {
    const down = "http://127.0.0.1:1/owner/repo.git";
    const tracker = failedTracker(`[internal] load git source ${down}#main`, `failed to fetch remote ${down}: exit status 128`, [
      "fatal: unable to access 'http://127.0.0.1:1/owner/repo.git/': Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server",
    ]);
    const typed = classifySolveError(new Error(refused.replace(remote, down)), context({ tracker }));
    assert.ok(typed instanceof GitCloneRefusedError);
    assert.equal(typed.failure, "unreachable");
    assert.equal(typed.message, `could not clone ${down}: the git host is unreachable from the daemon`);
  });

  // Engine 20.10.24 (BuildKit 0.8) and buildkitd v0.24.0 texts, from builds whose kept clone of the remote had a blob
  // deleted or overwritten (test/worker/damaged-git-clone.int.test.ts does that for real).
  for (const [label, error, lines] of [
    ["an object missing (Engine 20.10, git's log)", `failed to checkout remote ${remote}: exit status 255`, ["error: unable to read sha1 file of README.md (45b983be36b73c0788dc9cbcb76cbb80fc7bb057)"]],
    ["an object corrupt (buildkitd 0.24, in the error)", `failed to checkout remote ${remote}: git stderr:\nerror: inflate: data stream error (incorrect header check)\nfatal: loose object ca340d2cc3442f9e8799734296e17a364f89aaa5 (stored in /var/lib/buildkit/runc-overlayfs/snapshots/snapshots/430/fs/objects/ca/340d2cc3442f9e8799734296e17a364f89aaa5) is corrupt\n: exit status 128`, []],
  ] as const) {
    it(`the daemon's own clone damaged, ${label}: "damaged-cache", not a refusal`, () => {
      const tracker = failedTracker(`[internal] load git source ${remote}#main`, error, [...lines]);
      const typed = classifySolveError(new Error(`failed to solve with frontend dockerfile.v0: failed to read dockerfile: ${error}`), context({ tracker, gitRemote: remote }));
      assert.ok(typed instanceof GitCloneRefusedError);
      assert.equal(typed.failure, "damaged-cache", "the token is not to blame: the caller keeps it and clears the clone");
      assert.equal(
        typed.message,
        `could not clone ${remote}: the daemon's own clone of the repository is damaged (git objects missing or corrupt); it has to be cleared before the next build`,
      );
    });
  }

  it("never repeats credentials embedded in the remote URL", () => {
    const withToken = "http://x-access-token:sekrit999@127.0.0.1:1/owner/repo.git";
    const typed = classifySolveError(new Error(refused.replace(remote, withToken)), context());
    assert.ok(typed instanceof GitCloneRefusedError);
    assert.ok(!typed.message.includes("sekrit999"));
    assert.equal(typed.remote, "http://127.0.0.1:1/owner/repo.git");
  });
});

describe("classifySolveError: push, cancellation, connection, other", () => {
  it("a push refused with 401 is not transient", () => {
    // buildkitd v0.11.6 / Engine 20.10.24 text (push to a Basic-auth registry without creds; docs/buildkit-wire.md#registry-auth).
    const typed = classifySolveError(
      new Error("failed to push 127.0.0.1:5001/probe/auth:latest: unexpected status: 401 Unauthorized"),
      context({ tracker: failedTracker("exporting to image", "failed to push 127.0.0.1:5001/probe/auth:latest: unexpected status: 401 Unauthorized") }),
    );
    assert.ok(typed instanceof PushRefusedError);
    assert.equal(typed.registry, "127.0.0.1:5001");
    assert.equal(typed.transient, false);
    assert.match(typed.message, /^could not push to 127\.0\.0\.1:5001: failed to push .*401 Unauthorized \(check the registry credentials have push access/);
  });

  it("Engine push-API failures: auth is permanent, 5xx and unreachable are transient", () => {
    const redactor = new Redactor();
    // Engine 20.10.24 `docker push` to a registry answering 401 / 503, and to a closed port.
    const auth = classifyPushError(new Error("no basic auth credentials"), { registry: "127.0.0.1:5001", redactor });
    assert.equal(auth.transient, false);
    const unavailable = classifyPushError(new Error("received unexpected HTTP status: 503 Service Unavailable"), { registry: "127.0.0.1:5002", redactor });
    assert.equal(unavailable.transient, true);
    const down = classifyPushError(new Error('Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused'), { registry: "127.0.0.1:1", redactor });
    assert.equal(down.transient, true);
    assert.equal(down.registry, "127.0.0.1:1");
    assert.match(down.message, /retrying may help/);
  });

  it("an aborted signal or CANCELLED status is a cancellation, whatever the text", async () => {
    const controller = new AbortController();
    controller.abort("superseded by a newer push");
    const text = "executor failed running [/bin/sh -c sleep 30]: exit code: 137: context canceled: context canceled";
    const typed = classifySolveError(new Error(text), context({ signal: controller.signal }));
    assert.ok(typed instanceof BuildCancelledError);
    assert.equal(typed.reason, "superseded by a newer push");
    const cancelled = await realGrpcError(grpc.status.CANCELLED, "context canceled");
    assert.ok(classifySolveError(cancelled, context()) instanceof BuildCancelledError);
  });

  it("an unreachable daemon is a connection error naming the address", async () => {
    const Health = protos().health.grpc.health.v1.Health;
    const client = new Health("127.0.0.1:1", grpc.credentials.createInsecure());
    const err = await new Promise<grpc.ServiceError>((resolve, reject) =>
      client.Check({ service: "" }, { deadline: Date.now() + 10_000 }, (e) => (e ? resolve(e) : reject(new Error("connected")))),
    );
    client.close();
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    const typed = classifySolveError(err, context({ address: "tcp://127.0.0.1:1" }));
    assert.ok(typed instanceof ConnectionError);
    assert.equal(typed.address, "tcp://127.0.0.1:1");
    assert.match(typed.message, /^cannot reach the BuildKit daemon at tcp:\/\/127\.0\.0\.1:1: /);
  });

  it("a missing frontend capability is reported as unsupported by the daemon", async () => {
    const err = await realGrpcError(
      grpc.status.UNKNOWN,
      "unsupported frontend capability moby.buildkit.frontend.contexts",
      statusDetails(2, "x", [{ type: "errdefs.FrontendCap+json", json: { name: "moby.buildkit.frontend.contexts" } }]),
    );
    const typed = classifySolveError(err, context());
    assert.ok(typed instanceof UnsupportedByDaemonError);
    assert.equal(typed.feature, "moby.buildkit.frontend.contexts");
  });

  it("anything else is a SolveError with the daemon's text, and typed errors pass through", async () => {
    // Engine 20.10.24 / buildkitd v0.11.6 text for a Status call on an unknown ref (docs/buildkit-wire.md#status-stream).
    const err = await realGrpcError(grpc.status.UNKNOWN, "no such job 4kz1vxm0p0o6w1kq2hrmbd8t3");
    const typed = classifySolveError(err, context());
    assert.ok(typed instanceof SolveError);
    assert.equal(typed.message, "no such job 4kz1vxm0p0o6w1kq2hrmbd8t3");
    const already = new InvalidRequestError("no tags to push");
    assert.equal(classifySolveError(already, context()), already);
  });
});

describe("stripCredentials", () => {
  it("removes user info from every URL in a text", () => {
    assert.equal(
      stripCredentials("fetch https://x-access-token:abc@github.com/o/r.git and git://u@h/x, keep a@b"),
      "fetch https://github.com/o/r.git and git://h/x, keep a@b",
    );
  });
});
