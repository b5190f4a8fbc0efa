import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PrefixTrie } from './prefix-trie.ts';

function found(prefixes: string[], path: string): string[] {
  const trie = new PrefixTrie(new Map(prefixes.map((p) => [p, p])));
  const out: string[] = ['stale', 'stale', 'stale', 'stale', 'stale'];
  return out.slice(0, trie.collect(path, out));
}

describe('PrefixTrie.collect', () => {
  const cases: Array<{ desc: string; prefixes: string[]; path: string; want: string[] }> = [
    { desc: 'every boundary prefix, shortest first', prefixes: ['/api/v1', '/api', '/api/'], path: '/api/v1/users', want: ['/api', '/api/', '/api/v1'] },
    { desc: 'a prefix is not found inside a segment', prefixes: ['/api'], path: '/apix', want: [] },
    { desc: 'a prefix equal to the whole path is found', prefixes: ['/api'], path: '/api', want: ['/api'] },
    { desc: 'a slash prefix needs the slash', prefixes: ['/api/'], path: '/api', want: [] },
    { desc: 'a path shorter than an edge stops the walk', prefixes: ['/api/users'], path: '/api/us', want: [] },
    { desc: 'a mismatch inside an edge stops the walk', prefixes: ['/api/users', '/a'], path: '/api/uzers', want: [] },
    { desc: 'siblings sharing a stem', prefixes: ['/svc1', '/svc10', '/svc2'], path: '/svc10/x', want: ['/svc10'] },
    { desc: 'first characters far apart go through the sparse children', prefixes: ['/a', '/\u4e2d\u6587'], path: '/\u4e2d\u6587/x', want: ['/\u4e2d\u6587'] },
    { desc: 'no prefixes, nothing found', prefixes: [], path: '/x', want: [] },
  ];
  for (const c of cases) it(c.desc, () => assert.deepEqual(found(c.prefixes, c.path), c.want));
});
