import { AppConfigError } from "./app-config.js";
import { productionParts } from "./production-parts.js";
import { startBuildkitBot } from "./start-app.js";
import type { AppParts, RunningApp } from "./start-app.js";

/**
 * Process entry: `node dist/app/main.js` (or `tsx src/app/main.ts`). SIGTERM/SIGINT stop taking work,
 * let running jobs finish (bounded), then exit.
 */
const parts: AppParts = productionParts();

// Installed before start-up: the web server answers before the workers are up, so a signal can arrive while
// the app is still starting; it is then honoured as soon as start-up ends.
let app: RunningApp | undefined;
let stopRequested: NodeJS.Signals | undefined;
const stop = (signal: NodeJS.Signals, running: RunningApp): void => {
  console.error(`${signal}: stopping buildkit-bot`);
  running.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error("error while stopping", err);
      process.exit(1);
    },
  );
};
const onSignal = (signal: NodeJS.Signals): void => {
  if (stopRequested) return;
  stopRequested = signal;
  if (app) stop(signal, app);
};
process.once("SIGTERM", onSignal);
process.once("SIGINT", onSignal);

try {
  app = await startBuildkitBot(parts);
  if (stopRequested) stop(stopRequested, app);
} catch (err) {
  if (err instanceof AppConfigError) {
    console.error(`buildkit-bot: configuration error: ${err.message}`);
  } else {
    console.error("buildkit-bot: could not start:", err instanceof Error ? err.message : err);
  }
  process.exit(1);
}
