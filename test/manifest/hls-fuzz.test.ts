/**
 * Property tests of the HLS rewriter on arbitrary playlists: it never throws, changes nothing but
 * token insertions, and finishes large random playlists in time and memory proportional to their size.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rewriteHls } from '../../src/manifest/hls/index.js';
import type { Tokenizer } from '../../src/manifest/types.js';
import { FUZZ_MAX_BYTES, FUZZ_RUNS, FUZZ_TIMEOUT_MS, onlyInserted, SizeFuzzer } from './size-fuzz-helpers.js';

const MANIFEST_URL = new URL('https://gw.example/live/ch1/index.m3u8?q=1');

// A token no input contains, so that removing it from the output must give the input back.
const grantAll: Tokenizer = (target) =>
  target.origin === 'https://gw.example' ? { kind: 'query', params: [['sgTok', 'Q7']] } : undefined;
// After a bare `?` or a trailing `&` only the pair itself is added.
const INSERTIONS = ['?sgTok=Q7', '&sgTok=Q7', 'sgTok=Q7'];

const onlyTokensInserted = (input: string, output: string): boolean =>
  onlyInserted(input, output, INSERTIONS);

// Lines and pieces that take the rewriter down its paths: tags with URI attributes, quoted and not,
// variables defined and not, absolute and relative URIs, foreign hosts, odd whitespace.
const LINES = [
  '#EXTM3U',
  '#EXTINF:4.000,',
  '#EXTINF:4,title with, comma',
  '#EXT-X-TARGETDURATION:4',
  '#EXT-X-MAP:URI="init.mp4"',
  '#EXT-X-MAP:URI="init.mp4",BYTERANGE="100@0"',
  '#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x1',
  '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://id",KEYFORMAT="com.apple.streamingkeydelivery"',
  '#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="a,b"',
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",URI="audio.m3u8"',
  '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part.m4s"',
  '#EXT-X-PART:DURATION=1,URI="p1.m4s"',
  '#EXT-X-DEFINE:NAME="v",VALUE="x"',
  '#EXT-X-DEFINE:NAME="cdn",VALUE="https://gw.example"',
  '#EXT-X-DEFINE:QUERYPARAM="q"',
  '#EXT-X-DEFINE:IMPORT="u"',
  '#EXT-X-ENDLIST',
  '# a comment',
  '#EXT-X-MAP:URI="open',
  'seg-1.ts',
  'seg 2.ts',
  'a/b/../c.ts',
  '{$v}.ts',
  '{$cdn}/x.ts',
  '{$u}/y.ts',
  'seg.ts?x=1&y',
  'seg.ts#frag',
  'https://gw.example/abs.ts',
  'https://cdn.other.example/foreign.ts',
  '//gw.example/scheme-relative.ts',
  'data:text/plain,x',
  '  padded.ts  ',
  '\t',
  '',
  '\uD83D\uDE00.ts',
];

const line = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...LINES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);
const playlist = fc
  .tuple(fc.boolean(), fc.array(line, { maxLength: 40 }), fc.constantFrom('\n', '\r\n'))
  .map(([header, lines, eol]) => (header ? ['#EXTM3U', ...lines] : lines).join(eol));

describe('HLS rewriter on arbitrary playlists', () => {
  it('never throws and changes nothing but token insertions', () => {
    fc.assert(
      fc.property(playlist, (text) => {
        const result = rewriteHls(text, { manifestUrl: MANIFEST_URL, tokenize: grantAll });
        if (result.malformed !== undefined) {
          expect(result.text).toBe(text);
          return;
        }
        expect(result.limit).toBeUndefined();
        expect(onlyTokensInserted(text, result.text)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});

describe('HLS rewriter on large random playlists', () => {
  const fuzzer = new SizeFuzzer();
  beforeAll(() => fuzzer.warm(), 60_000);
  afterAll(async () => {
    console.log(fuzzer.report('HLS size fuzz'));
    await fuzzer.pool.close();
  });

  // A unit of lines, repeated to a size; long lines and long variable values among them.
  const unit = fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...LINES) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.integer({ min: 1, max: 200_000 }), fc.constantFrom('a', '{$v}', '/', '?x='))
          .map(([n, piece]) => piece.repeat(Math.ceil(n / piece.length))),
      },
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: 1, max: 100_000 })
          .map((n) => `#EXT-X-DEFINE:NAME="v",VALUE="${'v'.repeat(n)}"`),
      },
    ),
    { minLength: 1, maxLength: 12 },
  );

  it(
    'finishes within time and memory bounds, or refuses with a limit',
    async () => {
      await fc.assert(
        fc.asyncProperty(unit, fc.integer({ min: 100_000, max: FUZZ_MAX_BYTES }), async (lines, size) => {
          const block = `${lines.join('\n')}\n`;
          const text = `#EXTM3U\n${block.repeat(Math.max(1, Math.floor(size / block.length)))}`;
          const { outcome, ms } = await fuzzer.rewrite('hls', text);
          // A run out of memory rejects above; a slip back to quadratic work takes minutes.
          expect(ms).toBeLessThan(30_000);
          if (outcome.limit === undefined) expect(outcome.body).toBeDefined();
        }),
        { numRuns: FUZZ_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
