import type { ConfigLimits } from "./config-limits.js";
import type { KeyPath } from "./yaml-locate.js";

/** A count or length over its limit, located by key path (with `keyOf`: at that key of the mapping). */
export interface LimitViolation {
  keyPath: KeyPath;
  keyOf?: string;
  message: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const entries = (n: number, limit: number): string => `${n} entries exceed the limit of ${limit}`;
const chars = (n: number, limit: number): string => `${n} characters exceed the limit of ${limit}`;

/**
 * Counts and lengths of the converted file against `limits`, before the schema and the glob/template checks walk
 * it. Only looks at what has the expected shape; the schema reports the rest. Each violation names the first
 * entry past the limit (or the over-long string), so the annotation lands where the file has to be cut.
 */
export function configLimitViolations(data: unknown, limits: ConfigLimits): LimitViolation[] {
  const out: LimitViolation[] = [];
  if (!isRecord(data) || !Array.isArray(data.images)) return out;
  const images: unknown[] = data.images;
  if (images.length > limits.images) {
    out.push({ keyPath: ["images", limits.images], message: `images: ${entries(images.length, limits.images)}` });
    return out; // the entries past the limit are not looked at, nor is the rest worth a list of its own problems
  }
  images.forEach((image, index) => {
    if (!isRecord(image)) return;
    const at: KeyPath = ["images", index];
    const list = (key: KeyPath, value: unknown, maxCount: number, maxLength?: number): void => {
      if (!Array.isArray(value)) return;
      const name = `images[${index}].${key.join(".")}`;
      if (value.length > maxCount) {
        out.push({ keyPath: [...at, ...key, maxCount], message: `${name}: ${entries(value.length, maxCount)}` });
        return;
      }
      if (maxLength === undefined) return;
      value.forEach((item, i) => {
        if (typeof item === "string" && item.length > maxLength) {
          out.push({ keyPath: [...at, ...key, i], message: `${name}[${i}]: ${chars(item.length, maxLength)}` });
        }
      });
    };
    list(["tags"], image.tags, limits.tagsPerImage, limits.tagLength);
    list(["paths"], image.paths, limits.pathsPerImage, limits.patternLength);
    if (isRecord(image.push)) {
      list(["push", "branches"], image.push.branches, limits.pushGlobsPerImage, limits.patternLength);
      list(["push", "tags"], image.push.tags, limits.pushGlobsPerImage, limits.patternLength);
    }
    if (isRecord(image.build_args)) {
      const keys = Object.keys(image.build_args);
      if (keys.length > limits.buildArgsPerImage) {
        out.push({
          keyPath: [...at, "build_args"],
          keyOf: keys[limits.buildArgsPerImage]!,
          message: `images[${index}].build_args: ${entries(keys.length, limits.buildArgsPerImage)}`,
        });
      }
    }
    if (isRecord(image.labels)) {
      const keys = Object.keys(image.labels);
      if (keys.length > limits.labelsPerImage) {
        out.push({
          keyPath: [...at, "labels"],
          keyOf: keys[limits.labelsPerImage]!,
          message: `images[${index}].labels: ${entries(keys.length, limits.labelsPerImage)}`,
        });
      }
    }
  });
  return out;
}
