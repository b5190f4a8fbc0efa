import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { duration, parseDuration, parseSize, size } from './units.ts';

describe('parseDuration', () => {
  const cases: { text: string; ms: number | undefined }[] = [
    { text: '250ms', ms: 250 },
    { text: '5s', ms: 5000 },
    { text: '1m30s', ms: 90_000 },
    { text: '2h', ms: 7_200_000 },
    { text: '1h2m3s4ms', ms: 3_723_004 },
    { text: '1.5s', ms: 1500 },
    { text: '0s', ms: 0 },
    { text: ' 5s ', ms: 5000 },
    { text: '5', ms: undefined },
    { text: '5 s', ms: undefined },
    { text: '5 seconds', ms: undefined },
    { text: '1m30', ms: undefined },
    { text: '-5s', ms: undefined },
    { text: '5S', ms: undefined },
    { text: '', ms: undefined },
  ];
  for (const { text, ms } of cases) test(`${JSON.stringify(text)} is ${ms ?? 'not a duration'}`, () => assert.equal(parseDuration(text), ms));
});

describe('parseSize', () => {
  const cases: { text: string; bytes: number | undefined }[] = [
    { text: '512B', bytes: 512 },
    { text: '512', bytes: 512 },
    { text: '16KiB', bytes: 16_384 },
    { text: '16kib', bytes: 16_384 },
    { text: '16 KiB', bytes: 16_384 },
    { text: '1MiB', bytes: 1_048_576 },
    { text: '1GiB', bytes: 1_073_741_824 },
    { text: '10MB', bytes: 10_000_000 },
    { text: '1kb', bytes: 1000 },
    { text: '1.5KiB', bytes: 1536 },
    { text: '10MeB', bytes: undefined },
    { text: 'KiB', bytes: undefined },
    { text: '-1KiB', bytes: undefined },
    { text: '16 KB please', bytes: undefined },
  ];
  for (const { text, bytes } of cases) test(`${JSON.stringify(text)} is ${bytes ?? 'not a size'}`, () => assert.equal(parseSize(text), bytes));
});

describe('duration schema', () => {
  test('normalises text to milliseconds and keeps bare numbers as milliseconds', () => {
    assert.equal(duration.parse('1m30s'), 90_000);
    assert.equal(duration.parse(250), 250);
    assert.equal(duration.parse(0.5), 0.5);
  });

  test('explains what a duration looks like', () => {
    const result = duration.safeParse('5 seconds');
    assert.ok(!result.success);
    assert.equal(result.error.issues[0]?.message, 'invalid duration "5 seconds": use a number with a unit, e.g. 250ms, 5s, 1m30s');
  });

  test('rejects negative numbers', () => assert.ok(!duration.safeParse(-1).success));
});

describe('size schema', () => {
  test('normalises text to bytes and keeps bare numbers as bytes', () => {
    assert.equal(size.parse('16KiB'), 16_384);
    assert.equal(size.parse(1024), 1024);
  });

  test('explains what a size looks like', () => {
    const result = size.safeParse('big');
    assert.ok(!result.success);
    assert.equal(result.error.issues[0]?.message, 'invalid size "big": use a number with a unit, e.g. 512KiB, 1MiB, 10MB');
  });

  test('rejects fractional and negative byte counts', () => {
    assert.ok(!size.safeParse(1.5).success);
    assert.ok(!size.safeParse(-1).success);
  });
});
