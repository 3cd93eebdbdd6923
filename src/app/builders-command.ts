import { BuilderPool } from "../builders/index.js";
import { createWorkerConnection } from "../queue/index.js";
import { AppConfigError, loadAppConfig } from "./app-config.js";

/**
 * The operator's command for the builder pool, run with the app's environment (the same Redis, queue prefix and
 * builders file): `node dist/app/builders-command.js status | drain <name> | undrain <name>` (from a checkout:
 * `node --import tsx src/app/builders-command.ts …`). Draining is kept in Redis, so every worker process on every
 * machine stops giving the builder new builds at its next choice; running builds finish.
 */
export async function buildersCommand(args: readonly string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  const [verb, name] = args;
  if (!(verb === "status" || ((verb === "drain" || verb === "undrain") && name))) {
    out("usage: builders-command status | drain <name> | undrain <name>");
    return 2;
  }
  const config = loadAppConfig(env);
  const redis = createWorkerConnection(config.redisUrl, { maxRetriesPerRequest: 3 });
  const pool = new BuilderPool({ config: config.builders, redis, prefix: config.queuePrefix });
  try {
    if (verb === "drain" || verb === "undrain") {
      if (!pool.names.includes(name!)) {
        out(`no builder is named "${name}" (builders: ${pool.names.join(", ")})`);
        return 1;
      }
      await (verb === "drain" ? pool.drain(name!) : pool.undrain(name!));
      out(verb === "drain" ? `${name}: draining (running builds finish; no new build goes to it)` : `${name}: takes builds again`);
      return 0;
    }
    await pool.probe();
    for (const b of await pool.snapshot()) {
      const state = b.available ? (b.draining ? "draining" : "available") : `unavailable (${b.lastError ?? "not reachable"})${b.draining ? ", draining" : ""}`;
      out(`${b.name}\t${b.address}\t${state}\trunning ${b.running}${b.maxConcurrent ? `/${b.maxConcurrent}` : ""}\t${b.platforms.join(",")}`);
    }
    return 0;
  } finally {
    await pool.close();
    await redis.quit().catch(() => redis.disconnect());
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildersCommand(process.argv.slice(2), process.env, (line) => console.log(line)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof AppConfigError ? `buildkit-bot: configuration error: ${err.message}` : `builders-command: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
