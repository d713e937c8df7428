import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  baseDirectory,
  classifyReference,
  createQuerySuffixer,
  isVerbatimPath,
  NOT_PLAIN,
  PLAIN_PATH,
  PLAIN_WITH_QUERY,
} from '../../src/manifest/hls/fast-path.js';
import type { TokenGrant } from '../../src/manifest/types.js';
import { applyGrant, resolveUri } from '../../src/manifest/uri.js';

const BASES = [
  'https://gw.example/live/cam1/index.m3u8?tok=IN&x=1',
  'https://gw.example/index.m3u8',
  'http://gw.example:8080/a/b/c/',
  'https://gw.example/a%20b/c.m3u8#frag',
  'https://user:pw@gw.example/d/e.m3u8?q=/x/y#z',
  'https://[::1]:8443/v/p.m3u8',
].map((href) => new URL(href));

/** Characters that matter to URL parsing, plus some that do not. */
const referenceChar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...'abcXYZ019-_~') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(...'./\\:?#%@;=&+!$\'()*,[]{}|^`"<> \t\r\n', '..', '%2e', '%2F', '{$a}'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('\u0000', '\u001f', '\u007f', '\u00a0', '\u00e9', '\u2028', '\ud83d'),
  },
);
const reference = fc.oneof(
  fc.array(referenceChar, { maxLength: 24 }).map((parts) => parts.join('')),
  // Printable ASCII only, so that most of these take the fast path.
  fc.string({ unit: fc.constantFrom(..."ab09-_~./\\:?#%@;=&+!$'()*,[]|^`"), maxLength: 24 }),
  // Path segments only, many of them dot segments or names starting with a dot.
  fc
    .array(fc.constantFrom('.', '..', '.a', 'a.', '%2e', '.%2E', '%2e%2e', '..a', 'seg.ts', ''), {
      maxLength: 5,
    })
    .map((segments) => segments.join('/')),
);

describe('HLS fast path: a plain relative path parsed after the base directory', () => {
  it('resolves exactly as resolveUri does, for every reference it accepts', () => {
    let accepted = 0;
    fc.assert(
      fc.property(reference, fc.constantFrom(...BASES), (ref, base) => {
        if (classifyReference(ref) === NOT_PLAIN) return;
        accepted += 1;
        const general = resolveUri(ref, base);
        expect(general.ok).toBe(true);
        if (!general.ok) return;
        expect(new URL(baseDirectory(base)! + ref).href).toBe(general.url.href);
      }),
      { numRuns: 5000 },
    );
    expect(accepted).toBeGreaterThan(1000);
  });

  it('accepts the shapes long playlists are made of, and refuses what must take the general way', () => {
    expect(classifyReference('segment-42.ts')).toBe(PLAIN_PATH);
    expect(classifyReference('v1/seg:01,a.ts')).toBe(PLAIN_PATH);
    expect(classifyReference('.hidden/seg..1.ts')).toBe(PLAIN_PATH);
    expect(classifyReference('chunks.m3u8?nimblesessionid=1')).toBe(PLAIN_WITH_QUERY);
    expect(classifyReference('a.mp4#t=1')).toBe(PLAIN_WITH_QUERY);
    for (const ref of [
      '',
      '/root.ts',
      '//host/x.ts',
      '\\x.ts',
      '?q',
      '#f',
      'seg:1.ts',
      'https://gw.example/a.ts',
      // Dot segments, however spelled: resolved the general way.
      '../1M/waitForMSN.php',
      './a.ts',
      '.a/.',
      'a/..',
      'a/%2E%2e/b.ts',
      'a/.%2e?x',
      '%2e#f',
    ]) {
      expect(classifyReference(ref), ref).toBe(NOT_PLAIN);
    }
    for (const ref of ['a b.ts', 'a\tb.ts', '{$v}.ts', 'é.ts', 'data:x']) {
      expect(classifyReference(ref), ref).toBe(NOT_PLAIN);
    }
  });

  it('resolves `.a/.` against a base as the URL standard does (the parse that once went wrong)', () => {
    const base = new URL('https://gw.example/live/cam1/index.m3u8?tok=IN&x=1');
    expect(classifyReference('.a/.')).toBe(NOT_PLAIN);
    const general = resolveUri('.a/.', base);
    expect(general.ok && general.url.href).toBe('https://gw.example/live/cam1/.a/');
  });

  it('takes a path as verbatim only when the URL parser gives back exactly that path', () => {
    fc.assert(
      fc.property(reference, fc.constantFrom(...BASES), (ref, base) => {
        const directory = baseDirectory(base)!;
        if (classifyReference(ref) === NOT_PLAIN) return;
        const cut = Math.min(...['?', '#'].map((c) => (ref.includes(c) ? ref.indexOf(c) : ref.length)));
        const pathPart = ref.slice(0, cut);
        if (!isVerbatimPath(pathPart)) return;
        const general = resolveUri(ref, base);
        expect(general.ok && general.url.pathname).toBe(new URL(directory).pathname + pathPart);
      }),
      { numRuns: 5000 },
    );
    for (const path of ['%2e/a.ts', 'a/%2E%2e', './a', 'a/..'])
      expect(isVerbatimPath(path), path).toBe(false);
  });

  it('has no base directory for a base that is not http(s)', () => {
    expect(baseDirectory(new URL('file:///srv/a.m3u8'))).toBeUndefined();
    expect(baseDirectory(new URL('https://gw.example/a/b.m3u8?x=/y/#/z'))).toBe('https://gw.example/a/');
  });
});

const paramText = fc.string({ unit: fc.constantFrom(...'abc=&%+/~?#$', 'tok'), maxLength: 8 });
const grant: fc.Arbitrary<TokenGrant> = fc.oneof(
  fc.record({
    kind: fc.constant('query' as const),
    params: fc.array(fc.tuple(fc.constantFrom('tok', 'expires', 'a', 'md5'), paramText), {
      minLength: 1,
      maxLength: 3,
    }),
  }),
  fc.record({
    kind: fc.constant('query' as const),
    params: fc.array(fc.tuple(fc.constantFrom('tok', 'a'), paramText), { minLength: 1, maxLength: 2 }),
    rebaseTo: fc.constant('https://gw.example'),
  }),
  fc.record({
    kind: fc.constant('path' as const),
    afterPath: fc.constantFrom('/', '/live/', '/live/cam1/'),
    segment: fc.constant('~t~1'),
  }),
);

/** What the HLS rewriter does with a grant: the suffixer's answer, or applyGrant where it has none. */
function createGrantApplier(): (raw: string, shape: number, grant: TokenGrant) => string {
  const suffixFor = createQuerySuffixer();
  return (raw, shape, grant) => {
    const suffix = suffixFor(shape, grant);
    return suffix === undefined ? applyGrant(raw, grant) : raw + suffix;
  };
}

describe('HLS fast path: applying a repeated grant', () => {
  it('gives exactly what applyGrant gives, whatever the sequence of references and grants', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(reference, grant), { minLength: 1, maxLength: 12 }), (steps) => {
        const apply = createGrantApplier();
        for (const [ref, g] of steps) {
          expect(apply(ref, classifyReference(ref), g)).toBe(applyGrant(ref, g));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('a grant whose parameters change between calls is never served from the previous one', () => {
    const apply = createGrantApplier();
    const params: Array<[string, string]> = [['tok', 'one']];
    expect(apply('a.ts', PLAIN_PATH, { kind: 'query', params })).toBe('a.ts?tok=one');
    params[0] = ['tok', 'two'];
    expect(apply('b.ts', PLAIN_PATH, { kind: 'query', params })).toBe('b.ts?tok=two');
  });
});
