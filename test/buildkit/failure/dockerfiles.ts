/**
 * Dockerfiles built on Docker Engine 20.10.24 (`/usr/bin/docker build --progress=plain`), with the step names
 * the daemon printed for them, for the locate-step and classify tests.
 */

export const MULTI_STAGE = [
  "# syntax comment is not a directive here",
  "ARG BASE=127.0.0.1:5055/busybox:latest",
  "FROM --platform=linux/amd64 ${BASE} AS build",
  "ARG VERSION=1",
  "ENV A=b",
  "WORKDIR /src",
  "# a comment",
  "COPY hello.txt .",
  "RUN echo building $VERSION && \\",
  "    # comment inside continuation",
  "",
  "    cat hello.txt > out.txt",
  "run echo lower",
  "",
  "FROM scratch",
  "COPY --from=build /src/out.txt /out.txt",
  "LABEL x=y",
  "",
  "FROM build AS test",
  "RUN echo test stage",
  "",
].join("\n");

export const MULTI_STAGE_STEPS: Array<[name: string, startLine: number, endLine: number]> = [
  ["[build 1/5] FROM 127.0.0.1:5055/busybox:latest", 3, 3],
  ["[build 2/5] WORKDIR /src", 6, 6],
  ["[build 3/5] COPY hello.txt .", 8, 8],
  ["[build 4/5] RUN echo building 1 &&     cat hello.txt > out.txt", 9, 12],
  ["[build 5/5] RUN echo lower", 13, 13],
  ["[test 1/1] RUN echo test stage", 20, 20],
];

export const UNNAMED_STAGES = [
  "FROM 127.0.0.1:5055/busybox:latest AS a",
  "RUN echo a > /a",
  "",
  "FROM 127.0.0.1:5055/busybox:latest",
  "ENV X=1",
  "COPY --from=a /a /a",
  "RUN \\",
  "  cat /a",
  "",
  "FROM scratch",
  "COPY --from=1 /a /b",
  "",
].join("\n");

export const UNNAMED_STAGES_STEPS: Array<[name: string, startLine: number, endLine: number]> = [
  ["[a 1/2] FROM 127.0.0.1:5055/busybox:latest", 1, 1],
  ["[a 2/2] RUN echo a > /a", 2, 2],
  ["[stage-1 2/3] COPY --from=a /a /a", 6, 6],
  ["[stage-1 3/3] RUN   cat /a", 7, 8],
  ["[stage-2 1/1] COPY --from=1 /a /b", 11, 11],
];

export const SINGLE_STAGE = [
  "FROM 127.0.0.1:5055/busybox:latest",
  "USER root",
  "ADD a.txt /a.txt",
  "EXPOSE 80",
  "workdir /w",
  "RUN cat /a.txt",
  'CMD ["sh"]',
  "",
].join("\n");

export const SINGLE_STAGE_STEPS: Array<[name: string, startLine: number, endLine: number]> = [
  ["[1/4] FROM 127.0.0.1:5055/busybox:latest", 1, 1],
  ["[2/4] ADD a.txt /a.txt", 3, 3],
  ["[3/4] WORKDIR /w", 5, 5],
  ["[4/4] RUN cat /a.txt", 6, 6],
];

export const FAILING_RUN = [
  "FROM 127.0.0.1:5055/busybox:latest AS build",
  "WORKDIR /w",
  "RUN echo about-to-fail && \\",
  "    echo line2 1>&2 && \\",
  "    exit 3",
  "",
].join("\n");

export const FAILING_RUN_STEP = "[3/3] RUN echo about-to-fail &&     echo line2 1>&2 &&     exit 3";

export const BACKTICK_ESCAPE = ["# escape=`", "", "FROM 127.0.0.1:5055/busybox:latest", "RUN echo one && `", "    echo two", "RUN echo C:\\path\\x", ""].join("\n");

export const BACKTICK_ESCAPE_STEPS: Array<[name: string, startLine: number, endLine: number]> = [
  ["[2/3] RUN echo one &&     echo two", 4, 5],
  ["[3/3] RUN echo C:\\path\\x", 6, 6],
];

/** The Dockerfile of the `engine-20.10-failed-run` status fixture (test/buildkit/progress/fixtures). */
export const FIXTURE_FAILED_RUN = [
  "FROM 127.0.0.1:5055/busybox:latest",
  "WORKDIR /w",
  "RUN echo about-to-fail && \\",
  "    echo to-stderr >&2 && \\",
  "    exit 3",
  "",
].join("\n");
