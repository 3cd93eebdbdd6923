import { Writable } from "node:stream";
import { pino } from "pino";
import type { Logger } from "probot";
import { freePort } from "../support/stack/free-port.js";
import { generateAppPrivateKey } from "../support/webhooks.js";

/** Shared pieces of the app tests (not a test file itself). */

export const TEST_APP_ID = 4711;
export const WEBHOOK_SECRET = "test-webhook-secret-2f6c";
export const REGISTRY_PASSWORD = "registry-pass-91ab";

export interface CapturedLog {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  text(): string;
}

/** A pino logger whose JSON lines land in memory. */
export function captureLog(): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  let raw = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw += chunk.toString();
      for (const line of chunk.toString().split("\n")) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream) as unknown as Logger, lines, text: () => raw };
}

/** The environment of a web-role app with test credentials on a free port. */
export async function webEnv(redisUrl: string, prefix: string): Promise<{ env: NodeJS.ProcessEnv; port: number; privateKey: string }> {
  const port = await freePort();
  const privateKey = generateAppPrivateKey();
  const env: NodeJS.ProcessEnv = {
    APP_ID: String(TEST_APP_ID),
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET,
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "error",
    BUILDKIT_BOT_ROLE: "web",
    BUILDKIT_BOT_REDIS_URL: redisUrl,
    BUILDKIT_BOT_QUEUE_PREFIX: prefix,
    BUILDKIT_BOT_REGISTRY: "127.0.0.1:5000/acme",
    BUILDKIT_BOT_REGISTRY_USERNAME: "bot",
    BUILDKIT_BOT_REGISTRY_PASSWORD: REGISTRY_PASSWORD,
  };
  return { env, port, privateKey };
}
