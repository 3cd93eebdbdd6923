import { readFileSync } from "node:fs";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { LineCounter, parseDocument } from "yaml";
import { AppError } from "../errors/index.js";
import { formatKeyPath, pointerToKeyPath, YamlLocator } from "./yaml-locate.js";
import type { KeyPath } from "./yaml-locate.js";

/**
 * The files an operator writes (the tenants file, the builders file): YAML read once at start-up, validated by a
 * shipped schema, every problem reported with its line. One prelude for all of them; each file adds its own checks.
 */

export interface OperatorFileIssue {
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  reason: string;
}

/** An operator file cannot be used: the app does not start. The message is one `file:line: reason` per problem, in file order. */
export abstract class OperatorFileError extends AppError {
  readonly issues: readonly OperatorFileIssue[];

  constructor(
    readonly file: string,
    issues: readonly OperatorFileIssue[],
  ) {
    if (issues.length === 0) throw new TypeError(`${new.target.name} needs at least one issue`);
    const sorted = [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
    super(sorted.map((i) => `${file}:${i.line}: ${i.reason}`).join("\n"));
    this.issues = sorted;
  }
}

/** What a file adds to the shared reading of schema errors. */
export interface SchemaWording {
  /** The reason for an unknown key `prop` (e.g. a secret written inline); undefined: the generic "unknown key". */
  unknownKey?(prop: string, known: readonly string[]): string | undefined;
  /** The reason for an `anyOf` failure (its branches' own errors are left out). */
  anyOf?: string;
}

export interface OperatorFileFormat<E extends OperatorFileError> {
  validator: () => ValidateFunction;
  /** The reason given for an empty file: what it needs at least. */
  emptyReason: string;
  error: (file: string, issues: OperatorFileIssue[]) => E;
  wording?: SchemaWording;
}

/** A file that passed its schema, and where each of its values is, for the file's own checks. */
export interface ParsedOperatorFile {
  data: unknown;
  locator: YamlLocator;
}

/** The file's text; a file that cannot be read is an issue at line 1. */
export function readOperatorFileText<E extends OperatorFileError>(path: string, format: Pick<OperatorFileFormat<E>, "error">): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw format.error(path, [{ line: 1, column: 1, reason: `cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})` }]);
  }
}

/** Parses `text` (duplicate keys refused) and validates it against the format's schema; throws the format's error listing every problem. */
export function parseOperatorFile<E extends OperatorFileError>(text: string, path: string, format: OperatorFileFormat<E>): ParsedOperatorFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  const locator = new YamlLocator(doc, lineCounter);
  if (doc.errors.length > 0) {
    throw format.error(
      path,
      doc.errors.map((e) => {
        const at = e.linePos?.[0] ? { line: e.linePos[0].line, column: e.linePos[0].col } : locator.position(e.pos[0]);
        return { ...at, reason: `YAML syntax error: ${(e.message.split("\n")[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, "")}` };
      }),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) throw format.error(path, [{ line: 1, column: 1, reason: `the file is empty: it needs ${format.emptyReason}` }]);
  const validate = format.validator();
  if (!validate(data)) throw format.error(path, schemaIssues(validate.errors ?? [], locator, format.wording ?? {}));
  return { data, locator };
}

/** Ajv's errors as issues at their lines, in operators' words, each said once. */
function schemaIssues(errors: readonly ErrorObject[], locator: YamlLocator, wording: SchemaWording): OperatorFileIssue[] {
  const out: OperatorFileIssue[] = [];
  const seen = new Set<string>();
  const push = (keyPath: KeyPath, reason: string, keyOf?: string): void => {
    const at = locator.locate(keyPath, keyOf);
    const shown = keyOf === undefined ? keyPath : [...keyPath, keyOf];
    const text = `${shown.length > 0 ? `${formatKeyPath(shown)}: ` : ""}${reason}`;
    if (seen.has(`${at.line}:${text}`)) return;
    seen.add(`${at.line}:${text}`);
    out.push({ ...at, reason: text });
  };
  for (const e of errors) {
    const keyPath = pointerToKeyPath(e.instancePath);
    // The errors of each anyOf branch repeat what the anyOf error says.
    if (e.schemaPath.includes("/anyOf/")) continue;
    switch (e.keyword) {
      case "additionalProperties": {
        const prop = String((e.params as { additionalProperty: string }).additionalProperty);
        const known = Object.keys((e.parentSchema as { properties?: Record<string, unknown> }).properties ?? {});
        const reason = wording.unknownKey?.(prop, known) ?? (known.length > 0 ? `unknown key; allowed keys: ${known.join(", ")}` : "unknown key");
        push(keyPath, reason, prop);
        break;
      }
      case "required":
        push(keyPath, `missing required key "${String((e.params as { missingProperty: string }).missingProperty)}"`);
        break;
      case "anyOf":
        push(keyPath, wording.anyOf ?? e.message ?? e.keyword);
        break;
      case "enum":
        push(keyPath, `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")} (got ${JSON.stringify(e.data)})`);
        break;
      case "pattern": {
        const hint = (e.parentSchema as { patternErrorMessage?: string }).patternErrorMessage;
        push(keyPath, `${JSON.stringify(e.data)} ${hint ?? `must match ${String(e.params.pattern)}`}`);
        break;
      }
      case "propertyNames":
        break; // its `pattern` error, on the same key, says it
      case "type":
        push(keyPath, `must be ${String((e.params as { type: string }).type)} (got ${Array.isArray(e.data) ? "a list" : e.data === null ? "nothing" : typeof e.data})`);
        break;
      case "minimum":
      case "maximum":
        push(keyPath, `must be ${e.keyword === "minimum" ? "at least" : "at most"} ${String(e.params.limit)} (got ${JSON.stringify(e.data)})`);
        break;
      case "minItems":
        push(keyPath, `needs at least ${String(e.params.limit)} entr${e.params.limit === 1 ? "y" : "ies"}`);
        break;
      case "uniqueItems":
        push(keyPath, "lists the same value twice");
        break;
      default:
        push(keyPath, e.message ?? e.keyword);
    }
  }
  return out;
}
