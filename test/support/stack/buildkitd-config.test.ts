import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { parse } from "smol-toml";
import { SHIPPED_BUILDKITD_CONFIG, configWithCni } from "./buildkitd.js";

// smol-toml builds null-prototype tables; compare plain data.
const plain = (text: string) => JSON.parse(JSON.stringify(parse(text))) as Record<string, unknown>;

test("the stack's buildkitd config is the shipped deploy/buildkitd.toml plus only the CNI network", async () => {
  const shipped = plain(await readFile(SHIPPED_BUILDKITD_CONFIG, "utf8"));
  const derived = plain(await configWithCni("/state/cni.conflist"));
  const worker = (config: typeof shipped) => (config.worker as Record<string, Record<string, unknown>>).oci ?? {};
  const { networkMode, cniConfigPath, cniBinaryPath, cniPoolSize, ...ociRest } = worker(derived);
  assert.deepEqual({ networkMode, cniConfigPath, cniBinaryPath, cniPoolSize }, {
    networkMode: "cni",
    cniConfigPath: "/state/cni.conflist",
    cniBinaryPath: "/usr/lib/cni",
    cniPoolSize: 2,
  });
  assert.deepEqual(ociRest, worker(shipped));
  const withoutOci = (config: typeof shipped) => ({ ...config, worker: { ...(config.worker as object), oci: undefined } });
  assert.deepEqual(withoutOci(derived), withoutOci(shipped));
  // What the deployment relies on: the compose registry is plain http, the socket belongs to the app's user.
  assert.deepEqual((shipped.registry as Record<string, unknown>)["registry:5000"], { http: true });
  assert.deepEqual(shipped.grpc, { address: ["unix:///run/buildkit/buildkitd.sock"], uid: 1000, gid: 1000 });
});
