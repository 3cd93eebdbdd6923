import { AppConfigError } from "../config/app-config.js";
import { productionParts } from "./production-parts.js";
import { startBuildkitBot } from "./start-app.js";
import type { AppParts } from "./start-app.js";

/**
 * Process entry: `node dist/app/main.js` (or `tsx src/app/main.ts`). SIGTERM/SIGINT stop taking work,
 * let running jobs finish (bounded), then exit.
 *
 * Wiring point for the parts written elsewhere: the planner (`runPlannerJob` from src/planner/planner-job.ts),
 * the build processor and the GitHub supersede reporter go into `parts` here.
 */
const parts: AppParts = productionParts();

try {
  const app = await startBuildkitBot(parts);
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    console.info(`${signal}: stopping buildkit-bot`);
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error("error while stopping", err);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
} catch (err) {
  if (err instanceof AppConfigError) {
    console.error(`buildkit-bot: configuration error: ${err.message}`);
  } else {
    console.error("buildkit-bot: could not start:", err instanceof Error ? err.message : err);
  }
  process.exit(1);
}
