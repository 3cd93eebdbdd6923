import { AppError } from "../errors/index.js";

/** No builder of the pool serves these platforms: the build cannot run until the builders file changes. */
export class BuilderUnservableError extends AppError {
  readonly code = "BUILDER_UNSERVABLE";
  constructor(readonly platforms: readonly string[]) {
    super(
      platforms.length > 0
        ? `no builder serves ${platforms.join(", ")}: add a builder for ${platforms.length > 1 ? "them" : "it"} to the builders file`
        : "no single builder serves every platform of this image",
    );
  }
}

/** A builder that might take the build but cannot now: drained by an operator, or not reachable (and why). */
export interface BuilderOutOfService {
  name: string;
  draining: boolean;
  /** Why it cannot be reached (the last probe's or connection's error); for a builder that is not draining. */
  reason?: string;
}

/** The builders that could take the build are unreachable or draining now: worth another attempt later. */
export class NoBuilderAvailableError extends AppError {
  readonly code = "NO_BUILDER_AVAILABLE";
  override readonly transient = true;
  constructor(
    readonly platforms: readonly string[],
    readonly builders: readonly BuilderOutOfService[],
  ) {
    super(noBuilderMessage(platforms, builders));
  }
}

/** `no builder for linux/arm64 can take the build now: a is draining, b cannot be reached (connect ECONNREFUSED …)`. */
function noBuilderMessage(platforms: readonly string[], builders: readonly BuilderOutOfService[]): string {
  const draining = builders.filter((b) => b.draining).map((b) => b.name);
  const unreachable = builders.filter((b) => !b.draining).map((b) => `${b.name} cannot be reached (${b.reason ?? "it has not answered yet"})`);
  const parts = [...(draining.length > 0 ? [`${listed(draining)} ${draining.length > 1 ? "are" : "is"} draining`] : []), ...unreachable];
  return `no builder${platforms.length > 0 ? ` for ${platforms.join(", ")}` : ""} can take the build now${parts.length > 0 ? `: ${parts.join(", ")}` : ""}`;
}

function listed(names: readonly string[]): string {
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : (names[0] ?? "");
}
