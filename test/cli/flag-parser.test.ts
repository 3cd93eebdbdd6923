import { test } from "node:test";
import assert from "node:assert/strict";
import { splitCsv, splitKeyValue } from "../../src/buildkit/build-options.js";
import { flagValue, flagValues, parseFlags } from "../../src/cli/flag-parser.js";
import type { FlagSpecs } from "../../src/cli/flag-parser.js";
import { UsageError } from "../../src/cli/usage-error.js";

const specs: FlagSpecs = {
  tag: { type: "string", short: "t", multiple: true },
  file: { type: "string", short: "f" },
  push: { type: "boolean" },
};

test("long, inline, short and attached forms; -- ends the flags", () => {
  const flags = parseFlags(["-t", "a", "--tag=b", "-tc", "--file", "-", "pos", "--push", "--", "--tag"], specs);
  assert.deepEqual(flagValues(flags, "tag"), ["a", "b", "c"]);
  assert.equal(flagValue(flags, "file"), "-");
  assert.deepEqual(flags.positionals, ["pos", "--tag"]);
  assert.ok(flags.booleans.has("push"));
  assert.ok(!parseFlags(["--push", "--push=false"], specs).booleans.has("push"));
  assert.equal(flagValue(parseFlags(["--file=-x"], specs), "file"), "-x", "an inline value may start with a dash");
});

test("errors are UsageErrors naming the flag", () => {
  assert.throws(() => parseFlags(["--nope"], specs), (e: unknown) => e instanceof UsageError && e.flag === "--nope");
  assert.throws(() => parseFlags(["--nope=1"], specs), (e: unknown) => e instanceof UsageError && e.flag === "--nope");
  assert.throws(() => parseFlags(["-x"], specs), (e: unknown) => e instanceof UsageError && e.flag === "-x");
  assert.throws(() => parseFlags(["--file"], specs), (e: unknown) => e instanceof UsageError && e.flag === "--file");
  assert.throws(() => parseFlags(["--file", "--push"], specs), /--file needs a value/);
  assert.throws(() => parseFlags(["-f", "a", "-f", "b"], specs), /--file may be given only once/);
  assert.throws(() => parseFlags(["--push=yes"], specs), /--push takes no value/);
  assert.throws(() => parseFlags(["--constructor"], specs), /unknown flag --constructor/);
});

test("docker-style CSV with quotes, key=value splitting", () => {
  assert.deepEqual(splitCsv('type=image,"name=a,b", push=true,'), ["type=image", "name=a,b", "push=true"]);
  assert.deepEqual(splitKeyValue("A=b=c"), ["A", "b=c"]);
  assert.deepEqual(splitKeyValue("A"), ["A", undefined]);
});
