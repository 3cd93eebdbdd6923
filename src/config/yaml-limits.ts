import { isAlias, isMap, isPair, isSeq } from "yaml";
import type { Document, Node } from "yaml";

/**
 * Bounds on the YAML structure of an untrusted file, each checked in one linear pass: an estimate of the nesting
 * depth before parsing (the `yaml` parser is super-linear on 64 KiB of `[`, and recursive), the exact depth on the
 * parsed tree, and how many aliases resolving it expands to (an alias bomb) before anything converts or walks it.
 */

const SPACE = 0x20;

function isBlank(c: number): boolean {
  return c === SPACE || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * Offset of the first place where the text nests deeper than `max` by a cheap estimate, or undefined. Counts flow
 * brackets opened where a YAML token can start (not inside quotes, comments or block scalars, nor in the middle
 * of a plain scalar like `src/[ab]`) plus block levels by indentation and `- ` / `? ` indicators. The estimate
 * is within a factor of two of the real depth either way, so callers pass twice their limit and check the exact
 * depth after parsing ({@link deepestNode}); this only stops the parser from meeting pathological input.
 */
export function nestingEstimateExceeds(text: string, max: number): number | undefined {
  const blockIndents: number[] = [];
  let flow = 0;
  let blockScalarIndent: number | undefined;
  let i = 0;
  const n = text.length;
  while (i < n) {
    // At a line start.
    const lineStart = i;
    let indent = 0;
    while (i < n && text.charCodeAt(i) === SPACE) {
      i++;
      indent++;
    }
    const first = i < n ? text[i] : "\n";
    const blankLine = first === "\n" || first === "\r" || first === "#";
    if (blockScalarIndent !== undefined) {
      if (blankLine || indent > blockScalarIndent) {
        i = skipLine(text, i) + 1;
        continue;
      }
      blockScalarIndent = undefined;
    }
    if (flow === 0 && !blankLine) {
      while (blockIndents.length > 0 && blockIndents.at(-1)! >= indent) blockIndents.pop();
      blockIndents.push(indent);
      // Compact nesting on one line: `- - x`, `- ? x`.
      while ((text[i] === "-" || text[i] === "?") && (i + 1 >= n || isBlank(text.charCodeAt(i + 1)))) {
        i++;
        while (i < n && text.charCodeAt(i) === SPACE) i++;
        blockIndents.push(i - lineStart);
        if (blockIndents.length > max) return i;
      }
      if (blockIndents.length > max) return i;
    }
    // The rest of the line: flow brackets, quotes, comments.
    let tokenStart = true;
    while (i < n && text[i] !== "\n") {
      const ch = text[i]!;
      if (tokenStart && (ch === '"' || ch === "'")) {
        i = skipQuoted(text, i);
        tokenStart = false;
        continue;
      }
      if (ch === "#" && tokenStart) {
        i = skipLine(text, i);
        break;
      }
      if (tokenStart && (ch === "[" || ch === "{")) {
        flow++;
        if (flow + blockIndents.length > max) return i;
      } else if (flow > 0 && (ch === "]" || ch === "}")) {
        flow--;
      } else if (flow === 0 && (ch === "|" || ch === ">") && tokenStart && restIsBlockScalarHeader(text, i + 1)) {
        blockScalarIndent = indent;
      }
      const c = text.charCodeAt(i);
      tokenStart = isBlank(c) || (flow > 0 && (ch === "[" || ch === "{" || ch === "," || ch === ":"));
      i++;
    }
    if (i < n && text[i] === "\n") i++;
  }
  return undefined;
}

function skipLine(text: string, i: number): number {
  const nl = text.indexOf("\n", i);
  return nl < 0 ? text.length : nl;
}

/** Past the closing quote (quoted scalars may span lines), or the end of the text. */
function skipQuoted(text: string, start: number): number {
  const quote = text[start];
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i];
    if (quote === '"' && ch === "\\") {
      i += 2;
      continue;
    }
    if (ch === quote) {
      if (quote === "'" && text[i + 1] === "'") {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return i;
}

/** After `|` or `>`: only indentation/chomping indicators, then spaces and maybe a comment, to the line's end. */
function restIsBlockScalarHeader(text: string, i: number): boolean {
  while (i < text.length && /[0-9+-]/.test(text[i]!)) i++;
  while (i < text.length && text.charCodeAt(i) === SPACE) i++;
  return i >= text.length || text[i] === "\n" || text[i] === "\r" || text[i] === "#";
}

/** The first collection (in document order) nested deeper than `max`, or undefined. Aliases are not followed. */
export function deepestNode(doc: Document, max: number): Node | undefined {
  const stack: Array<{ node: unknown; depth: number }> = [{ node: doc.contents, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth > max) return node;
    const children: unknown[] = [];
    for (const item of node.items) {
      if (isPair(item)) children.push(item.key, item.value);
      else children.push(item);
    }
    for (let k = children.length - 1; k >= 0; k--) stack.push({ node: children[k], depth: depth + 1 });
  }
  return undefined;
}

/**
 * The alias at which resolving the document has expanded more than `max` aliases, or undefined. Each alias counts
 * once plus, recursively, the aliases inside what it points to (so `[*a, *a]` with nine aliases in `a` is 20).
 * This is at least what the `yaml` library's own `maxAliasCount` counts, so `toJS` with the same bound succeeds
 * after this passes. Counts saturate at `max + 1`.
 */
export function aliasBombAt(doc: Document, max: number): Node | undefined {
  const weights = new Map<unknown, number>();
  const cap = max + 1;
  // Aliases in `root` in document order, with the running expansion; weightOf gives an anchored node's weight.
  const walk = (root: unknown, onAlias?: (alias: Node, total: number) => boolean): number => {
    let total = 0;
    const stack: unknown[] = [root];
    while (stack.length > 0) {
      const node = stack.pop();
      if (isAlias(node)) {
        total = Math.min(cap, total + 1 + weightOf(node.resolve(doc)));
        if (onAlias?.(node, total)) return total;
        continue;
      }
      if (!isMap(node) && !isSeq(node)) continue;
      const children: unknown[] = [];
      for (const item of node.items) {
        if (isPair(item)) children.push(item.key, item.value);
        else children.push(item);
      }
      for (let k = children.length - 1; k >= 0; k--) stack.push(children[k]);
    }
    return total;
  };
  const weightOf = (target: unknown): number => {
    if (target === undefined) return 0;
    const known = weights.get(target);
    if (known !== undefined) return known;
    weights.set(target, cap); // an alias inside its own anchor: treat as unbounded
    const w = walk(target);
    weights.set(target, w);
    return w;
  };
  let found: Node | undefined;
  walk(doc.contents, (alias, total) => {
    if (total > max) found = alias;
    return found !== undefined;
  });
  return found;
}
