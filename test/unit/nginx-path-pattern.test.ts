/**
 * The path pattern nginx applies (src/nginx/path-pattern.ts) against the gateway's own path check
 * (canonicalRequestPath): a front that refuses more or less than the gateway would make the same link
 * behave differently behind nginx. JavaScript reads the pattern as PCRE does (no Unicode mode), so the
 * comparison runs here; test/integration/nginx-front.test.ts sends the attack paths to a real nginx.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACCEPTED_PATH } from '../../src/nginx/path-pattern.js';
import { canonicalRequestPath } from '../../src/tokens/path.js';

const accepted = new RegExp(ACCEPTED_PATH);

/** Pieces that sit on either side of a rule: dots, escapes of every class, UTF-8 edges, separators. */
const PIECES = [
  '/',
  '/',
  '/',
  'a',
  'seg-1.ts',
  '~',
  '~tok~1',
  '.',
  '..',
  '...',
  '.a',
  '%2e',
  '%2E',
  '%2e%2e',
  '.%2e',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '\\',
  '%25',
  '%2525',
  '%41',
  '%3',
  '%',
  '%g0',
  '%20',
  ' ',
  '%23',
  '%3F',
  '%00',
  '%1f',
  '%7f',
  '%7e',
  '%7E',
  '%C3%A9',
  '%c3%a9',
  '%C3',
  '%A9',
  '%c0%ae',
  '%c1%bf',
  '%c2%80',
  '%df%bf',
  '%e0%80%80',
  '%e0%a0%80',
  '%ed%9f%bf',
  '%ed%a0%80',
  '%ef%bf%bf',
  '%f0%8f%bf%bf',
  '%f0%90%80%80',
  '%f4%8f%bf%bf',
  '%f4%90%80%80',
  '%f5%80%80%80',
  '%ff',
  'é',
  '\u0000',
  '\u007f',
  '"',
  '<',
  '>',
  '{',
  '|',
  '}',
  '^',
  '`',
  "'",
  '%3a',
  '%40',
  '%5b',
  '%5d',
  '%60',
  '%7b',
  '%3%30',
  '%25%34%31',
  '%25%34',
  '%25A',
  '%25AZ',
  '%25%3a',
  '%25%46%46',
  '%25%47',
];

describe('nginx refuses with 400 exactly the paths the gateway refuses', () => {
  it('agrees with canonicalRequestPath on 20,000 generated paths', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }), (pieces) => {
        const path = `/${pieces.join('')}`;
        expect(accepted.test(path), path).toBe(canonicalRequestPath(path).ok);
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees on arbitrary strings of printable ASCII and escapes', () => {
    const char = fc.oneof(
      // `?` ends the path and `#` is refused in the whole target before the path is read.
      fc
        .integer({ min: 0x20, max: 0x7e })
        .filter((code) => code !== 0x3f && code !== 0x23)
        .map((code) => String.fromCharCode(code)),
      fc.integer({ min: 0, max: 255 }).map((byte) => `%${byte.toString(16).padStart(2, '0')}`),
    );
    fc.assert(
      fc.property(fc.array(char, { maxLength: 30 }), (chars) => {
        const path = `/${chars.join('')}`;
        expect(accepted.test(path), path).toBe(canonicalRequestPath(path).ok);
      }),
      { numRuns: 20_000 },
    );
  });

  it.each([
    ['/videos/video-1/seg-1.ts', true],
    ['/', true],
    ['/a/', true],
    ['/a/~tok~1/b.ts', true],
    ['/caf%C3%A9/x.ts', true],
    ['/a/../b', false],
    ['/a/%2e%2E/b', false],
    ['/a/./b', false],
    ['/a//b', false],
    ['/a%2Fb', false],
    ['/a%5cb', false],
    ['/a\\b', false],
    ['/a%00b', false],
    ['/a%252Fb', false],
    ['/a%25%32%46b', false],
    ['/%c0%ae%c0%ae/x', false],
    ['/%ed%a0%80', false],
  ])('%s → accepted %s (as the gateway says)', (path, expected) => {
    expect(accepted.test(path)).toBe(expected);
    expect(canonicalRequestPath(path).ok).toBe(expected);
  });

  it('accepts 4096 characters and refuses 4097, as the gateway does', () => {
    for (const [length, expected] of [
      [4096, true],
      [4097, false],
    ] as const) {
      const path = `/${'a'.repeat(length - 1)}`;
      expect(accepted.test(path)).toBe(expected);
      expect(canonicalRequestPath(path).ok).toBe(expected);
    }
  });
});
