// A parsed YAML config that remembers where every node came from, so errors can point at line:column.
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node, Pair } from 'yaml';
import type { ConfigPath } from './problem.ts';

export interface Position {
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export interface YamlSyntaxError extends Position {
  message: string;
}

// Advice appended to the yaml package's messages where the fix is not obvious from the message alone.
const HINTS: Record<string, string> = {
  TAB_AS_INDENT: '; indent with spaces',
  BLOCK_AS_IMPLICIT_KEY: '; is a ":" missing its space, or a line indented too far?',
  MULTILINE_IMPLICIT_KEY: '; is a ":" missing after the key?',
};

/**
 * YAML text parsed once, keeping the document so that any config path can be mapped back to its position.
 *
 * @example
 * const source = new YamlSource('routes:\n  - name: a\n');
 * source.positionOf(['routes', 0, 'name']); // { line: 2, column: 11 }
 */
export class YamlSource {
  /** The plain data (null for an empty file); meaningless when syntaxErrors is not empty. */
  readonly data: unknown;
  /** Syntax errors in source order; empty when the text is well-formed YAML. */
  readonly syntaxErrors: YamlSyntaxError[];
  #doc: Document.Parsed;
  #lines = new LineCounter();

  constructor(text: string) {
    // YAML 1.2 core schema (so `on:` stays a string key), with `<<` merge keys for DRY configs.
    this.#doc = parseDocument(text, { lineCounter: this.#lines, prettyErrors: false, merge: true, uniqueKeys: true });
    // The parser often reports one mistake several times at one spot; the first report is the useful one.
    const reported = new Set<number>();
    this.syntaxErrors = [];
    for (const error of this.#doc.errors) {
      if (reported.has(error.pos[0])) continue;
      reported.add(error.pos[0]);
      this.syntaxErrors.push({ ...this.#at(error.pos[0]), message: this.#describe(error.code, error.pos[0], error.message) });
    }
    let data: unknown = null;
    if (this.syntaxErrors.length === 0) {
      try {
        data = this.#doc.toJS({ maxAliasCount: 100 });
      } catch (error) {
        // Unresolvable aliases and alias bombs surface only here.
        this.syntaxErrors.push({ ...this.#aliasPosition(), message: lowerFirst((error as Error).message) });
      }
    }
    this.data = data;
  }

  /**
   * Where the node at `path` starts. With `key`, where that key of the map at `path` is written. A path that
   * leaves the document (a default, a missing field) resolves to the deepest node that exists.
   */
  positionOf(path: ConfigPath, key?: string): Position {
    const found = this.#find(path);
    if (key !== undefined && found.complete && isMap(found.node)) {
      const pair = findPair(found.node, key);
      if (pair) return this.#at(startOf(pair.key as Node));
    }
    return this.#at(found.offset);
  }

  /** The line of the node at `path`, or undefined when the path is not written in the file. */
  lineOf(path: ConfigPath): number | undefined {
    const found = this.#find(path);
    return found.complete ? this.#at(found.offset).line : undefined;
  }

  #find(path: ConfigPath): { node: unknown; offset: number; complete: boolean } {
    let node: unknown = this.#doc.contents;
    let offset = isNodeLike(node) ? startOf(node) : 0;
    for (const segment of path) {
      node = this.#resolve(node);
      let pair: Pair | undefined;
      let next: unknown;
      if (isMap(node)) {
        pair = findPair(node, String(segment));
        next = pair?.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        next = node.items[segment];
      } else {
        return { node, offset, complete: false };
      }
      if (pair === undefined && next === undefined) return { node, offset, complete: false };
      // An empty value (`upstream:`) has no text of its own: point at its key instead.
      if (pair && (!isNodeLike(next) || (isScalar(next) && next.value === null && next.range![0] === next.range![1]))) {
        offset = startOf(pair.key as Node);
      } else if (isNodeLike(next)) {
        offset = startOf(next);
      }
      node = next;
    }
    return { node: this.#resolve(node), offset, complete: true };
  }

  #resolve(node: unknown): unknown {
    return isAlias(node) ? (node.resolve(this.#doc) ?? node) : node;
  }

  #at(offset: number): Position {
    const { line, col } = this.#lines.linePos(offset);
    return { line, column: col };
  }

  #describe(code: string, offset: number, message: string): string {
    if (code === 'DUPLICATE_KEY') {
      const duplicate = this.#duplicateKeyAt(offset);
      if (duplicate) return `duplicate key "${duplicate.key}" (first at line ${duplicate.firstLine}); each key may appear once in a map`;
    }
    if (code === 'MULTIPLE_DOCS') return 'a config file holds one YAML document; remove the "---" that starts another';
    return lowerFirst(message) + (HINTS[code] ?? '');
  }

  #duplicateKeyAt(offset: number): { key: string; firstLine: number } | undefined {
    let result: { key: string; firstLine: number } | undefined;
    visit(this.#doc, {
      Map: (_, map) => {
        const seen = new Map<string, Pair>();
        for (const pair of map.items) {
          if (!isScalar(pair.key)) continue;
          const key = String(pair.key.value);
          const first = seen.get(key);
          if (first && startOf(pair.key) === offset) {
            result = { key, firstLine: this.#at(startOf(first.key as Node)).line };
            return visit.BREAK;
          }
          if (!first) seen.set(key, pair);
        }
        return undefined;
      },
    });
    return result;
  }

  #aliasPosition(): Position {
    let offset = 0;
    visit(this.#doc, {
      Alias: (_, alias) => {
        if (alias.resolve(this.#doc) === undefined) {
          offset = startOf(alias);
          return visit.BREAK;
        }
        return undefined;
      },
    });
    return this.#at(offset);
  }
}

function findPair(map: { items: Pair[] }, key: string): Pair | undefined {
  return map.items.find((pair) => isPair(pair) && isScalar(pair.key) && String(pair.key.value) === key);
}

function isNodeLike(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value && Array.isArray((value as Node).range);
}

function startOf(node: Node): number {
  return node.range?.[0] ?? 0;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
