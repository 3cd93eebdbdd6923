import type { EmitterWebhookEvent } from "@octokit/webhooks";

/** The events the handlers read. */
export type HandledEvent = "push" | "pull_request" | "check_run" | "check_suite" | "issue_comment" | "merge_group";

/** GitHub's payload of an event, as @octokit/webhooks describes it (a union over the event's actions). */
export type PayloadOf<E extends HandledEvent> = EmitterWebhookEvent<E>["payload"];

declare const shape: unique symbol;

/** Every key of every member of a union (`keyof` of a union keeps only the shared ones). */
type AllKeys<T> = T extends unknown ? keyof T : never;
/** The value at `K` in whichever members of the union have it. */
export type ValueAt<T, K extends PropertyKey> = T extends unknown ? (K extends keyof T ? T[K] : never) : never;
/** The object part of a value (`Repo | null` → `Repo`). */
export type ObjectPart<V> = Extract<NonNullable<V>, object>;
/** The element type of an array value. */
export type ItemOf<V> = NonNullable<V> extends ReadonlyArray<infer I> ? I : never;

/**
 * A payload object as it reaches a handler: GitHub's field names, with values not trusted yet (the intake checks only
 * the minimum, and a signed payload may still be of the wrong shape). The readers (src/handlers/payload-fields.ts) take the
 * names from `T`, so a field GitHub does not send is a compile error, and check each value as they read it.
 * `T` only rides along for the type checker: nothing holds the `shape` key at run time.
 */
export type Fields<T> = { readonly [K in AllKeys<T> & string]?: unknown } & { readonly [shape]?: T };

/** A field name of `T` (of any member of the union). */
export type FieldName<T> = AllKeys<T> & string;

/** The payload of event `E`, to be read through the handlers' field readers. */
export function payloadFields<E extends HandledEvent>(_event: E, payload: unknown): Fields<PayloadOf<E>> {
  return (payload !== null && typeof payload === "object" ? payload : {}) as Fields<PayloadOf<E>>;
}
