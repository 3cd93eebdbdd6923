import { PayloadError } from "./handler-result.js";

/** Small typed readers over an untrusted webhook payload; each failure names the field. */
export type Obj = Record<string, unknown>;

export function obj(parent: unknown, key: string, path: string): Obj {
  const v = (parent as Obj | null | undefined)?.[key];
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new PayloadError(`${path}.${key} is missing or not an object`);
  return v as Obj;
}

export function optObj(parent: unknown, key: string): Obj | undefined {
  const v = (parent as Obj | null | undefined)?.[key];
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : undefined;
}

export function str(parent: Obj, key: string, path: string): string {
  const v = parent[key];
  if (typeof v !== "string" || v.length === 0) throw new PayloadError(`${path}.${key} is missing or not a string`);
  return v;
}

export function optStr(parent: Obj, key: string): string | undefined {
  const v = parent[key];
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

export function int(parent: Obj, key: string, path: string): number {
  const v = parent[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new PayloadError(`${path}.${key} is missing or not an integer`);
  return v;
}

export function bool(parent: Obj, key: string): boolean {
  return parent[key] === true;
}

const SHA = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/;
const ZERO_SHA = /^0+$/;

export function sha(parent: Obj, key: string, path: string): string {
  const v = str(parent, key, path);
  if (!SHA.test(v)) throw new PayloadError(`${path}.${key} is not a commit sha`);
  return v;
}

export function isZeroSha(v: unknown): boolean {
  return typeof v === "string" && ZERO_SHA.test(v);
}

/** Git ref names: what `git check-ref-format` would refuse, plus control characters. */
export function isPlausibleRefName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 255 &&
    ![...name].some((c) => c.charCodeAt(0) <= 0x20 || c.charCodeAt(0) === 0x7f) &&
    !/[~^:?*[\\]/.test(name) &&
    !name.includes("..") &&
    !name.includes("@{") &&
    !name.startsWith("/") &&
    !name.endsWith("/") &&
    !name.endsWith(".lock")
  );
}
