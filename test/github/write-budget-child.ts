// A separate process sharing the budget:
// `node --import tsx write-budget-child.ts <redisUrl> <prefix> <count> <windowMs> <max> [transitMarginMs]`.
// Prints the Redis times of its grants as JSON.
import { Redis } from "ioredis";
import { WriteBudget } from "../../src/github/write-budget.js";

const [url = "", prefix = "", count = "0", windowMs = "1000", max = "1", transitMarginMs] = process.argv.slice(2);
const redis = new Redis(url);
const budget = new WriteBudget(redis, {
  prefix,
  windows: [{ windowMs: Number(windowMs), max: Number(max) }],
  ...(transitMarginMs === undefined ? {} : { transitMarginMs: Number(transitMarginMs) }),
  pollMs: 50,
});
const grants = await Promise.all(
  Array.from({ length: Number(count) }, async (_, i) => {
    const p = await budget.acquire("final", `child-${i}`);
    return p.granted ? p.at : -1;
  }),
);
process.stdout.write(JSON.stringify(grants));
await redis.quit();
