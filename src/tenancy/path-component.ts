import { AppError } from "../errors/index.js";
/**
 * GitHub names (owner, repository, the config's image names) as registry path components, without ever merging
 * two distinct names.
 *
 * A registry path component must match `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`. GitHub owners and repositories are
 * case-insensitive, so lowercasing merges nothing; but `.github`, `a..b`, `_x` and `x-` are legal GitHub names and
 * not legal components. The map:
 *
 * - a name that already is a valid component and holds no `__` is kept as it is (`my-app` → `my-app`);
 * - every other name is escaped to `<words>__<separators>`: its alphanumeric runs joined by `-`, then `__`, then
 *   the separator runs around and between them, one code each (`d` for `.`, `u` for `_`, `h` for `-`, `e` for
 *   none), joined by `-`. `.github` → `github__d-e`, `a..b` → `a-b__e-dd-e`, `x-` → `x__e-h`. A name without any
 *   letter or digit gets the word `x` (`--` → `x__hh`).
 *
 * Injective: kept names contain no `__` and escaped ones contain exactly one, so the two never meet; an escaped
 * name gives back its words (split at `-`) and the separators between them (split at `-`, decode), which
 * interleave into the original. `decodePathComponent` is that inverse; the tests check it on every case.
 */

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const ALNUM_RUNS = /[a-z0-9]+/g;
const SEPARATOR_CODE: Record<string, string> = { ".": "d", _: "u", "-": "h" };
const CODE_SEPARATOR: Record<string, string> = { d: ".", u: "_", h: "-" };
const NO_SEPARATOR = "e";
/** The word of a name without letters or digits; told apart from a real `x` by its single separator code. */
const NO_WORDS = "x";

/** Thrown for a name outside what GitHub allows in owner, repository and image names (`[A-Za-z0-9._-]+`). */
export class PathComponentError extends AppError {
  readonly code = "PATH_COMPONENT_INVALID";
  constructor(readonly input: string) {
    super(`${JSON.stringify(input)} is not a GitHub name (letters, digits, '.', '_' and '-' only, not empty)`);
  }
}

/** Whether `s` is a valid registry path component (the OCI distribution grammar). */
export function isPathComponent(s: string): boolean {
  return COMPONENT.test(s);
}

/** The registry path component for a GitHub owner, repository or image name (see the module comment). */
export function pathComponent(name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new PathComponentError(name);
  const lower = name.toLowerCase();
  if (isPathComponent(lower) && !lower.includes("__")) return lower;
  const words = lower.match(ALNUM_RUNS) ?? [];
  const separators = lower.split(ALNUM_RUNS);
  const codes = separators.map((run) => (run === "" ? NO_SEPARATOR : [...run].map((c) => SEPARATOR_CODE[c]).join("")));
  return `${words.length > 0 ? words.join("-") : NO_WORDS}__${codes.join("-")}`;
}

/** The inverse of `pathComponent` on its outputs (lowercase): for tests and for reading a path back. */
export function decodePathComponent(component: string): string {
  const at = component.indexOf("__");
  if (at < 0) return component;
  const codes = component.slice(at + 2).split("-");
  const words = codes.length === 1 ? [] : component.slice(0, at).split("-");
  let out = "";
  codes.forEach((code, i) => {
    if (code !== NO_SEPARATOR) out += [...code].map((c) => CODE_SEPARATOR[c]).join("");
    if (i < words.length) out += words[i];
  });
  return out;
}
