/**
 * The field limits GitHub enforces on check runs and commit statuses (REST docs, checked against the OpenAPI
 * description in @octokit/openapi-types): summary/text ≤ 65535 characters, ≤ 50 annotations per request,
 * ≤ 3 actions (label ≤ 20, description ≤ 40, identifier ≤ 20), annotation title ≤ 255, message/raw_details
 * ≤ 64 KB, status description ≤ 140.
 */
export const LIMITS = {
  outputSummaryChars: 65535,
  outputTextChars: 65535,
  annotationsPerRequest: 50,
  annotationTitleChars: 255,
  annotationMessageBytes: 64 * 1024,
  actions: 3,
  actionLabelChars: 20,
  actionDescriptionChars: 40,
  actionIdentifierChars: 20,
  statusDescriptionChars: 140,
  statusesPerContext: 1000,
} as const;

export interface FieldError {
  resource: string;
  field: string;
  code: "missing_field" | "invalid" | "too_long" | "too_many" | "custom";
  message?: string;
}

export const CHECK_RUN_STATUSES = ["queued", "in_progress", "completed"] as const;
export const CONCLUSIONS = ["action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out"] as const;
export const ANNOTATION_LEVELS = ["notice", "warning", "failure"] as const;
export const STATUS_STATES = ["error", "failure", "pending", "success"] as const;

/** JavaScript string length counts UTF-16 units; GitHub counts characters (code points). */
function chars(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isPositiveInt = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 1;

function validUrl(v: unknown): boolean {
  if (typeof v !== "string") return false;
  try {
    const u = new URL(v);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

function checkOutput(output: unknown, errors: FieldError[]): void {
  const resource = "CheckRun";
  if (!isObject(output)) {
    errors.push({ resource, field: "output", code: "invalid" });
    return;
  }
  if (typeof output.title !== "string" || output.title === "") errors.push({ resource, field: "output.title", code: "missing_field" });
  if (typeof output.summary !== "string" || output.summary === "") errors.push({ resource, field: "output.summary", code: "missing_field" });
  else if (chars(output.summary) > LIMITS.outputSummaryChars) errors.push({ resource, field: "output.summary", code: "too_long" });
  if (output.text !== undefined) {
    if (typeof output.text !== "string") errors.push({ resource, field: "output.text", code: "invalid" });
    else if (chars(output.text) > LIMITS.outputTextChars) errors.push({ resource, field: "output.text", code: "too_long" });
  }
  if (output.annotations !== undefined) {
    if (!Array.isArray(output.annotations)) {
      errors.push({ resource, field: "output.annotations", code: "invalid" });
      return;
    }
    if (output.annotations.length > LIMITS.annotationsPerRequest) errors.push({ resource, field: "output.annotations", code: "too_many" });
    output.annotations.forEach((a: unknown, i) => {
      const field = (f: string) => `output.annotations[${i}].${f}`;
      if (!isObject(a)) {
        errors.push({ resource, field: `output.annotations[${i}]`, code: "invalid" });
        return;
      }
      if (typeof a.path !== "string" || a.path === "") errors.push({ resource, field: field("path"), code: "missing_field" });
      if (!isPositiveInt(a.start_line)) errors.push({ resource, field: field("start_line"), code: a.start_line === undefined ? "missing_field" : "invalid" });
      if (!isPositiveInt(a.end_line)) errors.push({ resource, field: field("end_line"), code: a.end_line === undefined ? "missing_field" : "invalid" });
      else if (isPositiveInt(a.start_line) && (a.end_line as number) < (a.start_line as number)) errors.push({ resource, field: field("end_line"), code: "invalid" });
      if (!ANNOTATION_LEVELS.includes(a.annotation_level as never)) errors.push({ resource, field: field("annotation_level"), code: a.annotation_level === undefined ? "missing_field" : "invalid" });
      if (typeof a.message !== "string" || a.message === "") errors.push({ resource, field: field("message"), code: "missing_field" });
      else if (Buffer.byteLength(a.message) > LIMITS.annotationMessageBytes) errors.push({ resource, field: field("message"), code: "too_long" });
      if (a.title !== undefined && (typeof a.title !== "string" || chars(a.title) > LIMITS.annotationTitleChars)) errors.push({ resource, field: field("title"), code: "too_long" });
      if ((a.start_column !== undefined || a.end_column !== undefined) && a.start_line !== a.end_line) errors.push({ resource, field: field("start_column"), code: "invalid", message: "columns only on a single line" });
    });
  }
}

function checkActions(actions: unknown, errors: FieldError[]): void {
  const resource = "CheckRun";
  if (!Array.isArray(actions)) {
    errors.push({ resource, field: "actions", code: "invalid" });
    return;
  }
  if (actions.length > LIMITS.actions) errors.push({ resource, field: "actions", code: "too_many" });
  actions.forEach((a: unknown, i) => {
    const field = (f: string) => `actions[${i}].${f}`;
    if (!isObject(a)) {
      errors.push({ resource, field: `actions[${i}]`, code: "invalid" });
      return;
    }
    const limits = [
      ["label", LIMITS.actionLabelChars],
      ["description", LIMITS.actionDescriptionChars],
      ["identifier", LIMITS.actionIdentifierChars],
    ] as const;
    for (const [name, max] of limits) {
      const v = a[name];
      if (typeof v !== "string" || v === "") errors.push({ resource, field: field(name), code: "missing_field" });
      else if (chars(v) > max) errors.push({ resource, field: field(name), code: "too_long" });
    }
  });
}

/** Validates a create (`creating = true`) or update body of a check run. */
export function validateCheckRun(body: unknown, creating: boolean): FieldError[] {
  const resource = "CheckRun";
  const errors: FieldError[] = [];
  if (!isObject(body)) return [{ resource, field: "body", code: "invalid" }];
  if (creating || body.name !== undefined) {
    if (typeof body.name !== "string" || body.name.trim() === "") errors.push({ resource, field: "name", code: "missing_field" });
  }
  if (creating && (typeof body.head_sha !== "string" || !/^[0-9a-f]{40}$/.test(body.head_sha))) {
    errors.push({ resource, field: "head_sha", code: body.head_sha === undefined ? "missing_field" : "invalid" });
  }
  if (body.status !== undefined && !CHECK_RUN_STATUSES.includes(body.status as never)) errors.push({ resource, field: "status", code: "invalid" });
  if (body.conclusion !== undefined && !CONCLUSIONS.includes(body.conclusion as never)) errors.push({ resource, field: "conclusion", code: "invalid" });
  if ((body.status === "completed" || body.completed_at !== undefined) && body.conclusion === undefined) {
    errors.push({ resource, field: "conclusion", code: "missing_field", message: "conclusion is required when status is completed" });
  }
  if (body.details_url !== undefined && !validUrl(body.details_url)) errors.push({ resource, field: "details_url", code: "invalid" });
  for (const t of ["started_at", "completed_at"] as const) {
    if (body[t] !== undefined && (typeof body[t] !== "string" || Number.isNaN(Date.parse(body[t])))) errors.push({ resource, field: t, code: "invalid" });
  }
  if (body.output !== undefined) checkOutput(body.output, errors);
  if (body.actions !== undefined) checkActions(body.actions, errors);
  return errors;
}

export function validateStatus(body: unknown): FieldError[] {
  const resource = "Status";
  const errors: FieldError[] = [];
  if (!isObject(body)) return [{ resource, field: "body", code: "invalid" }];
  if (!STATUS_STATES.includes(body.state as never)) errors.push({ resource, field: "state", code: body.state === undefined ? "missing_field" : "invalid" });
  if (body.description !== undefined && body.description !== null) {
    if (typeof body.description !== "string") errors.push({ resource, field: "description", code: "invalid" });
    else if (chars(body.description) > LIMITS.statusDescriptionChars) errors.push({ resource, field: "description", code: "too_long" });
  }
  // GitHub itself falls back to "default"; the app must always name its context, so the fake insists.
  if (typeof body.context !== "string" || body.context === "") errors.push({ resource, field: "context", code: "missing_field" });
  if (body.target_url !== undefined && body.target_url !== null && !validUrl(body.target_url)) errors.push({ resource, field: "target_url", code: "invalid" });
  return errors;
}
