import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BuildKitClient } from "../../../src/buildkit/client.js";
import { healthService } from "../../../src/buildkit/session/health-service.js";
import type { SessionService } from "../../../src/buildkit/session/service.js";
import { openSession } from "../../../src/buildkit/session/session.js";
import { testDaemons } from "../../support/daemons.js";

for (const daemon of testDaemons()) describe(`sessions on ${daemon.name}`, { skip: daemon.skip }, () => {
  test("the daemon health-checks an open session through the tunnel until it is closed", { timeout: 60_000 }, async () => {
    const client = await BuildKitClient.connect(daemon.address);
    try {
      const base = healthService();
      let checks = 0;
      let notify: (() => void) | undefined;
      const counted: SessionService = {
        ...base,
        implementation: {
          Check: (call: unknown, callback: unknown) => {
            checks++;
            notify?.();
            (base.implementation.Check as (c: unknown, cb: unknown) => void)(call, callback);
          },
        },
      };
      const session = openSession(client.control, [counted]);
      assert.deepEqual(session.methods, ["/grpc.health.v1.Health/Check"]);
      // Engine 20.10 checks every second, later daemons every 5 s (docs/buildkit-wire.md#session-health).
      await new Promise<void>((resolve) => {
        notify = resolve;
        if (checks > 0) resolve();
      });
      assert.ok(checks >= 1);
      await session.close();
      await session.close();
    } finally {
      await client.close();
    }
  });
});
