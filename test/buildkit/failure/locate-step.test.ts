import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { locateStep } from "../../../src/buildkit/failure/locate-step.js";
import {
  BACKTICK_ESCAPE,
  BACKTICK_ESCAPE_STEPS,
  FAILING_RUN,
  FAILING_RUN_STEP,
  MULTI_STAGE,
  MULTI_STAGE_STEPS,
  SINGLE_STAGE,
  SINGLE_STAGE_STEPS,
  UNNAMED_STAGES,
  UNNAMED_STAGES_STEPS,
} from "./dockerfiles.js";

function check(dockerfile: string, steps: Array<[string, number, number]>) {
  for (const [name, startLine, endLine] of steps) {
    assert.deepEqual(locateStep(name, dockerfile, "ci/Dockerfile"), { file: "ci/Dockerfile", startLine, endLine }, name);
  }
}

describe("locateStep with step names from Docker Engine 20.10.24", () => {
  it("maps a multi-stage build (ARG/ENV not counted, --platform, comments and blank lines in a continuation, lowercase run)", () => {
    check(MULTI_STAGE, MULTI_STAGE_STEPS);
  });

  it("maps unnamed stages (stage-N) and stages whose FROM is another stage or scratch", () => {
    check(UNNAMED_STAGES, UNNAMED_STAGES_STEPS);
  });

  it("maps a single-stage build ([n/m] without stage name, lowercase workdir)", () => {
    check(SINGLE_STAGE, SINGLE_STAGE_STEPS);
  });

  it("maps the failing multi-line RUN to all its lines", () => {
    assert.deepEqual(locateStep(FAILING_RUN_STEP, FAILING_RUN, "Dockerfile"), { file: "Dockerfile", startLine: 3, endLine: 5 });
  });

  it("maps with the escape directive", () => {
    check(BACKTICK_ESCAPE, BACKTICK_ESCAPE_STEPS);
  });

  it("maps the implicit stage of COPY --from=<image> to that COPY", () => {
    // Engine 20.10.24 named the failing vertex of `COPY --from=nosuch /a /a` like this (no brackets).
    const dockerfile = "FROM scratch\nCOPY --from=nosuch /a /a\n";
    assert.deepEqual(locateStep("FROM docker.io/library/nosuch:latest", dockerfile, "Dockerfile"), {
      file: "Dockerfile",
      startLine: 2,
      endLine: 2,
    });
  });
});

describe("locateStep fallbacks", () => {
  it("falls back to the instruction text when the numbering does not fit (e.g. ONBUILD triggers)", () => {
    const dockerfile = ["FROM base-with-onbuild AS app", "COPY . /src", "RUN make", "RUN make install"].join("\n");
    // Two ONBUILD triggers would make the frontend count 6 steps.
    assert.deepEqual(locateStep("[app 6/6] RUN make install", dockerfile, "Dockerfile"), {
      file: "Dockerfile",
      startLine: 4,
      endLine: 4,
    });
  });

  it("uses the position, shifted by the surplus count, to choose between identical instructions", () => {
    const dockerfile = ["FROM base-with-two-onbuild-triggers AS app", "RUN make", "COPY . .", "RUN make"].join("\n");
    assert.equal(locateStep("[app 4/6] RUN make", dockerfile, "Dockerfile")?.startLine, 2);
    assert.equal(locateStep("[app 6/6] RUN make", dockerfile, "Dockerfile")?.startLine, 4);
    assert.equal(locateStep("[app 2/4] RUN make", dockerfile, "Dockerfile")?.startLine, 2, "count fits");
    assert.equal(locateStep("[app 4/4] RUN make", dockerfile, "Dockerfile")?.startLine, 4, "count fits");
  });

  it("refuses to guess when the text does not match the counted instruction and is ambiguous", () => {
    const dockerfile = ["FROM x", "RUN a", "RUN b"].join("\n");
    assert.equal(locateStep("[2/3] RUN something-else", dockerfile, "Dockerfile"), undefined);
  });

  it("returns undefined for internal vertexes, unknown stages and names that are not steps", () => {
    assert.equal(locateStep("[internal] load build definition from Dockerfile", MULTI_STAGE, "Dockerfile"), undefined);
    assert.equal(locateStep("[nosuch 1/1] RUN echo test stage", MULTI_STAGE, "Dockerfile")?.startLine, 20, "text still unique");
    assert.equal(locateStep("[nosuch 1/1] RUN not in the file", MULTI_STAGE, "Dockerfile"), undefined);
    assert.equal(locateStep("exporting to image", MULTI_STAGE, "Dockerfile"), undefined);
  });

  it("treats expanded build args in names as wildcards", () => {
    const dockerfile = ["FROM x", "ARG VERSION", 'RUN curl -fsSL "https://example.com/v${VERSION}/tool-$VERSION.tgz" | tar xz'].join("\n");
    assert.deepEqual(locateStep('[2/2] RUN curl -fsSL "https://example.com/v1.2.3/tool-1.2.3.tgz" | tar xz', dockerfile, "Dockerfile")?.startLine, 3);
  });

  it("ignores the platform prefix of multi-platform builds", () => {
    assert.deepEqual(locateStep("[linux/arm64 build 4/5] RUN echo building 1 &&     cat hello.txt > out.txt", MULTI_STAGE, "Dockerfile"), {
      file: "Dockerfile",
      startLine: 9,
      endLine: 12,
    });
  });

  it("matches FROM through a normalised image reference", () => {
    const dockerfile = ["FROM --platform=$BUILDPLATFORM golang:1.22 AS build", "RUN go build"].join("\n");
    assert.deepEqual(locateStep("[build 1/2] FROM docker.io/library/golang:1.22", dockerfile, "Dockerfile")?.startLine, 1);
  });
});
