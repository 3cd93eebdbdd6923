import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppConfigError, loadAppConfig } from "../../src/app/app-config.js";

const base = { BUILDKIT_BOT_REDIS_URL: "redis://127.0.0.1:6379/0", BUILDKIT_BOT_REGISTRY: "ghcr.io/acme" };
const DAY = 24 * 3_600_000;

describe("BUILDKIT_BOT_PR_IMAGE_TTL_DAYS", () => {
  it("defaults to 14 days; 0 turns the sweep off; the summary says which", () => {
    const byDefault = loadAppConfig({ ...base });
    assert.equal(byDefault.prImageTtlMs, 14 * DAY);
    assert.equal(byDefault.describe().prImageTtlDays, 14);
    const off = loadAppConfig({ ...base, BUILDKIT_BOT_PR_IMAGE_TTL_DAYS: "0" });
    assert.equal(off.prImageTtlMs, 0);
    assert.equal(off.describe().prImageTtlDays, "off");
    assert.equal(loadAppConfig({ ...base, BUILDKIT_BOT_PR_IMAGE_TTL_DAYS: "30" }).prImageTtlMs, 30 * DAY);
  });

  it("refuses anything but a whole number of days from 0 to 3650, naming the variable", () => {
    for (const bad of ["-1", "1.5", "two", "3651"]) {
      assert.throws(
        () => loadAppConfig({ ...base, BUILDKIT_BOT_PR_IMAGE_TTL_DAYS: bad }),
        (err: unknown) => err instanceof AppConfigError && err.variable === "BUILDKIT_BOT_PR_IMAGE_TTL_DAYS" && err.message.includes(`"${bad}"`),
        bad,
      );
    }
  });
});
