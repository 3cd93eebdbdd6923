import { stripAnsi } from "../text/index.js";

/** The provenance attestation pushed with the image (issue 19 point 4), or why there is none. */
export interface ProvenanceReport {
  /** The mode BuildKit was asked for. */
  mode?: "min" | "max";
  /** `repository@digest` of the pushed index, what `imagetools inspect` reads. */
  image?: string;
  /** The attestation manifests, one per platform (in the index's order). */
  attestations?: ReadonlyArray<{ digest: string; platform?: string }>;
  /** Said instead (the builder makes no attestations, or reading them back failed); one line. */
  note?: string;
}

/** Attestation rows shown; the rest are counted (one per platform, so only a very wide image has more). */
const SHOWN = 8;

const code = (s: string): string => `\`${s.replace(/`/g, "'")}\``;

/** The check run's provenance section: the attestation's digest and the command that prints it. Empty when none. */
export function renderProvenance(p: ProvenanceReport | undefined): string[] {
  if (!p) return [];
  const lines: string[] = ["", `**Provenance**${p.mode ? ` (SLSA, \`mode=${p.mode}\`)` : ""}`, ""];
  const attestations = p.attestations ?? [];
  if (attestations.length === 1) lines.push(`Attestation: ${code(attestations[0]!.digest)}`);
  for (const a of attestations.length > 1 ? attestations.slice(0, SHOWN) : []) lines.push(`- ${a.platform ? `${code(a.platform)}: ` : ""}${code(a.digest)}`);
  if (attestations.length > SHOWN) lines.push(`- …and ${attestations.length - SHOWN} more`);
  if (p.image && attestations.length > 0) {
    lines.push("", "Read it with:", "", "```sh", `docker buildx imagetools inspect ${p.image} --format '{{ json .Provenance }}'`, "```");
  }
  if (p.note) lines.push(...(attestations.length > 0 ? [""] : []), stripAnsi(p.note).replace(/\s+/g, " ").slice(0, 500));
  return lines;
}
