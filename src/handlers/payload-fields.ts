import { PayloadError } from "./handler-result.js";
import type { FieldName, Fields, ItemOf, ObjectPart, ValueAt } from "../intake/index.js";

/**
 * Small typed readers over an untrusted webhook payload: field names come from GitHub's payload types (see
 * webhook-payloads.ts), values are checked as they are read, and each failure names the field.
 */

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function valueOf(parent: object | undefined, key: string): unknown {
  return parent === undefined ? undefined : (parent as Record<string, unknown>)[key];
}

export function obj<T, K extends FieldName<T>>(parent: Fields<T> | undefined, key: K, path: string): Fields<ObjectPart<ValueAt<T, K>>> {
  const v = valueOf(parent, key);
  if (!isObject(v)) throw new PayloadError(`${path}.${key} is missing or not an object`);
  return v as Fields<ObjectPart<ValueAt<T, K>>>;
}

export function optObj<T, K extends FieldName<T>>(parent: Fields<T> | undefined, key: K): Fields<ObjectPart<ValueAt<T, K>>> | undefined {
  const v = valueOf(parent, key);
  return isObject(v) ? (v as Fields<ObjectPart<ValueAt<T, K>>>) : undefined;
}

/** The objects of an array field (other elements are read as empty objects, which the readers then refuse); undefined when it is no array. */
export function optItems<T, K extends FieldName<T>>(parent: Fields<T> | undefined, key: K): Array<Fields<ObjectPart<ItemOf<ValueAt<T, K>>>>> | undefined {
  const v = valueOf(parent, key);
  if (!Array.isArray(v)) return undefined;
  return v.map((item: unknown) => (isObject(item) ? item : {}) as Fields<ObjectPart<ItemOf<ValueAt<T, K>>>>);
}

export function str<T>(parent: Fields<T>, key: FieldName<T>, path: string): string {
  const v = valueOf(parent, key);
  if (typeof v !== "string" || v.length === 0) throw new PayloadError(`${path}.${key} is missing or not a string`);
  return v;
}

export function optStr<T>(parent: Fields<T> | undefined, key: FieldName<T>): string | undefined {
  const v = valueOf(parent, key);
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

export function int<T>(parent: Fields<T>, key: FieldName<T>, path: string): number {
  const v = valueOf(parent, key);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new PayloadError(`${path}.${key} is missing or not an integer`);
  return v;
}

export function bool<T>(parent: Fields<T>, key: FieldName<T>): boolean {
  return valueOf(parent, key) === true;
}

const SHA = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/;
const ZERO_SHA = /^0+$/;

export function sha<T>(parent: Fields<T>, key: FieldName<T>, path: string): string {
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
