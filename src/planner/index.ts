// Event jobs turned into build jobs: the repository's config at the commit, the tenant's policy, check runs, fan-out.
export type { ConfigWork } from "./config-work.js";
export { ConfigWorkerPool } from "./config-worker-pool.js";
export { plannerProcessor } from "./planner-processor.js";
