import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseStepName } from "../../../src/buildkit/progress/step-name.js";

describe("parseStepName", () => {
  // Names as printed by Docker Engine 20.10.24 (`/usr/bin/docker build --progress=plain`).
  it("splits stage, position and text", () => {
    assert.deepEqual(parseStepName("[build 4/5] RUN echo building 1 &&     cat hello.txt > out.txt"), {
      stage: "build",
      index: 4,
      total: 5,
      internal: false,
      text: "RUN echo building 1 &&     cat hello.txt > out.txt",
    });
    assert.deepEqual(parseStepName("[stage-1 2/3] COPY --from=a /a /a"), {
      stage: "stage-1",
      index: 2,
      total: 3,
      internal: false,
      text: "COPY --from=a /a /a",
    });
  });

  it("handles names without a stage (single-stage Dockerfiles)", () => {
    assert.deepEqual(parseStepName("[2/4] ADD a.txt /a.txt"), { index: 2, total: 4, internal: false, text: "ADD a.txt /a.txt" });
  });

  it("handles the platform prefix of multi-platform builds", () => {
    assert.deepEqual(parseStepName("[linux/arm64 build 2/3] RUN make"), {
      platform: "linux/arm64",
      stage: "build",
      index: 2,
      total: 3,
      internal: false,
      text: "RUN make",
    });
    assert.deepEqual(parseStepName("[linux/amd64 1/2] FROM docker.io/library/alpine:latest"), {
      platform: "linux/amd64",
      index: 1,
      total: 2,
      internal: false,
      text: "FROM docker.io/library/alpine:latest",
    });
    assert.equal(parseStepName("[linux/amd64 internal] load metadata for docker.io/library/alpine:latest").internal, true);
  });

  it("marks [internal] vertexes and leaves other names as they are", () => {
    assert.deepEqual(parseStepName("[internal] load build definition from Dockerfile"), {
      internal: true,
      text: "load build definition from Dockerfile",
    });
    assert.deepEqual(parseStepName("exporting to image"), { internal: false, text: "exporting to image" });
    assert.deepEqual(parseStepName("FROM docker.io/library/nosuch:latest"), {
      internal: false,
      text: "FROM docker.io/library/nosuch:latest",
    });
    assert.deepEqual(parseStepName("[auth] sharing credentials for 127.0.0.1:5001"), {
      internal: false,
      text: "sharing credentials for 127.0.0.1:5001",
    });
  });
});
