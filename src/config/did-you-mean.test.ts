import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { didYouMean, levenshtein, suggestion } from './did-you-mean.ts';

describe('levenshtein', () => {
  test('counts insertions, deletions and substitutions', () => {
    assert.equal(levenshtein('', ''), 0);
    assert.equal(levenshtein('users', 'users'), 0);
    assert.equal(levenshtein('userz', 'users'), 1);
    assert.equal(levenshtein('patPrefix', 'pathPrefix'), 1);
    assert.equal(levenshtein('kitten', 'sitting'), 3);
    assert.equal(levenshtein('', 'abc'), 3);
  });
});

describe('didYouMean', () => {
  const fields = ['host', 'path', 'pathPrefix', 'pathRegex', 'methods', 'headers', 'query'];
  const cases: { desc: string; input: string; candidates: string[]; expected: string | undefined }[] = [
    { desc: 'one typo', input: 'patPrefix', candidates: fields, expected: 'pathPrefix' },
    { desc: 'a transposition (distance 2)', input: 'mehtods', candidates: fields, expected: 'methods' },
    { desc: 'case only', input: 'PathPrefix', candidates: fields, expected: 'pathPrefix' },
    { desc: 'the closest of several', input: 'pathRegx', candidates: fields, expected: 'pathRegex' },
    { desc: 'a prefix of the candidate', input: 'least', candidates: ['round-robin', 'least-request'], expected: 'least-request' },
    { desc: 'the candidate is a prefix of the input', input: 'headersx-env', candidates: fields, expected: 'headers' },
    { desc: 'nothing close', input: 'timeout', candidates: fields, expected: undefined },
    { desc: 'short inputs need a closer match', input: 'ab', candidates: ['on', 'abc'], expected: 'abc' },
    { desc: 'short inputs do not match anything two edits away', input: 'xy', candidates: ['on'], expected: undefined },
    { desc: 'no candidates', input: 'users', candidates: [], expected: undefined },
    { desc: 'empty input', input: '', candidates: fields, expected: undefined },
  ];
  for (const { desc, input, candidates, expected } of cases) {
    test(desc, () => assert.equal(didYouMean(input, candidates), expected));
  }
});

describe('suggestion', () => {
  test('is ready to append to a message', () => {
    assert.equal(suggestion('userz', ['users']), ' (did you mean "users"?)');
    assert.equal(suggestion('zzz', ['users']), '');
  });
});
