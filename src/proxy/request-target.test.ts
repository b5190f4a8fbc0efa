import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidAuthority, parseRequestTarget, removeDotSegments, upstreamTarget } from './request-target.ts';

describe('parseRequestTarget', () => {
  const parsed = [
    { desc: 'origin-form path', url: '/api/x', path: '/api/x', query: '', authority: undefined },
    { desc: 'origin-form with a query', url: '/api/x?a=1&b=%2e%2e', path: '/api/x', query: 'a=1&b=%2e%2e', authority: undefined },
    { desc: 'a fragment is dropped', url: '/api/x?a=1#frag', path: '/api/x', query: 'a=1', authority: undefined },
    { desc: 'a fragment without a query', url: '/api/x#frag?no', path: '/api/x', query: '', authority: undefined },
    { desc: '".." is resolved', url: '/api/../admin', path: '/admin', query: '', authority: undefined },
    { desc: '"%2e%2e" is resolved like ".."', url: '/api/%2e%2e/admin', path: '/admin', query: '', authority: undefined },
    { desc: 'mixed-case encoded dots', url: '/api/%2E%2e/admin', path: '/admin', query: '', authority: undefined },
    { desc: 'a trailing ".." keeps a trailing slash', url: '/api/x/..', path: '/api/', query: '', authority: undefined },
    { desc: 'dots in the query are not touched', url: '/api/x?p=/../admin', path: '/api/x', query: 'p=/../admin', authority: undefined },
    { desc: 'an encoded slash alone is kept', url: '/api/a%2Fb', path: '/api/a%2Fb', query: '', authority: undefined },
    { desc: '"//" is a path, not an authority', url: '//api.test/x', path: '//api.test/x', query: '', authority: undefined },
    { desc: 'a ";param" on a normal segment is kept', url: '/api/x;v=1', path: '/api/x;v=1', query: '', authority: undefined },
    { desc: 'absolute-form', url: 'http://api.test:8080/api/x?q=1', path: '/api/x', query: 'q=1', authority: 'api.test:8080' },
    { desc: 'absolute-form https, upper-case scheme', url: 'HTTPS://api.test/x', path: '/x', query: '', authority: 'api.test' },
    { desc: 'absolute-form without a path', url: 'http://api.test', path: '/', query: '', authority: 'api.test' },
    { desc: 'absolute-form with only a query', url: 'http://api.test?q=1', path: '/', query: 'q=1', authority: 'api.test' },
    { desc: 'absolute-form with an IPv6 literal', url: 'http://[::1]:8080/x', path: '/x', query: '', authority: '[::1]:8080' },
    { desc: 'absolute-form traversal is resolved too', url: 'http://api.test/api/../admin', path: '/admin', query: '', authority: 'api.test' },
  ];
  for (const c of parsed) {
    it(c.desc, () => {
      assert.deepEqual(parseRequestTarget(c.url), { path: c.path, query: c.query, authority: c.authority });
    });
  }

  const refused = [
    { desc: 'asterisk-form', url: '*' },
    { desc: 'authority-form', url: 'api.test:443' },
    { desc: 'another scheme', url: 'ftp://api.test/x' },
    { desc: 'a relative target', url: 'api/x' },
    { desc: 'absolute-form with userinfo', url: 'http://user:pw@api.test/x' },
    { desc: 'absolute-form without a host', url: 'http:///x' },
    { desc: 'absolute-form with a space in the host', url: 'http://a b/x' },
    { desc: 'an encoded NUL in the path', url: '/api/a%00b' },
    { desc: '".." behind an encoded slash', url: '/api/..%2fadmin' },
    { desc: '".." behind an upper-case encoded slash', url: '/api/..%2Fadmin' },
    { desc: 'encoded ".." behind an encoded slash', url: '/api/%2e%2e%2fadmin' },
    { desc: '".." behind an encoded backslash', url: '/api/..%5cadmin' },
    { desc: '".." behind a backslash', url: '/api\\..\\admin' },
    { desc: '"." behind a backslash', url: '/api\\.\\x' },
    { desc: '"..;" (a path parameter on a dot-segment)', url: '/api/..;/admin' },
    { desc: '"%2e%2e;x"', url: '/api/%2e%2e;x/admin' },
  ];
  for (const c of refused) {
    it(`refuses ${c.desc}`, () => {
      assert.equal(parseRequestTarget(c.url), undefined);
    });
  }

  it('keeps a NUL-free "%0" sequence that is not %00', () => {
    assert.equal(parseRequestTarget('/api/%0a')?.path, '/api/%0a');
  });
});

describe('removeDotSegments (RFC 3986 §5.2.4)', () => {
  const cases = [
    { path: '/a/b/c/./../../g', out: '/a/g' },
    { path: '/../a', out: '/a' },
    { path: '/a/.', out: '/a/' },
    { path: '/a/./b', out: '/a/b' },
    { path: '/a/b/..', out: '/a/' },
    { path: '/a/..b/c', out: '/a/..b/c' },
    { path: '//a/../b', out: '//b' },
  ];
  for (const c of cases) {
    it(`${c.path} → ${c.out}`, () => assert.equal(removeDotSegments(c.path), c.out));
  }
});

describe('isValidAuthority', () => {
  const valid = ['api.test', 'api.test:8080', 'API-1.test', '127.0.0.1:80', '[::1]', '[2001:db8::1]:443', 'xn--bcher-kva.test', 'a_b.test:'];
  const invalid = ['', 'a b', 'a/b', 'user@a', 'a:b:c', 'a:123456', '[::1', 'a\tb', 'a\\b', 'a?b', 'a#b'];
  for (const value of valid) it(`accepts ${JSON.stringify(value)}`, () => assert.ok(isValidAuthority(value)));
  for (const value of invalid) it(`refuses ${JSON.stringify(value)}`, () => assert.ok(!isValidAuthority(value)));
});

describe('upstreamTarget', () => {
  it('joins path and query', () => assert.equal(upstreamTarget('/a', 'b=1'), '/a?b=1'));
  it('omits an empty query', () => assert.equal(upstreamTarget('/a', ''), '/a'));
});
