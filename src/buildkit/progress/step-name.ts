import type { StepLabel } from "./events.js";

export interface ParsedStepName extends StepLabel {
  /** The name without its bracketed prefix, e.g. `RUN make` for `[build 2/4] RUN make`. */
  text: string;
}

// `[n/m]`, `[stage n/m]`, `[platform stage n/m]`, `[platform n/m]`; platforms contain a slash, stage names don't.
const COUNTED = /^\[(?:(\S+\/\S+)\s+)?(?:(\S+)\s+)?(\d+)\/(\d+)\]\s?(.*)$/s;
const BRACKETED = /^\[([^\]]*)\]\s?(.*)$/s;

/** Splits a vertex name into the parts the Dockerfile frontend put into it. */
export function parseStepName(name: string): ParsedStepName {
  const counted = COUNTED.exec(name);
  if (counted) {
    const [, platform, stage, index, total, text] = counted;
    return {
      ...(platform !== undefined && { platform }),
      ...(stage !== undefined && { stage }),
      index: Number(index),
      total: Number(total),
      internal: false,
      text: text ?? "",
    };
  }
  const bracketed = BRACKETED.exec(name);
  if (bracketed) {
    const [, label = "", text = ""] = bracketed;
    const internal = label === "internal" || label.endsWith(" internal");
    return { internal, text };
  }
  return { internal: false, text: name };
}
