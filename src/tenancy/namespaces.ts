import { AppError } from "../errors/index.js";
/**
 * Whether an image or cache reference stays inside an account's namespaces (`<prefix>/<owner>/`-style paths, each
 * ending in `/`). Checked by the planner on the repository's config and again by the worker on the job it is about
 * to run, so a reference that reaches the daemon has passed both.
 */

/** A registry path component, as the distribution spec allows it. */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** `host[:port]`: the first component of a reference. */
const HOST = /^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]+)?$/;

/**
 * The repository of a reference (`host/path/name` without `:tag` or `@digest`), or undefined when the reference is
 * not one a registry would take as written: a missing host, empty, `.` or `..` components, upper case. Such a
 * reference is never inside a namespace, whatever a registry or daemon might make of it.
 */
export function repositoryOf(ref: string): string | undefined {
  const at = ref.indexOf("@");
  let name = at >= 0 ? ref.slice(0, at) : ref;
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  if (colon > slash) name = name.slice(0, colon);
  const [host, ...path] = name.split("/");
  if (host === undefined || !HOST.test(host) || path.length === 0) return undefined;
  return path.every((c) => COMPONENT.test(c)) ? name : undefined;
}

/** True when `ref`'s repository lies strictly under one of `namespaces` (the namespace itself is not a repository of it). */
export function isInNamespaces(ref: string, namespaces: readonly string[]): boolean {
  const repository = repositoryOf(ref);
  if (repository === undefined) return false;
  return namespaces.some((ns) => {
    const prefix = ns.endsWith("/") ? ns : `${ns}/`;
    return repository.startsWith(prefix) && repository.length > prefix.length;
  });
}

/** The namespaces as a message lists them. */
export function describeNamespaces(namespaces: readonly string[]): string {
  return namespaces.length === 0 ? "(none)" : namespaces.join(", ");
}

/** What a build was about to write or read outside its account's namespaces. */
export interface NamespaceViolation {
  /** `push`, `cache export`, `cache import`. */
  use: string;
  ref: string;
}

/** The worker refuses a job that points outside its account's namespaces: the job is not trusted, whoever queued it. */
export class OutsideNamespacesError extends AppError {
  readonly code = "OUTSIDE_NAMESPACES";
  constructor(
    readonly violations: readonly NamespaceViolation[],
    readonly namespaces: readonly string[],
    account: string,
  ) {
    const list = violations.map((v) => `${v.use} ${v.ref}`).join(", ");
    super(`refused: this build would reach outside the namespaces of ${account} (${describeNamespaces(namespaces)}): ${list}`);
  }
}

/** Every reference of `uses` outside `namespaces`, in order. */
export function namespaceViolations(uses: readonly NamespaceViolation[], namespaces: readonly string[]): NamespaceViolation[] {
  return uses.filter((u) => !isInNamespaces(u.ref, namespaces));
}
