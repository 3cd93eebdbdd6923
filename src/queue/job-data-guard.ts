import { installationOfBuildId } from "./job-ids.js";
import type { BuildJob } from "./job-types.js";
import { SecretInJobDataError } from "./queue-errors.js";

/**
 * Last line of defence for "job data never holds a secret": refuses values that look like credentials
 * before they reach Redis. Shapes recognised: GitHub tokens, bearer/basic headers, PEM keys, URLs with
 * user info, JWTs.
 */
const SECRET_SHAPES: RegExp[] = [
  /\bgh[pousr]_[A-Za-z0-9]{20,}/,
  /\bgithub_pat_[A-Za-z0-9_]{20,}/,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /\b(?:bearer|basic|token)\s+[A-Za-z0-9+/=._-]{16,}/i,
  /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i,
  /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/,
];

export function findSecretPath(value: unknown, path = "$"): string | undefined {
  const hit = secretAt(value);
  return hit === undefined ? undefined : path + hit.reverse().join("");
}

/**
 * The path below `value` of the first secret-shaped string, as segments from the inside out, or undefined. Paths
 * are only built for a hit: every webhook's event job passes through here, and building a path string per value
 * made it one of the larger allocations of the ingest path.
 */
function secretAt(value: unknown): string[] | undefined {
  if (typeof value === "string") return SECRET_SHAPES.some((re) => re.test(value)) ? [] : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = secretAt(value[i]);
      if (hit) {
        hit.push(`[${i}]`);
        return hit;
      }
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const k in value) {
      if (!Object.hasOwn(value, k)) continue;
      const hit = secretAt((value as Record<string, unknown>)[k]);
      if (hit) {
        hit.push(`.${k}`);
        return hit;
      }
    }
  }
  return undefined;
}

export function assertNoSecrets(data: unknown): void {
  const path = findSecretPath(data);
  if (path !== undefined) throw new SecretInJobDataError(path);
}

export type OwnInstallation = { ok: true; installationId: number } | { ok: false; installationId: number | undefined; message: string };

/**
 * The installation a build job belongs to: the one its id names. The id is what the queue stored the job under at
 * enqueue; the data can be edited in Redis afterwards. Data that names another build or another installation is
 * refused (`ok: false`, with the id's installation when the id names one).
 */
export function ownInstallationOf(jobId: string, data: Pick<BuildJob, "buildId" | "repository">): OwnInstallation {
  const own = installationOfBuildId(jobId);
  const named = data.repository?.installationId;
  if (own === undefined) return { ok: false, installationId: undefined, message: `refused: job ${jobId} is not a build job id (its data was altered in Redis)` };
  if (data.buildId !== jobId) return { ok: false, installationId: own, message: `refused: build job ${jobId} carries the data of build ${String(data.buildId)} (its data was altered in Redis)` };
  if (named !== own) return { ok: false, installationId: own, message: `refused: build job ${jobId} belongs to installation ${own}, but its data names installation ${String(named)} (its data was altered in Redis)` };
  return { ok: true, installationId: own };
}
