import type { FieldName, HandledEvent, ItemOf, ObjectPart, PayloadOf, ValueAt } from "./payload-types.js";
import type { WebhookPayload } from "./webhook-payload.js";

/**
 * Which parts of a payload the handlers (src/handlers) read, per event. `true` keeps a value (an object or array
 * where a scalar was expected becomes an empty one of its kind: the handlers refuse it the same way); a nested
 * spec keeps only the keys it names; `{ items }` applies to each element of an array.
 */
type Spec = true | { readonly [key: string]: Spec } | { readonly items: Spec };

/** A spec of a value of type `T`: its keys are GitHub's field names, so a misspelt one does not compile. */
type SpecOf<T> = true | { readonly items: SpecOf<ObjectPart<ItemOf<T>>> | true } | FieldsSpec<ObjectPart<T>>;
type FieldsSpec<T> = { readonly [K in FieldName<T>]?: SpecOf<ValueAt<T, K>> };

type AnyPayload = PayloadOf<HandledEvent>;
type RepositoryOf = ObjectPart<ValueAt<AnyPayload, "repository">>;

const REPOSITORY: FieldsSpec<RepositoryOf> = { id: true, name: true, owner: { login: true, name: true }, private: true, default_branch: true, master_branch: true };
const COMMON: FieldsSpec<AnyPayload> = { action: true, installation: { id: true }, repository: REPOSITORY, sender: { login: true } };
const CHECK_PULL_REQUEST = {
  items: {
    number: true,
    head: { ref: true, sha: true, repo: { id: true, url: true, name: true } },
    base: { ref: true, sha: true, repo: { id: true } },
  },
} as const;

const FILE_LIST = { items: true } as const;

const BY_EVENT: { readonly [E in HandledEvent]: FieldsSpec<PayloadOf<E>> } = {
  push: {
    ref: true,
    before: true,
    after: true,
    created: true,
    deleted: true,
    forced: true,
    commits: { items: { added: FILE_LIST, modified: FILE_LIST, removed: FILE_LIST } },
  },
  pull_request: {
    pull_request: {
      number: true,
      author_association: true,
      head: { ref: true, sha: true, repo: { id: true, full_name: true } },
      base: { ref: true, sha: true, repo: { id: true } },
    },
  },
  check_run: {
    requested_action: { identifier: true },
    check_run: {
      id: true,
      app: { id: true },
      external_id: true,
      head_sha: true,
      check_suite: { head_branch: true },
      pull_requests: CHECK_PULL_REQUEST,
    },
  },
  check_suite: { check_suite: { app: { id: true }, head_sha: true, head_branch: true, pull_requests: CHECK_PULL_REQUEST } },
  issue_comment: { issue: { number: true, pull_request: {} }, comment: { body: true, created_at: true, user: { login: true } } },
  merge_group: { reason: true, merge_group: { head_sha: true, head_ref: true, base_ref: true } },
};

/** GitHub lists at most 20 commits in a push; past that the push handler does not read the list (push-event.ts). */
const COMMITS_READ = 20;
/** GitHub caps a comment at 65,536 characters; the issue_comment handler only compares it with a short command. */
const COMMENT_BODY_CHARS = 65_536;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function emptyLike(v: unknown): unknown {
  if (Array.isArray(v)) return [];
  return v !== null && typeof v === "object" ? {} : v;
}

function project(value: unknown, spec: Spec): unknown {
  if (spec === true) return emptyLike(value);
  if ("items" in spec && isSpec(spec.items)) return Array.isArray(value) ? value.map((v: unknown) => project(v, spec.items as Spec)) : emptyLike(value);
  if (!isObject(value)) return emptyLike(value);
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(spec as Record<string, Spec>)) if (Object.hasOwn(value, key)) out[key] = project(value[key], sub);
  return out;
}

function isSpec(v: unknown): v is Spec {
  return v === true || isObject(v);
}

/**
 * What the handlers need of a verified, shape-checked payload, and nothing else: a large delivery is parsed off
 * the main thread (body-worker.ts) and only this small part is copied back. The handlers' results on it equal
 * their results on the whole payload (test/intake/payload-projection.test.ts).
 */
export function projectPayload(name: string, payload: WebhookPayload): WebhookPayload {
  const own: object = Object.hasOwn(BY_EVENT, name) ? BY_EVENT[name as HandledEvent] : {};
  const specs = { ...COMMON, ...own } as Spec;
  const out = project(payload, specs) as WebhookPayload;
  if (Array.isArray(out.commits) && out.commits.length > COMMITS_READ) out.commits = out.commits.slice(0, COMMITS_READ);
  const comment = out.comment;
  if (isObject(comment) && typeof comment.body === "string" && comment.body.length > COMMENT_BODY_CHARS) comment.body = "";
  return out;
}
