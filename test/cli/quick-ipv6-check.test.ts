import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import { openTransport } from "../../src/buildkit/transport/open-transport.js";
import { answerIsIPv6WithoutPattern } from "../../src/cli/quick-ipv6-check.js";

test("the library leaves net.isIPv6 alone; the CLI's quick one answers every input as Node's own check does", async () => {
  const nodeIsIPv6 = net.isIPv6;
  await openTransport("tcp://127.0.0.1:1234", undefined, {});
  assert.equal(net.isIPv6, nodeIsIPv6, "an application embedding the library keeps Node's built-ins");
  answerIsIPv6WithoutPattern();
  assert.notEqual(net.isIPv6, nodeIsIPv6);
  const inputs: unknown[] = [
    "127.0.0.1",
    "localhost",
    "buildkitd.internal",
    "",
    "::",
    "::1",
    "fe80::1%eth0",
    "2001:db8::8a2e:370:7334",
    "::ffff:192.0.2.1",
    "1:2:3:4:5:6:7:8:9",
    "not:an:address",
    ":",
    "[::1]",
    undefined,
    null,
    42,
    { toString: () => "::1" },
  ];
  for (const input of inputs) assert.equal(net.isIPv6(input as string), nodeIsIPv6(input as string), String(input));
  const patched = net.isIPv6;
  answerIsIPv6WithoutPattern();
  assert.equal(net.isIPv6, patched, "installed once per process");
});
