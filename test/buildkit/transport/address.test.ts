import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidRequestError } from "../../../src/buildkit/errors.js";
import { DEFAULT_DOCKER_SOCKET, formatAddress, parseAddress } from "../../../src/buildkit/transport/address.js";

test("tcp://host:port", () => {
  assert.deepEqual(parseAddress("tcp://buildkitd.internal:1234"), { scheme: "tcp", host: "buildkitd.internal", port: 1234 });
  assert.deepEqual(parseAddress("tcp://127.0.0.1:9999"), { scheme: "tcp", host: "127.0.0.1", port: 9999 });
});

test("unix:///path", () => {
  assert.deepEqual(parseAddress("unix:///run/buildkit/buildkitd.sock"), { scheme: "unix", path: "/run/buildkit/buildkitd.sock" });
});

test("docker-engine:// with and without a socket path", () => {
  assert.deepEqual(parseAddress("docker-engine:///tmp/d.sock"), { scheme: "docker-engine", socketPath: "/tmp/d.sock" });
  assert.deepEqual(parseAddress("docker-engine://"), { scheme: "docker-engine", socketPath: DEFAULT_DOCKER_SOCKET });
  assert.deepEqual(parseAddress("docker-engine:///"), { scheme: "docker-engine", socketPath: DEFAULT_DOCKER_SOCKET });
});

test("round-trips through formatAddress", () => {
  for (const a of ["tcp://10.0.0.1:1234", "unix:///run/buildkit/buildkitd.sock", "docker-engine:///var/run/docker.sock"]) {
    assert.equal(formatAddress(parseAddress(a)), a);
  }
});

test("rejects what is not an address, naming the accepted forms", () => {
  for (const bad of ["", "buildkitd:1234", "http://x:1", "tcp://host", "tcp://host:0", "tcp://host:70000", "tcp://h:1/path", "unix://relative.sock", "docker-engine://host/x.sock"]) {
    assert.throws(() => parseAddress(bad), InvalidRequestError, bad);
  }
  assert.throws(() => parseAddress("ssh://x"), /tcp:\/\/host:port, unix:\/\/\/.*docker-engine:\/\//);
});
