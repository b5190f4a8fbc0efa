// Path prefixes in a radix tree (edges carry strings, not single characters). One walk along the request path
// finds every configured prefix that ends on a segment boundary, shortest to longest, comparing each path
// character at most once: no slicing, no hashing, no allocation.

const SLASH = 0x2f;
/** Children whose first characters span more than this many code units go into a Map instead of an array. */
const MAX_DENSE_SPAN = 128;

/** One node: `label` is the edge from its parent; `value` is set when a configured prefix ends here. */
class TrieNode<V> {
  readonly label: string;
  readonly value: V | undefined;
  /** The prefix ends in "/": it matches wherever it is reached, with no boundary check. */
  readonly endsWithSlash: boolean;
  /** Children by the first code unit of their label, minus `first`; null when the span is too wide. */
  readonly dense: ReadonlyArray<TrieNode<V> | undefined> | null;
  readonly first: number;
  readonly sparse: ReadonlyMap<number, TrieNode<V>> | null;

  constructor(label: string, value: V | undefined, children: ReadonlyMap<number, TrieNode<V>>) {
    this.label = label;
    this.value = value;
    this.endsWithSlash = label.charCodeAt(label.length - 1) === SLASH;
    let min = Infinity;
    let max = -1;
    for (const c of children.keys()) {
      min = Math.min(min, c);
      max = Math.max(max, c);
    }
    if (children.size > 0 && max - min < MAX_DENSE_SPAN) {
      const dense = new Array<TrieNode<V> | undefined>(max - min + 1).fill(undefined);
      for (const [c, child] of children) dense[c - min] = child;
      this.dense = dense;
      this.first = min;
      this.sparse = null;
    } else {
      this.dense = null;
      this.first = 0;
      this.sparse = children.size > 0 ? children : null;
    }
  }

  child(c: number): TrieNode<V> | undefined {
    const dense = this.dense;
    if (dense !== null) {
      const i = c - this.first;
      return i >= 0 && i < dense.length ? dense[i] : undefined;
    }
    return this.sparse === null ? undefined : this.sparse.get(c);
  }
}

/** A character trie used only while building; frozen into TrieNodes with runs of single children merged. */
interface DraftNode<V> {
  value: V | undefined;
  readonly children: Map<number, DraftNode<V>>;
}

function freeze<V>(draft: DraftNode<V>, label: string): TrieNode<V> {
  let node = draft;
  let text = label;
  // Merge a chain of single children into one edge, but never through a node that ends a prefix.
  while (text.length > 0 && node.value === undefined && node.children.size === 1) {
    const [c, next] = node.children.entries().next().value!;
    text += String.fromCharCode(c);
    node = next;
  }
  const children = new Map<number, TrieNode<V>>();
  for (const [c, child] of node.children) children.set(c, freeze(child, String.fromCharCode(c)));
  return new TrieNode(text, node.value, children);
}

/**
 * Segment-boundary prefix lookup: "/api" is found for "/api" and "/api/x" but not "/apix"; "/api/" only for
 * paths starting with "/api/".
 *
 * @example
 * const trie = new PrefixTrie(new Map([['/api', 'a'], ['/api/v1', 'b']]));
 * const out: string[] = [];
 * trie.collect('/api/v1/users', out); // 2; out is ['a', 'b'], shortest first
 */
export class PrefixTrie<V> {
  readonly #root: TrieNode<V>;

  constructor(prefixes: ReadonlyMap<string, V>) {
    const root: DraftNode<V> = { value: undefined, children: new Map() };
    for (const [prefix, value] of prefixes) {
      let node = root;
      for (let i = 0; i < prefix.length; i++) {
        const c = prefix.charCodeAt(i);
        let next = node.children.get(c);
        if (next === undefined) {
          next = { value: undefined, children: new Map() };
          node.children.set(c, next);
        }
        node = next;
      }
      node.value = value;
    }
    this.#root = freeze(root, '');
  }

  /**
   * Writes the value of every prefix of `path` that ends on a segment boundary into `out`, shortest first, and
   * returns how many it wrote. `out` is the caller's scratch array, reused across calls.
   */
  collect(path: string, out: V[]): number {
    const end = path.length;
    let count = 0;
    let node = this.#root;
    let pos = 0;
    for (;;) {
      if (
        node.value !== undefined &&
        (node.endsWithSlash || pos === end || path.charCodeAt(pos) === SLASH)
      ) {
        out[count++] = node.value;
      }
      if (pos >= end) return count;
      const child = node.child(path.charCodeAt(pos));
      if (child === undefined) return count;
      const label = child.label;
      const length = label.length;
      if (end - pos < length) return count;
      // The first code unit was matched by child(); compare the rest of the edge.
      for (let k = 1; k < length; k++) if (path.charCodeAt(pos + k) !== label.charCodeAt(k)) return count;
      pos += length;
      node = child;
    }
  }
}
