import { inspect } from "node:util";
import { CONFIG_LIMITS_VARIABLE, ConfigLimitsError, configLimitsFromEnv } from "../config/index.js";
import type { ConfigLimits } from "../config/index.js";
import { loadTenants, singleRegistryTenants, TenantsFileError } from "../tenancy/index.js";
import type { TenantRegistry, Tenants } from "../tenancy/index.js";
import { AppError } from "../errors/index.js";
import { DELIVERY_DEDUPE_MS } from "../queue/index.js";
import { BuildersFileError, readBuildersFile, singleBuilder } from "../builders/index.js";
import type { BuildersConfig } from "../builders/index.js";

/**
 * The app's own configuration, read from the environment once at start. Probot keeps reading its own
 * variables (APP_ID, PRIVATE_KEY, WEBHOOK_SECRET, PORT, GHE_HOST…); this covers what buildkit-bot adds.
 *
 * The queue's Redis is `BUILDKIT_BOT_REDIS_URL` on purpose: `REDIS_URL` belongs to Probot and switches on
 * its Octokit throttling cluster.
 */
export type AppRole = "web" | "worker" | "all";

/** The deployment's registry (BUILDKIT_BOT_REGISTRY and its credentials): the shape every tenant's registry has. */
export type RegistryConfig = TenantRegistry;

export interface GitHubHostConfig {
  /** `github.com` or the GHE host. */
  host: string;
  /** REST API base: `https://api.github.com` or `https://<GHE_HOST>/api/v3`. */
  apiBaseUrl: string;
  /** Base URL repositories are cloned from: `https://github.com`, `https://<GHE_HOST>`. No trailing slash. */
  gitBaseUrl: string;
}

export interface AppConfig {
  role: AppRole;
  redisUrl: string;
  /** Our GitHub App id (APP_ID); absent in setup mode. */
  appId?: number;
  buildkitHost: string;
  /** The builders from BUILDKIT_BOT_BUILDERS_FILE; without it, BUILDKIT_HOST as a pool of one. */
  builders: BuildersConfig;
  registry: RegistryConfig;
  workerConcurrency: number;
  eventWorkerConcurrency: number;
  /**
   * Builds of one installation running at once across every worker, for accounts the tenants file gives no
   * `max_concurrent_builds` (BUILDKIT_BOT_MAX_CONCURRENT_BUILDS); undefined: no cap.
   */
  maxConcurrentBuilds: number | undefined;
  /** Public base URL of this app (for log links), no trailing slash. Required when NODE_ENV=production. */
  publicBaseUrl?: string;
  github: GitHubHostConfig;
  /** BullMQ key prefix; distinct prefixes let several deployments share one Redis. */
  queuePrefix: string;
  /** How long SIGTERM/SIGINT lets running builds finish before they are left to the stall checker. Default 120 s. */
  shutdownGraceMs: number;
  /** Limits on a repository's config file (BUILDKIT_BOT_CONFIG_LIMITS over the defaults). */
  repoConfigLimits: ConfigLimits;
  /**
   * Per-account policy from BUILDKIT_BOT_TENANTS_FILE (credentials resolved); without the file, every account is
   * served from `registry`, owner-scoped, with `repoConfigLimits`.
   */
  tenants: Tenants;
  /**
   * Missed-webhook recovery (src/recovery): how often the worker asks GitHub for the App's failed deliveries
   * (0: never), how far back, and how many redeliveries a minute at most.
   */
  redelivery: { intervalMs: number; windowMs: number; perMinute: number };
  /**
   * BUILDKIT_BOT_PR_IMAGE_TTL_DAYS: the sweep deletes a pull request's pr-N tags and cache once its builds last
   * pushed longer ago than this, open or closed (src/cleanup). 0: no sweep (closing a pull request still cleans).
   */
  prImageTtlMs: number;
  /** BUILDKIT_BOT_ADMIN_TOKEN: the queue view's password; undefined: no queue view. */
  adminToken?: string;
  /** A copy safe to log: secrets replaced by `***`. */
  describe(): Record<string, unknown>;
  toJSON(): Record<string, unknown>;
}

export const AppConfigVariable = {
  RedisUrl: "BUILDKIT_BOT_REDIS_URL",
  BuildkitHost: "BUILDKIT_HOST",
  Registry: "BUILDKIT_BOT_REGISTRY",
  RegistryUsername: "BUILDKIT_BOT_REGISTRY_USERNAME",
  RegistryPassword: "BUILDKIT_BOT_REGISTRY_PASSWORD",
  Concurrency: "BUILDKIT_BOT_CONCURRENCY",
  EventConcurrency: "BUILDKIT_BOT_EVENT_CONCURRENCY",
  MaxConcurrentBuilds: "BUILDKIT_BOT_MAX_CONCURRENT_BUILDS",
  PublicUrl: "BUILDKIT_BOT_PUBLIC_URL",
  Role: "BUILDKIT_BOT_ROLE",
  QueuePrefix: "BUILDKIT_BOT_QUEUE_PREFIX",
  ShutdownGrace: "BUILDKIT_BOT_SHUTDOWN_GRACE_SECONDS",
  /** Overrides the clone base URL (a mirror, or a local git server in tests). */
  GitBaseUrl: "BUILDKIT_BOT_GIT_URL",
  TenantsFile: "BUILDKIT_BOT_TENANTS_FILE",
  BuildersFile: "BUILDKIT_BOT_BUILDERS_FILE",
  AdminToken: "BUILDKIT_BOT_ADMIN_TOKEN",
  PrImageTtl: "BUILDKIT_BOT_PR_IMAGE_TTL_DAYS",
  RedeliveryInterval: "BUILDKIT_BOT_REDELIVERY_INTERVAL_SECONDS",
  RedeliveryWindow: "BUILDKIT_BOT_REDELIVERY_WINDOW_HOURS",
  RedeliveryPerMinute: "BUILDKIT_BOT_REDELIVERIES_PER_MINUTE",
  AppId: "APP_ID",
  GheHost: "GHE_HOST",
  GheProtocol: "GHE_PROTOCOL",
} as const;

/** A configuration value is missing or invalid; `variable` names the environment variable to fix. */
export class AppConfigError extends AppError {
  readonly code = "APP_CONFIG_INVALID";
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

const DEFAULT_BUILDKIT_HOST = "unix:///run/buildkit/buildkitd.sock";
const MASK = "***";
const ADMIN_TOKEN_MIN_CHARS = 16;

export function loadAppConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const V = AppConfigVariable;
  const value = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };

  const role = parseRole(value(V.Role));
  const redisUrl = required(V.RedisUrl, value(V.RedisUrl));
  let redis: URL;
  try {
    redis = new URL(redisUrl);
  } catch {
    throw new AppConfigError(V.RedisUrl, "is not a URL (expected redis://host:port or rediss://host:port)");
  }
  if (redis.protocol !== "redis:" && redis.protocol !== "rediss:") {
    throw new AppConfigError(V.RedisUrl, `unsupported scheme "${redis.protocol}" (expected redis: or rediss:)`);
  }

  const appIdText = value(V.AppId);
  let appId: number | undefined;
  if (appIdText !== undefined) {
    appId = Number(appIdText);
    if (!Number.isSafeInteger(appId) || appId <= 0) throw new AppConfigError(V.AppId, "must be a positive integer");
  }

  const buildkitHost = value(V.BuildkitHost) ?? DEFAULT_BUILDKIT_HOST;
  if (!/^(unix|tcp|docker-engine|docker-container):\/\/./.test(buildkitHost)) {
    throw new AppConfigError(
      V.BuildkitHost,
      "expected unix://<path>, tcp://<host>:<port>, docker-engine://<socket path> or docker-container://<name>",
    );
  }

  const registry = parseRegistry(value(V.Registry), value(V.RegistryUsername), value(V.RegistryPassword));
  const workerConcurrency = parseCount(V.Concurrency, value(V.Concurrency), 2);
  const eventWorkerConcurrency = parseCount(V.EventConcurrency, value(V.EventConcurrency), 4);
  const capValue = value(V.MaxConcurrentBuilds);
  const maxConcurrentBuilds = capValue === undefined ? undefined : parseCount(V.MaxConcurrentBuilds, capValue, 1);

  const publicUrlText = value(V.PublicUrl);
  // Without it check runs carry no link to the build log; acceptable on a laptop, not in a deployment.
  if (publicUrlText === undefined && env.NODE_ENV === "production") {
    throw new AppConfigError(
      V.PublicUrl,
      "is required when NODE_ENV=production: set it to the app's public base URL (e.g. https://buildkit-bot.example.com), which build log links use",
    );
  }
  const publicBaseUrl = publicUrlText === undefined ? undefined : parseHttpUrl(V.PublicUrl, publicUrlText);
  // Probot (and our intake) would otherwise verify deliveries against the well-known secret "development".
  if (value("WEBHOOK_SECRET") === undefined && env.NODE_ENV === "production" && role !== "worker") {
    throw new AppConfigError("WEBHOOK_SECRET", "is required when NODE_ENV=production: set it to the GitHub App's webhook secret");
  }

  const gheHost = value(V.GheHost);
  const gheProtocol = value(V.GheProtocol) ?? "https";
  if (gheProtocol !== "https" && gheProtocol !== "http") {
    throw new AppConfigError(V.GheProtocol, 'must be "https" or "http"');
  }
  if (gheHost !== undefined && !/^[A-Za-z0-9.-]+(:\d+)?$/.test(gheHost)) {
    throw new AppConfigError(V.GheHost, "must be a host name (e.g. github.example.com), without scheme or path");
  }
  const gitOverride = value(V.GitBaseUrl);
  const github: GitHubHostConfig = gheHost
    ? {
        host: gheHost,
        apiBaseUrl: `${gheProtocol}://${gheHost}/api/v3`,
        gitBaseUrl: gitOverride ? parseHttpUrl(V.GitBaseUrl, gitOverride) : `${gheProtocol}://${gheHost}`,
      }
    : {
        host: "github.com",
        apiBaseUrl: "https://api.github.com",
        gitBaseUrl: gitOverride ? parseHttpUrl(V.GitBaseUrl, gitOverride) : "https://github.com",
      };

  const queuePrefix = value(V.QueuePrefix) ?? "bkb";
  if (!/^[A-Za-z0-9_.-]+$/.test(queuePrefix)) {
    throw new AppConfigError(V.QueuePrefix, "may contain only letters, digits, '_', '.' and '-'");
  }

  const graceText = value(V.ShutdownGrace);
  const graceSeconds = graceText === undefined ? 120 : Number(graceText);
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > 86_400) {
    throw new AppConfigError(V.ShutdownGrace, `must be a whole number of seconds from 0 to 86400, got "${graceText}"`);
  }
  const shutdownGraceMs = graceSeconds * 1000;

  let repoConfigLimits: ConfigLimits;
  try {
    repoConfigLimits = configLimitsFromEnv(env);
  } catch (err) {
    if (!(err instanceof ConfigLimitsError)) throw err;
    throw new AppConfigError(CONFIG_LIMITS_VARIABLE, err.message.slice(`${CONFIG_LIMITS_VARIABLE}: `.length));
  }

  const tenantsFile = value(V.TenantsFile);
  let tenants: Tenants;
  try {
    tenants = tenantsFile === undefined ? singleRegistryTenants({ registry, repoConfigLimits }) : loadTenants(tenantsFile, { registry, repoConfigLimits }, env);
  } catch (err) {
    if (!(err instanceof TenantsFileError)) throw err;
    throw new AppConfigError(V.TenantsFile, err.message);
  }

  const buildersFile = value(V.BuildersFile);
  let builders: BuildersConfig;
  try {
    builders = buildersFile === undefined ? singleBuilder(buildkitHost) : readBuildersFile(buildersFile);
  } catch (err) {
    if (!(err instanceof BuildersFileError)) throw err;
    throw new AppConfigError(V.BuildersFile, err.message);
  }

  const ttlText = value(V.PrImageTtl);
  const ttlDays = ttlText === undefined ? 14 : Number(ttlText);
  if (!Number.isInteger(ttlDays) || ttlDays < 0 || ttlDays > 3650) {
    throw new AppConfigError(V.PrImageTtl, `must be a whole number of days from 0 (no sweep) to 3650, got "${ttlText}"`);
  }
  const prImageTtlMs = ttlDays * 24 * 3_600_000;

  const adminToken = value(V.AdminToken);
  if (adminToken !== undefined && adminToken.length < ADMIN_TOKEN_MIN_CHARS) {
    throw new AppConfigError(V.AdminToken, `must be at least ${ADMIN_TOKEN_MIN_CHARS} characters (it guards the queue view); leave it unset to turn the view off`);
  }

  const redelivery = {
    intervalMs: wholeNumber(V.RedeliveryInterval, value(V.RedeliveryInterval), 300, 0, 86_400) * 1000,
    // A delivery id is remembered for deduplication for 3 days (DELIVERY_DEDUPE_MS); the window stays within it.
    windowMs: wholeNumber(V.RedeliveryWindow, value(V.RedeliveryWindow), 24, 1, DELIVERY_DEDUPE_MS / 3_600_000) * 3_600_000,
    perMinute: wholeNumber(V.RedeliveryPerMinute, value(V.RedeliveryPerMinute), 30, 1, 600),
  };

  const describe = (): Record<string, unknown> => ({
    role,
    redisUrl: maskUrl(redisUrl),
    appId,
    buildkitHost,
    builders: builders.builders.map((b) => ({ name: b.name, address: b.address, ...(b.maxConcurrentBuilds ? { maxConcurrentBuilds: b.maxConcurrentBuilds } : {}), ...(b.platforms ? { platforms: b.platforms } : {}) })),
    registry: {
      prefix: registry.prefix,
      host: registry.host,
      credentials: registry.credentials ? { username: registry.credentials.username, password: MASK } : undefined,
    },
    workerConcurrency,
    eventWorkerConcurrency,
    maxConcurrentBuilds: maxConcurrentBuilds ?? "no cap",
    publicBaseUrl,
    github,
    queuePrefix,
    shutdownGraceMs,
    repoConfigLimits,
    tenants: tenants.describe(),
    redelivery: redelivery.intervalMs === 0 ? "off" : redelivery,
    prImageTtlDays: ttlDays === 0 ? "off" : ttlDays,
    queueView: adminToken === undefined ? "off" : { path: "/admin/queues", password: MASK },
  });

  const config: AppConfig = {
    role,
    redisUrl,
    appId,
    buildkitHost,
    builders,
    registry,
    workerConcurrency,
    eventWorkerConcurrency,
    maxConcurrentBuilds,
    publicBaseUrl,
    github,
    queuePrefix,
    shutdownGraceMs,
    repoConfigLimits,
    tenants,
    redelivery,
    prImageTtlMs,
    ...(adminToken === undefined ? {} : { adminToken }),
    describe,
    toJSON: describe,
  };
  // console.log / util.inspect do not call toJSON; make them mask as well.
  Object.defineProperty(config, inspect.custom, { value: () => describe(), enumerable: false });
  return config;
}

function wholeNumber(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new AppConfigError(name, `must be a whole number from ${min} to ${max}, got "${text}"`);
  return n;
}

function required(name: string, v: string | undefined): string {
  if (v === undefined) throw new AppConfigError(name, "is required but not set");
  return v;
}

function parseRole(v: string | undefined): AppRole {
  if (v === undefined) return "all";
  if (v === "web" || v === "worker" || v === "all") return v;
  throw new AppConfigError(AppConfigVariable.Role, `must be "web", "worker" or "all", got "${v}"`);
}

function parseCount(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new AppConfigError(name, `must be an integer from 1 to 256, got "${v}"`);
  return n;
}

function parseHttpUrl(name: string, v: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new AppConfigError(name, "is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new AppConfigError(name, "must be an http(s) URL");
  if (url.username || url.password) throw new AppConfigError(name, "must not contain credentials");
  return url.toString().replace(/\/+$/, "");
}

function parseRegistry(prefix: string | undefined, username: string | undefined, password: string | undefined): RegistryConfig {
  const V = AppConfigVariable;
  const p = required(V.Registry, prefix).replace(/\/+$/, "");
  if (/^[a-z]+:\/\//i.test(p)) throw new AppConfigError(V.Registry, "is an image prefix (ghcr.io/acme), not a URL: drop the scheme");
  if (p.includes("@")) throw new AppConfigError(V.Registry, "must not contain credentials; use the _USERNAME/_PASSWORD variables");
  const [host, ...path] = p.split("/");
  if (!host || !/^[A-Za-z0-9.-]+(:\d+)?$/.test(host)) {
    throw new AppConfigError(V.Registry, "must start with a registry host, e.g. ghcr.io/acme or 127.0.0.1:5000/acme");
  }
  if (path.some((s) => !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(s))) {
    throw new AppConfigError(V.Registry, "has an invalid repository path (lowercase letters, digits, '.', '_', '-')");
  }
  if ((username === undefined) !== (password === undefined)) {
    throw new AppConfigError(
      username === undefined ? V.RegistryUsername : V.RegistryPassword,
      `is required when ${username === undefined ? V.RegistryPassword : V.RegistryUsername} is set`,
    );
  }
  return {
    prefix: p,
    host,
    ...(username !== undefined && password !== undefined ? { credentials: { username, password } } : {}),
  };
}

function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = MASK;
    return u.toString();
  } catch {
    return MASK;
  }
}

/**
 * The most builds of one installation's account running at once: the tenants file's `max_concurrent_builds` (its
 * entry's, else its `defaults`'), else BUILDKIT_BOT_MAX_CONCURRENT_BUILDS; undefined: no cap. A refused account has
 * no builds to cap.
 */
export function installationBuildCap(config: Pick<AppConfig, "tenants" | "maxConcurrentBuilds">, account: { owner: string; installationId: number }): number | undefined {
  const policy = config.tenants.policyFor({ accountLogin: account.owner, installationId: account.installationId });
  return (policy.served ? policy.maxConcurrentBuilds : undefined) ?? config.maxConcurrentBuilds;
}
