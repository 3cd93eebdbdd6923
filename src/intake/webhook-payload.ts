import { MalformedDeliveryError } from "./intake-errors.js";

export type WebhookPayload = Record<string, unknown>;

/** The object each event we handle is about; its payload must carry it. */
const SUBJECT: Readonly<Record<string, string>> = {
  pull_request: "pull_request",
  check_run: "check_run",
  check_suite: "check_suite",
  issue_comment: "comment",
  merge_group: "merge_group",
};

/** Events our handlers act on as an installation; anything else is acknowledged without reading further. */
export const INSTALLATION_EVENTS: ReadonlySet<string> = new Set(["push", "pull_request", "check_run", "check_suite", "issue_comment", "merge_group"]);

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** What a body that is not UTF-8 JSON is told. */
export const NOT_UTF8_JSON = "body is not UTF-8 JSON";

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * A verified body as the payload of event `name`: UTF-8 JSON, an object, and for the events we handle the
 * minimum Probot and our handlers rely on (installation id, repository, the event's subject). Anything else is
 * a MalformedDeliveryError with a plain message.
 */
export function parsePayload(name: string, bytes: Buffer): WebhookPayload {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new MalformedDeliveryError(NOT_UTF8_JSON);
  }
  return parsePayloadText(name, text);
}

/** parsePayload for a body already decoded from UTF-8. */
export function parsePayloadText(name: string, text: string): WebhookPayload {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new MalformedDeliveryError(NOT_UTF8_JSON);
  }
  if (!isObject(parsed)) throw new MalformedDeliveryError("payload is not a JSON object");
  if (!INSTALLATION_EVENTS.has(name)) return parsed;

  const installation = parsed.installation;
  const id = isObject(installation) ? installation.id : undefined;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= 0) {
    throw new MalformedDeliveryError(`${name} payload has no installation id`);
  }
  if (!isObject(parsed.repository)) throw new MalformedDeliveryError(`${name} payload has no repository`);
  if ("action" in parsed && typeof parsed.action !== "string") throw new MalformedDeliveryError(`${name} payload action is not a string`);
  const subject = SUBJECT[name];
  if (subject !== undefined && !isObject(parsed[subject])) throw new MalformedDeliveryError(`${name} payload has no ${subject}`);
  if (name === "push" && typeof parsed.ref !== "string") throw new MalformedDeliveryError("push payload has no ref");
  return parsed;
}
