import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { DockerfileParser } from "dockerfile-ast";
import { parseDockerfile } from "../../../src/buildkit/failure/dockerfile-instructions.js";
import { BACKTICK_ESCAPE, MULTI_STAGE, UNNAMED_STAGES } from "./dockerfiles.js";

/**
 * Our Dockerfile scan (what a failing step's lines are quoted from) against `dockerfile-ast`, the parser behind the
 * Dockerfile language server: every instruction, its keyword and its 1-based line range must be the same, on
 * generated files (continuations, empty and comment lines inside them, heredocs, parser directives, the escape
 * directive, a BOM, CRLF) and on the repository's own Dockerfiles. Heredocs follow the frontend's rule: a shell word of
 * its own starting `<<`, on RUN, COPY, ADD (also after ONBUILD), not in exec form.
 */

type Ranges = string[];

function ours(text: string): Ranges {
  return parseDockerfile(text).instructions.map((i) => `${i.keyword} ${i.startLine}-${i.endLine}`);
}

function theirs(text: string): Ranges {
  return DockerfileParser.parse(text)
    .getInstructions()
    .map((i) => {
      const { start, end } = i.getRange();
      return `${i.getKeyword().toUpperCase()} ${start.line + 1}-${end.line + 1}`;
    });
}

const KEYWORDS = ["FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "LABEL", "USER", "EXPOSE", "CMD", "ENTRYPOINT"];
const word = fc.constantFrom("alpine", "echo", "hi", "a=b", "/src", "&&", "make", "--from=build", "'quoted'", '"x y"', "$VAR", "8080");

interface Generated {
  escape: string;
  lines: string[];
}

/** One instruction as physical lines: its words split over continuation lines, with blanks and comments between. */
const instruction = (escape: string) =>
  fc
    .record({
      keyword: fc.constantFrom(...KEYWORDS),
      lower: fc.boolean(),
      indent: fc.constantFrom("", "", "  ", "\t"),
      words: fc.array(word, { minLength: 1, maxLength: 6 }),
      breaks: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
      afterEscape: fc.constantFrom("", "", " ", "\t "),
      inside: fc.array(fc.constantFrom("", "  ", "# comment inside", "  # indented comment"), { maxLength: 2 }),
    })
    .map(({ keyword, lower, indent, words, breaks, afterEscape, inside }) => {
      const lines: string[] = [];
      let current = `${indent}${lower ? keyword.toLowerCase() : keyword}`;
      words.forEach((w, i) => {
        if (i > 0 && breaks[i]) {
          lines.push(`${current} ${escape}${afterEscape}`);
          lines.push(...inside);
          current = `  ${w}`;
        } else current += ` ${w}`;
      });
      lines.push(current);
      return lines;
    });

/** A heredoc, or text that only looks like one (`cat<<EOF`, `'<<EOF'`, exec form): then its body lines are instructions. */
const heredoc = fc
  .record({
    keyword: fc.constantFrom("RUN", "COPY", "ONBUILD RUN", "run"),
    dash: fc.boolean(),
    quote: fc.constantFrom("", "'", '"'),
    name: fc.constantFrom("EOF", "END", "SCRIPT"),
    form: fc.constantFrom("word", "word", "word", "glued", "quoted", "exec"),
    body: fc.array(fc.constantFrom("echo one", "FROM not-an-instruction", "", "# not a comment", "\tindented", "EOFX"), { maxLength: 4 }),
  })
  .map(({ keyword, dash, quote, name, form, body }) => {
    const word = `<<${dash ? "-" : ""}${quote}${name}${quote}`;
    const opener =
      form === "glued" ? `${keyword} cat${word}` : form === "quoted" ? `${keyword} echo '${word}'` : form === "exec" ? `${keyword} ["cat", "${word}"]` : `${keyword} ${word}`;
    return [`${opener}${keyword.endsWith("COPY") ? " /dest" : ""}`, ...body, `${dash ? "\t" : ""}${name}`];
  });

const dockerfile: fc.Arbitrary<Generated> = fc
  .record({
    directives: fc.subarray(["# syntax=docker/dockerfile:1", "# check=skip=all"]),
    escape: fc.constantFrom("\\", "\\", "`"),
    seed: fc.array(fc.record({ kind: fc.constantFrom("instruction", "instruction", "heredoc", "blank", "comment"), n: fc.nat() }), { minLength: 1, maxLength: 10 }),
  })
  .chain(({ directives, escape, seed }) =>
    fc
      .tuple(...seed.map((s) => (s.kind === "instruction" ? instruction(escape) : s.kind === "heredoc" ? heredoc : fc.constant(s.kind === "blank" ? [""] : ["# a comment"]))))
      .map((blocks) => ({
        escape,
        lines: [...directives, ...(escape === "`" ? ["# escape=`"] : []), "FROM scratch", ...blocks.flat()],
      })),
  )
  .chain((generated) => fc.boolean().map((bom) => (bom ? { ...generated, lines: [`\uFEFF${generated.lines[0]}`, ...generated.lines.slice(1)] } : generated)));

test("1,000 generated Dockerfiles: the same instructions and line ranges as dockerfile-ast", (t) => {
  const seen = { instructions: 0, multiLine: 0, heredocs: 0, backtick: 0, bom: 0, crlf: 0 };
  fc.assert(
    fc.property(dockerfile, fc.boolean(), ({ escape, lines }, crlf) => {
      const text = lines.join(crlf ? "\r\n" : "\n");
      const mine = ours(text);
      assert.deepEqual(mine, theirs(text), text);
      seen.instructions += mine.length;
      seen.multiLine += mine.filter((r) => !/ (\d+)-\1$/.test(r)).length;
      seen.heredocs += parseDockerfile(text).instructions.filter((i) => i.heredocs.length > 0).length;
      if (escape === "`") seen.backtick++;
      if (text.startsWith("\uFEFF")) seen.bom++;
      if (crlf) seen.crlf++;
    }),
    { numRuns: 1_000 },
  );
  t.diagnostic(JSON.stringify(seen));
  for (const [what, n] of Object.entries(seen)) assert.ok(n > 100, `only ${n} ${what}`);
});

test("difference: a lone carriage return is not a line break for BuildKit (it splits on \\n), but is for dockerfile-ast", () => {
  assert.deepEqual(ours("FROM a\rRUN b"), ["FROM 1-1"]);
  assert.deepEqual(theirs("FROM a\rRUN b"), ["FROM 1-1", "RUN 2-2"]);
});

test("the repository's Dockerfiles and the failure fixtures: the same ranges as dockerfile-ast", async () => {
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  const files = [await readFile(`${root}Dockerfile`, "utf8"), await readFile(`${root}examples/hello/Dockerfile`, "utf8"), MULTI_STAGE, UNNAMED_STAGES, BACKTICK_ESCAPE];
  for (const text of files) {
    const mine = ours(text);
    assert.ok(mine.length > 0);
    assert.deepEqual(mine, theirs(text), text);
  }
});
