import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { inspect } from "node:util";
import type { RegistryCredentials } from "./tenant-policy.js";
import { AppError } from "../errors/index.js";

const MASK = "***";

/** A credential reference of the tenants file: the variable or file holding the value, never the value. */
export type CredentialReference = { kind: "env"; name: string } | { kind: "file"; path: string };

/** A reference could not be resolved. The message names the reference, never a value. */
export class CredentialReferenceError extends AppError {
  readonly code = "CREDENTIAL_REFERENCE_UNRESOLVED";
  constructor(message: string) {
    super(message);
  }
}

export function describeReference(ref: CredentialReference): string {
  return ref.kind === "env" ? `environment variable ${ref.name}` : `file ${ref.path}`;
}

/**
 * The value behind a reference. A file's one trailing newline is dropped (what `echo` and editors add); relative
 * paths are relative to `baseDir` (the tenants file's directory).
 */
export function resolveReference(ref: CredentialReference, env: NodeJS.ProcessEnv, baseDir: string): string {
  if (ref.kind === "env") {
    const value = env[ref.name];
    if (value === undefined || value === "") throw new CredentialReferenceError(`the ${describeReference(ref)} is not set`);
    return value;
  }
  const path = isAbsolute(ref.path) ? ref.path : resolve(baseDir, ref.path);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new CredentialReferenceError(`the file ${path} cannot be read (${code})`);
  }
  const value = text.replace(/\r?\n$/, "");
  if (value === "") throw new CredentialReferenceError(`the file ${path} is empty`);
  return value;
}

/** Credentials whose password JSON, `util.inspect` and loggers built on either show as `***`. */
export function maskedCredentials(username: string, password: string): RegistryCredentials {
  const shown = (): Record<string, string> => ({ username, password: MASK });
  const credentials = { username, password };
  Object.defineProperty(credentials, "toJSON", { value: shown, enumerable: false });
  Object.defineProperty(credentials, inspect.custom, { value: shown, enumerable: false });
  return credentials;
}
