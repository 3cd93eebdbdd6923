import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { decodeErrorDetails } from "../../../src/buildkit/failure/error-details.js";
import { realGrpcError, statusDetails } from "./grpc-failure.js";

const DOCKERFILE = "FROM busybox\nWORKDIR /w\nRUN echo about-to-fail && \\\n    exit 3\n";
const DIGEST = "sha256:fa24e9df8d6e1f7b8a0d0b5f0e4a7c8bd8f3f8f6bd5e2f8b6d4e0c1a2b3c4d5e";

// The detail set buildkitd v0.11.6 attached to a failing `RUN … exit 3` (docs/buildkit-wire.md#failing-step), shapes per docs/buildkit-wire.md#error-details.
const RUN_FAILURE = [
  { type: "stack.Stack+json", json: { frames: [{ Name: "main.main", File: "main.go", Line: 1 }], pid: 1 } },
  {
    type: "errdefs.Source+json",
    json: {
      info: { filename: "Dockerfile", data: Buffer.from(DOCKERFILE).toString("base64"), definition: { def: [] } },
      ranges: [{ start: { line: 3 }, end: { line: 3 } }, { start: { line: 4 }, end: { line: 4 } }],
    },
  },
  { type: "errdefs.Vertex+json", json: { digest: DIGEST } },
  { type: "gatewayapi.ExitMessage+json", json: { Code: 3 } },
];

describe("decodeErrorDetails", () => {
  it("reads source range, vertex and exit code from a real grpc-js error's trailer", async () => {
    const err = await realGrpcError(
      grpc.status.UNKNOWN,
      'process "/bin/sh -c echo about-to-fail &&     exit 3" did not complete successfully: exit code: 3',
      statusDetails(2, "process did not complete successfully", RUN_FAILURE),
    );
    assert.deepEqual(decodeErrorDetails(err), {
      sources: [{ filename: "Dockerfile", startLine: 3, endLine: 4, text: "RUN echo about-to-fail && \\\n    exit 3" }],
      vertexDigest: DIGEST,
      exitCode: 3,
    });
  });

  it("matches keys case-insensitively (0.8–0.10 send Line/Character)", async () => {
    const err = await realGrpcError(
      grpc.status.UNKNOWN,
      "dockerfile parse error line 2: unknown instruction: FROOM",
      statusDetails(2, "x", [
        {
          type: "errdefs.Source+json",
          json: { Info: { Filename: "build/Dockerfile" }, Ranges: [{ Start: { Line: 2, Character: 1 }, End: { Line: 2 } }] },
        },
      ]),
    );
    assert.deepEqual(decodeErrorDetails(err), { sources: [{ filename: "build/Dockerfile", startLine: 2, endLine: 2 }] });
  });

  it("reports a missing frontend capability", async () => {
    const err = await realGrpcError(
      grpc.status.UNKNOWN,
      "unsupported frontend capability moby.buildkit.frontend.contexts",
      statusDetails(2, "x", [{ type: "errdefs.FrontendCap+json", json: { name: "moby.buildkit.frontend.contexts" } }]),
    );
    assert.deepEqual(decodeErrorDetails(err), { sources: [], frontendCap: "moby.buildkit.frontend.contexts" });
  });

  it("returns empty details when the trailer is absent (Docker Engine 20.10)", async () => {
    const err = await realGrpcError(
      grpc.status.UNKNOWN,
      "executor failed running [/bin/sh -c exit 3]: exit code: 3",
    );
    assert.deepEqual(decodeErrorDetails(err), { sources: [] });
  });

  it("ignores undecodable values and things that are not gRPC errors", () => {
    const metadata = new grpc.Metadata();
    metadata.set("grpc-status-details-bin", Buffer.from([0xff, 0xff, 0xff]));
    assert.deepEqual(decodeErrorDetails({ metadata }), { sources: [] });
    const notJson = new grpc.Metadata();
    notJson.set(
      "grpc-status-details-bin",
      statusDetails(2, "x", [{ type: "errdefs.Vertex+json", json: "plain string, not an object" }]),
    );
    assert.deepEqual(decodeErrorDetails({ metadata: notJson }), { sources: [] });
    assert.deepEqual(decodeErrorDetails(new Error("plain")), { sources: [] });
    assert.deepEqual(decodeErrorDetails(undefined), { sources: [] });
    assert.deepEqual(decodeErrorDetails("text"), { sources: [] });
  });

  it("keeps distinct sources once and skips ranges without lines", () => {
    const source = { info: { filename: "Dockerfile" }, ranges: [{ start: { line: 5 }, end: { line: 5 } }] };
    const metadata = new grpc.Metadata();
    metadata.set(
      "grpc-status-details-bin",
      statusDetails(2, "x", [
        { type: "errdefs.Source+json", json: source },
        { type: "errdefs.Source+json", json: source },
        { type: "errdefs.Source+json", json: { info: { filename: "Dockerfile" }, ranges: [{}] } },
        { type: "errdefs.Source+json", json: { info: { filename: "other.Dockerfile" }, ranges: [{ start: { line: 1 }, end: { line: 2 } }] } },
      ]),
    );
    assert.deepEqual(decodeErrorDetails({ metadata }).sources, [
      { filename: "Dockerfile", startLine: 5, endLine: 5 },
      { filename: "other.Dockerfile", startLine: 1, endLine: 2 },
    ]);
  });
});
