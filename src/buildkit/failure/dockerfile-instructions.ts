/**
 * Just enough of the Dockerfile grammar to map a step back to its lines: instructions with their physical line
 * range, joined the way the frontend names them (escape + newline removed, the next line's indentation kept,
 * comment and blank lines inside a continuation dropped), heredoc bodies skipped, and the stages.
 */

export interface DockerfileInstruction {
  /** Upper-case keyword: `RUN`, `COPY`, `FROM`… */
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  args: string;
  /** 1-based, inclusive physical lines (heredoc bodies included). */
  startLine: number;
  endLine: number;
  /** Heredoc words the instruction opened (`<<EOF`), if any. */
  heredocs: string[];
}

export interface DockerfileStage {
  /** 0-based position in the file; unnamed stages are called `stage-<index>` by the frontend. */
  index: number;
  /** Lower-cased `AS` name. */
  name?: string;
  /** Base as written (`scratch`, an image reference, a previous stage's name, possibly with `$VARS`). */
  base: string;
  platform?: string;
  from: DockerfileInstruction;
  /** Instructions after FROM, up to the next FROM. */
  commands: DockerfileInstruction[];
}

export interface ParsedDockerfile {
  escape: string;
  instructions: DockerfileInstruction[];
  stages: DockerfileStage[];
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$/;
// A heredoc is a shell word of its own that starts `<<` (after an optional file descriptor): `<<EOF`, `<<-"EOF"`, `2<<EOF`.
const HEREDOC_WORD = /^\d*<<(-?)([^<]+)$/;
const HEREDOC_KEYWORDS = new Set(["RUN", "COPY", "ADD"]);

export function parseDockerfile(text: string): ParsedDockerfile {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  let escape = "\\";
  let i = 0;
  for (; i < lines.length; i++) {
    const directive = DIRECTIVE.exec(lines[i] ?? "");
    if (!directive) break;
    const [, key = "", value = ""] = directive;
    if (key.toLowerCase() === "escape" && (value === "`" || value === "\\")) escape = value;
  }
  const continuation = new RegExp(`${escapeRegExp(escape)}[ \\t]*$`);
  const isSkippable = (line: string) => /^\s*(#.*)?$/.test(line);

  const instructions: DockerfileInstruction[] = [];
  for (; i < lines.length; i++) {
    const first = lines[i] ?? "";
    if (isSkippable(first)) continue;
    const startLine = i + 1;
    let joined = first.replace(/^\s+/, "");
    while (continuation.test(joined) && i + 1 < lines.length) {
      joined = joined.replace(continuation, "");
      i++;
      while (i < lines.length - 1 && isSkippable(lines[i] ?? "")) i++;
      const next = lines[i] ?? "";
      if (!isSkippable(next)) joined += next;
    }
    joined = joined.replace(continuation, "").trimEnd();
    const match = /^(\S+)\s*(.*)$/s.exec(joined);
    if (!match) continue;
    const keyword = (match[1] ?? "").toUpperCase();
    const args = match[2] ?? "";
    const heredocs: string[] = [];
    for (const doc of heredocWords(keyword, args)) {
      heredocs.push(doc.name);
      while (i + 1 < lines.length) {
        i++;
        const body = lines[i] ?? "";
        if ((doc.stripTabs ? body.replace(/^\t+/, "") : body) === doc.name) break;
      }
    }
    instructions.push({ keyword, args, startLine, endLine: i + 1, heredocs });
  }
  return { escape, instructions, stages: toStages(instructions) };
}

/** The heredocs an instruction opens, as the frontend finds them: RUN, COPY and ADD (also after ONBUILD), shell form only. */
function heredocWords(keyword: string, args: string): Array<{ name: string; stripTabs: boolean }> {
  let command = keyword;
  let rest = args;
  if (keyword === "ONBUILD") {
    const inner = /^(\S+)\s*(.*)$/s.exec(args);
    command = (inner?.[1] ?? "").toUpperCase();
    rest = inner?.[2] ?? "";
  }
  if (!HEREDOC_KEYWORDS.has(command) || !rest.includes("<<") || isJsonArray(rest)) return [];
  const docs: Array<{ name: string; stripTabs: boolean }> = [];
  for (const word of shellWords(rest)) {
    const match = HEREDOC_WORD.exec(word);
    const name = match?.[2]?.replace(/["']/g, "");
    if (match && name) docs.push({ name, stripTabs: match[1] === "-" });
  }
  return docs;
}

/** Splits on unquoted white space, keeping quotes and escapes in the words (the frontend's raw shell words). */
function shellWords(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quote) {
      if (ch === quote) quote = "";
      else if (ch === "\\" && quote === '"' && i + 1 < text.length) word += text[i++];
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "\\" && i + 1 < text.length) word += text[i++];
    else if (/\s/.test(ch)) {
      if (word) words.push(word);
      word = "";
      continue;
    }
    word += ch;
  }
  if (word) words.push(word);
  return words;
}

function isJsonArray(text: string): boolean {
  try {
    return Array.isArray(JSON.parse(text));
  } catch {
    return false;
  }
}

function toStages(instructions: DockerfileInstruction[]): DockerfileStage[] {
  const stages: DockerfileStage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const words = instruction.args.split(/\s+/).filter(Boolean);
      let platform: string | undefined;
      while (words[0]?.startsWith("--")) {
        const flag = words.shift() ?? "";
        const platformFlag = /^--platform=(.*)$/i.exec(flag);
        if (platformFlag) platform = platformFlag[1];
      }
      const base = words[0] ?? "";
      const name = words.length >= 3 && words[1]?.toLowerCase() === "as" ? words[2]?.toLowerCase() : undefined;
      stages.push({
        index: stages.length,
        ...(name !== undefined && { name }),
        base,
        ...(platform !== undefined && { platform }),
        from: instruction,
        commands: [],
      });
    } else {
      stages[stages.length - 1]?.commands.push(instruction);
    }
  }
  return stages;
}

const COUNTED_KEYWORDS = new Set(["RUN", "COPY", "ADD", "WORKDIR"]);

/**
 * The instructions of a stage that get a `[stage n/m]` number, in order: FROM when the base is an image
 * (not `scratch`, not an earlier stage), then every RUN, COPY, ADD and WORKDIR (checked against Docker
 * Engine 20.10.24: ARG, ENV, USER, LABEL, EXPOSE, CMD are not counted; ONBUILD triggers of the base would be).
 */
export function countedInstructions(
  stage: DockerfileStage,
  stages: readonly DockerfileStage[],
): DockerfileInstruction[] {
  const base = stage.base.toLowerCase();
  const fromStage = stages.some((s) => s.index < stage.index && s.name === base);
  const counted = base === "scratch" || fromStage ? [] : [stage.from];
  for (const command of stage.commands) if (COUNTED_KEYWORDS.has(command.keyword)) counted.push(command);
  return counted;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
