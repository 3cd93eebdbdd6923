import { isMap, isPair, isScalar, isSeq } from "yaml";
import type { Document, LineCounter, Node, Pair } from "yaml";

/** A key path into the parsed document: `["images", 1, "platforms", 0]`. */
export type KeyPath = ReadonlyArray<string | number>;

export interface Position {
  line: number;
  column: number;
}

/** `["images", 1, "platforms", 0]` → `images[1].platforms[0]`. */
export function formatKeyPath(path: KeyPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out;
}

/** JSON pointer (`/images/1/platforms/0`, as ajv reports) → key path. */
export function pointerToKeyPath(pointer: string): Array<string | number> {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

function pairFor(node: unknown, key: string | number): Pair | undefined {
  if (!isMap(node)) return undefined;
  return node.items.find((p) => (isScalar(p.key) ? String(p.key.value) === String(key) : String(p.key) === String(key)));
}

function child(node: unknown, key: string | number): unknown {
  if (isSeq(node) && typeof key === "number") return node.items[key];
  return pairFor(node, key)?.value ?? undefined;
}

/** Locates the node at `path`; with `keyOf`, the key node of that property inside it (for "unknown key" errors). */
export class YamlLocator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  position(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  /** Position of the value at `path`, falling back to its nearest located ancestor. */
  locate(path: KeyPath, keyOf?: string): Position {
    let node: unknown = this.doc.contents;
    let best: Node | undefined = isNode(node) ? node : undefined;
    for (const seg of path) {
      node = child(node, seg);
      if (isNode(node)) best = node;
      else break;
    }
    if (keyOf !== undefined && node !== undefined) {
      const pair = pairFor(node, keyOf);
      if (pair && isPair(pair) && isNode(pair.key)) return this.start(pair.key);
    }
    return best ? this.start(best) : { line: 1, column: 1 };
  }

  /** Position of the key of the property at `path` (e.g. `images[0].cache`), else of its value. */
  locateKey(path: KeyPath): Position {
    if (path.length === 0) return this.locate(path);
    const parentPath = path.slice(0, -1);
    const last = path[path.length - 1]!;
    if (typeof last === "number") return this.locate(path);
    return this.locate(parentPath, last);
  }

  private start(node: Node): Position {
    return this.position(node.range?.[0] ?? 0);
  }
}

function isNode(value: unknown): value is Node {
  return isMap(value) || isSeq(value) || isScalar(value);
}
