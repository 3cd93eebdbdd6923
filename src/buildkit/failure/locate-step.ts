import type { SourceLocation } from "../errors.js";
import { parseStepName } from "../progress/step-name.js";
import { countedInstructions, parseDockerfile } from "./dockerfile-instructions.js";
import type { DockerfileInstruction, DockerfileStage, ParsedDockerfile } from "./dockerfile-instructions.js";

/**
 * Maps a step name (`[build 2/4] RUN make`, `[2/4] RUN make`) to the physical lines of its Dockerfile
 * instruction — the fallback when the daemon sends no source details (Docker Engine 20.10, docs/buildkit-wire.md#failing-step).
 * The stage is found by name (`stage-N` for unnamed ones) and the step by the frontend's own numbering; the
 * instruction text must agree. When the numbering does not fit (other frontend version, ONBUILD triggers) the
 * instruction is found by its text instead. Returns undefined rather than guess between equal candidates.
 */
export function locateStep(stepName: string, dockerfileText: string, file: string): SourceLocation | undefined {
  const step = parseStepName(stepName);
  if (step.internal) return undefined;
  const dockerfile = parseDockerfile(dockerfileText);
  const found = find(step.text, step.stage, step.index, step.total, dockerfile);
  return found && { file, startLine: found.startLine, endLine: found.endLine };
}

function find(
  text: string,
  stageName: string | undefined,
  index: number | undefined,
  total: number | undefined,
  dockerfile: ParsedDockerfile,
): DockerfileInstruction | undefined {
  const { stages, instructions } = dockerfile;
  if (index === undefined || total === undefined) {
    // Unnumbered: an implicit stage (`FROM <image>` of a `COPY --from=<image>`) or a name we can only match.
    const implicit = /^FROM\s+(\S+)/i.exec(text);
    if (implicit) {
      const ref = normaliseRef(implicit[1] ?? "");
      const copy = instructions.filter((i) => {
        const from = fromFlag(i);
        return (i.keyword === "COPY" || i.keyword === "ADD") && from !== undefined && normaliseRef(from) === ref;
      });
      if (copy.length === 1) return copy[0];
    }
    return unique(bestMatches(instructions, text));
  }

  const candidates = stageCandidates(stages, stageName);
  for (const stage of candidates) {
    const counted = countedInstructions(stage, stages);
    const instruction = counted.length === total ? counted[index - 1] : undefined;
    if (instruction && matchScore(instruction, text) > 0) return instruction;
  }
  // The numbering did not fit: match the text within the candidate stages, nearest to the expected position.
  const scope = candidates.length > 0 ? candidates : stages;
  const matches = bestMatches(
    scope.flatMap((s) => [s.from, ...s.commands]),
    text,
  );
  if (matches.length <= 1) return matches[0];
  // ONBUILD triggers of the base are counted before the stage's own steps: shift by the surplus.
  const byPosition = scope.flatMap((s) => {
    const counted = countedInstructions(s, stages);
    const surplus = Math.max(0, total - counted.length);
    return counted[index - 1 - surplus] ?? [];
  });
  const positional = matches.filter((m) => byPosition.includes(m));
  return unique(positional);
}

function stageCandidates(stages: readonly DockerfileStage[], name: string | undefined): DockerfileStage[] {
  // `[n/m]` without a stage name is what single-stage Dockerfiles get; any stage may be meant otherwise.
  if (name === undefined) return [...stages];
  const lower = name.toLowerCase();
  const named = stages.filter((s) => s.name === lower);
  if (named.length > 0) return named;
  const numbered = /^stage-(\d+)$/.exec(lower);
  const byIndex = numbered ? stages[Number(numbered[1])] : undefined;
  return byIndex ? [byIndex] : [];
}

function bestMatches(instructions: readonly DockerfileInstruction[], text: string): DockerfileInstruction[] {
  let best = 0;
  let matches: DockerfileInstruction[] = [];
  for (const instruction of instructions) {
    const score = matchScore(instruction, text);
    if (score === 0 || score < best) continue;
    if (score > best) {
      best = score;
      matches = [];
    }
    matches.push(instruction);
  }
  return matches;
}

function unique<T>(items: readonly T[]): T | undefined {
  return items.length === 1 ? items[0] : undefined;
}

/**
 * How well an instruction agrees with the text of a step name: 3 = same text, 2 = same once `$VARIABLES`
 * (which the frontend expands in names) are treated as wildcards, 1 = same keyword (FROM only: the name shows the
 * normalised reference), 0 = different.
 */
function matchScore(instruction: DockerfileInstruction, text: string): number {
  const [keyword = "", ...rest] = collapse(text).split(" ");
  if (keyword.toUpperCase() !== instruction.keyword) return 0;
  const shown = rest.join(" ");
  const written = collapse(instruction.args);
  if (written === shown) return 3;
  if (instruction.heredocs.length > 0 && shown.startsWith(written)) return 2;
  if (withVariablesAsWildcards(written).test(shown)) return 2;
  if (instruction.keyword === "FROM") {
    const base = instruction.args.split(/\s+/).find((w) => !w.startsWith("--")) ?? "";
    const shownRef = normaliseRef(rest[0] ?? "");
    return base.includes("$") || normaliseRef(base) === shownRef ? 2 : 1;
  }
  return 0;
}

function collapse(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function withVariablesAsWildcards(written: string): RegExp {
  const parts = written.split(/(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)/);
  const source = parts.map((part, i) => (i % 2 === 1 ? "[^]*?" : escapeRegExp(part).replace(/ /g, " ?"))).join("");
  return new RegExp(`^${source}$`);
}

function fromFlag(instruction: DockerfileInstruction): string | undefined {
  return /(?:^|\s)--from=(\S+)/i.exec(instruction.args)?.[1];
}

/** `alpine` ≙ `docker.io/library/alpine:latest`, as the frontend normalises references in names. */
function normaliseRef(ref: string): string {
  let name = ref.toLowerCase();
  if (!/[:@]/.test(name.split("/").pop() ?? "")) name += ":latest";
  if (!name.includes("/")) name = `library/${name}`;
  const first = name.split("/")[0] ?? "";
  if (!first.includes(".") && !first.includes(":") && first !== "localhost") name = `docker.io/${name}`;
  return name;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
