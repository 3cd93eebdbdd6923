import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { protos } from "../../../src/buildkit/proto.js";
import { authService } from "../../../src/buildkit/session/auth-service.js";
import { healthService } from "../../../src/buildkit/session/health-service.js";
import { MAX_SECRET_BYTES, secretsService } from "../../../src/buildkit/session/secrets-service.js";
import type { SessionService } from "../../../src/buildkit/session/service.js";
import type { SecretsClient } from "../../../src/buildkit/generated/moby/buildkit/secrets/v1/Secrets.js";
import type { AuthClient } from "../../../src/buildkit/generated/moby/filesync/v1/Auth.js";
import type { HealthClient } from "../../../src/buildkit/generated/grpc/health/v1/Health.js";

// The services are served by a real grpc-js server on a unix socket and called by real grpc-js clients.
let dir: string;
let server: grpc.Server;
let target: string;
const services: SessionService[] = [
  healthService(),
  secretsService(new Map<string, string | Buffer>([["GIT_AUTH_TOKEN.git.example:8443", "tok"], ["npmrc", Buffer.from([0, 1, 2])]])),
  authService([{ host: "127.0.0.1:5001", username: "u", password: "p" }, { host: "docker.io", username: "hub", password: "hp" }]),
];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bkb-svc-"));
  server = new grpc.Server();
  for (const s of services) server.addService(s.definition, s.implementation);
  target = `unix://${join(dir, "s.sock")}`;
  await new Promise<void>((resolve, reject) => server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
});
after(async () => {
  server.forceShutdown();
  await rm(dir, { recursive: true, force: true });
});

function unary<Req, Res>(client: grpc.Client, method: string, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (r: Req, cb: (e: grpc.ServiceError | null, v?: Res) => void) => void>)[method]!.call(client, request, (err, value) =>
      err ? reject(err) : resolve(value as Res),
    );
  });
}

test("Health answers SERVING", async () => {
  const client = new (protos().health.grpc.health.v1.Health)(target, grpc.credentials.createInsecure()) as HealthClient;
  try {
    assert.deepEqual(await unary(client, "Check", {}), { status: "SERVING" });
  } finally {
    client.close();
  }
});

test("Secrets serves known ids byte for byte and answers NOT_FOUND for every other id", async () => {
  const client = new (protos().secrets.moby.buildkit.secrets.v1.Secrets)(target, grpc.credentials.createInsecure()) as SecretsClient;
  try {
    const got = await unary<object, { data: Buffer }>(client, "GetSecret", { ID: "GIT_AUTH_TOKEN.git.example:8443" });
    assert.equal(got.data.toString(), "tok");
    const bin = await unary<object, { data: Buffer }>(client, "GetSecret", { ID: "npmrc" });
    assert.deepEqual([...bin.data], [0, 1, 2]);
    for (const id of ["GIT_AUTH_TOKEN", "GIT_AUTH_HEADER", "GIT_AUTH_TOKEN.git.example", "GIT_AUTH_HEADER.git.example:8443", "other"]) {
      await assert.rejects(unary(client, "GetSecret", { ID: id }), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND, id);
    }
  } finally {
    client.close();
  }
});

test("Secrets refuses oversized values up front", () => {
  assert.throws(() => secretsService(new Map([["big", Buffer.alloc(MAX_SECRET_BYTES + 1)]])), /big/);
});

test("Auth gives credentials per host, anonymous for others, and leaves the token-authority methods unimplemented", async () => {
  const client = new (protos().auth.moby.filesync.v1.Auth)(target, grpc.credentials.createInsecure()) as AuthClient;
  try {
    assert.deepEqual(await unary(client, "Credentials", { Host: "127.0.0.1:5001" }), { Username: "u", Secret: "p" });
    assert.deepEqual(await unary(client, "Credentials", { Host: "registry-1.docker.io" }), { Username: "hub", Secret: "hp" });
    assert.deepEqual(await unary(client, "Credentials", { Host: "127.0.0.1:5002" }), { Username: "", Secret: "" });
    for (const method of ["GetTokenAuthority", "FetchToken", "VerifyTokenAuthority"]) {
      await assert.rejects(unary(client, method, { Host: "127.0.0.1:5001" }), (err: grpc.ServiceError) => err.code === grpc.status.UNIMPLEMENTED, method);
    }
  } finally {
    client.close();
  }
});

test("each service advertises exactly the methods it serves", () => {
  assert.deepEqual(services[0]?.methods, ["/grpc.health.v1.Health/Check"]);
  assert.deepEqual(services[1]?.methods, ["/moby.buildkit.secrets.v1.Secrets/GetSecret"]);
  assert.deepEqual(services[2]?.methods, ["/moby.filesync.v1.Auth/Credentials"]);
});
