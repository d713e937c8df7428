import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HLS_URI_SITES, rewriteHls } from '../../src/manifest/hls/index.js';
import type { RewriteResult, TokenGrant, UriTarget } from '../../src/manifest/types.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/hls/', import.meta.url));
const CORPUS = fileURLToPath(new URL('./corpus/hls/', import.meta.url));

const read = (path: string): string => readFileSync(path, 'utf8');

/** The context the fixtures' expected files were written for (fixtures/hls/README.md). */
const FIXTURE_URL = new URL(
  'https://gw.example/live/cam1/index.m3u8?tok=IN&cdn=https%3A%2F%2Fgw.example%2Fvod&auth=%3Fsig%3Dq%2Bv',
);

/** The fixed tokenizer of fixtures/hls/README.md. */
function fixtureTokenizer(target: UriTarget): TokenGrant | undefined {
  if (target.url.host !== 'gw.example') return undefined;
  const value = target.wildcard ? 'W' : target.resource === 'playlist' ? 'P' : 'T';
  return { kind: 'query', params: [['tok', value]] };
}

/**
 * For `*.pathform.m3u8` fixtures: the same, but a URI in a subdirectory of the playlist's gets the token
 * in path form after /live/cam1/ (`~P~9/v0/index.m3u8`), as forward gives it with forwardUncovered: path.
 */
function pathFormTokenizer(target: UriTarget): TokenGrant | undefined {
  const grant = fixtureTokenizer(target);
  const below = target.pathname.startsWith('/live/cam1/') ? target.pathname.slice('/live/cam1/'.length) : '';
  if (grant === undefined || !below.includes('/')) return grant;
  return {
    kind: 'path',
    afterPath: '/live/cam1/',
    segment: `~${target.resource === 'playlist' ? 'P' : 'T'}~9`,
    resolvedPath: target.pathname,
    insertIntoRelative: true,
  };
}

const rewriteFixture = (text: string, name = ''): RewriteResult =>
  rewriteHls(text, {
    manifestUrl: FIXTURE_URL,
    tokenize: name.includes('.pathform.') ? pathFormTokenizer : fixtureTokenizer,
  });

// ---------------------------------------------------------------------------------------------------
// An independent reading of the URI sites, written for the tests only (not the rewriter's scanner):
// split into lines, trim, and read attribute lists with a sticky regular expression.

/** The URI-bearing attributes per tag, written out here on purpose rather than taken from the table. */
const SITE_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  'EXT-X-MEDIA': ['URI'],
  'EXT-X-I-FRAME-STREAM-INF': ['URI'],
  'EXT-X-IMAGE-STREAM-INF': ['URI'],
  'EXT-X-MAP': ['URI'],
  'EXT-X-KEY': ['URI'],
  'EXT-X-SESSION-KEY': ['URI'],
  'EXT-X-SESSION-DATA': ['URI'],
  'EXT-X-PART': ['URI'],
  'EXT-X-PRELOAD-HINT': ['URI'],
  'EXT-X-RENDITION-REPORT': ['URI'],
  'EXT-X-CONTENT-STEERING': ['SERVER-URI'],
  'EXT-X-DATERANGE': ['X-ASSET-URI', 'X-ASSET-LIST'],
};
const BARE_VALUE_TAGS = new Set(['EXT-X-PREFETCH']);
const MASK = '\u2063URI\u2063';

interface Masked {
  readonly text: string;
  /** The URI texts that were masked, in document order. */
  readonly uris: string[];
}

function maskValue(value: string, uris: string[]): string {
  const core = value.trim();
  if (core === '') return value;
  uris.push(core);
  const at = value.indexOf(core);
  return value.slice(0, at) + MASK + value.slice(at + core.length);
}

/** Replaces every URI site's text with a placeholder; everything else is kept. */
function maskSites(text: string): Masked {
  const uris: string[] = [];
  if (!text.replace(/^\uFEFF/, '').startsWith('#EXTM3U')) return { text, uris };
  const lines = text.split('\n').map((line) => {
    const trimmed = line.trim();
    if (trimmed === '') return line;
    if (!trimmed.startsWith('#')) return maskValue(line, uris);
    const colon = line.indexOf(':');
    if (!trimmed.startsWith('#EXT') || colon === -1) return line;
    const tag = line.slice(line.indexOf('#') + 1, colon);
    const value = line.slice(colon + 1);
    if (BARE_VALUE_TAGS.has(tag)) return line.slice(0, colon + 1) + maskValue(value, uris);
    const wanted = SITE_ATTRIBUTES[tag];
    if (wanted === undefined) return line;
    const attribute = /[ \t]*([^=,]*?)[ \t]*=[ \t]*("[^"]*"|[^,]*)([^,]*)(,|$)/dy;
    let masked = '';
    let last = 0;
    for (let match = attribute.exec(value); match && match[0] !== ''; match = attribute.exec(value)) {
      const name = match[1]!;
      const raw = match[2]!;
      if (!wanted.includes(name)) continue;
      const [rawStart] = match.indices![2]!;
      // A quoted-string's content, or an unquoted value as lenient players read it; an unterminated
      // quote is no URI at all.
      const quoted = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"');
      if (raw.startsWith('"') && !quoted) continue;
      const start = quoted ? rawStart + 1 : rawStart;
      const end = quoted ? rawStart + raw.length - 1 : rawStart + raw.length;
      masked += value.slice(last, start) + maskValue(value.slice(start, end), uris);
      last = end;
    }
    return line.slice(0, colon + 1) + masked + value.slice(last);
  });
  return { text: lines.join('\n'), uris };
}

// ---------------------------------------------------------------------------------------------------
// m3u8-parser as a reference reader: the rewritten playlist must mean the same once our parameter
// is removed from its URIs.

interface M3u8Parser {
  push(text: string): void;
  end(): void;
  manifest: Record<string, unknown>;
}

// m3u8-parser ships no type declarations: load it untyped and give it the little shape used here.
const { Parser } = createRequire(import.meta.url)('m3u8-parser') as {
  Parser: new (options: { uri: string }) => M3u8Parser;
};

function parseWithM3u8Parser(text: string, url: URL): Record<string, unknown> {
  const parser = new Parser({ uri: url.href });
  parser.push(text);
  parser.end();
  return parser.manifest;
}

/** Removes `tok=…` pairs from every query in a string (and a `?` or `&` left dangling), and `~P~9/`. */
function withoutTok(value: string): string {
  return value
    .replace(/(^|\/)~[PTW]~9\//g, '$1')
    .replace(/([?&])tok=[^&#"\s]*/g, '$1')
    .replace(/&&+/g, '&')
    .replace(/\?&/g, '?')
    .replace(/[?&]+(?=#|$|\s)/g, '');
}

function normalise(value: unknown): unknown {
  if (typeof value === 'string') return withoutTok(value);
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, normalise(inner)]));
  }
  return value;
}

function countOf(manifest: Record<string, unknown>, key: string): number {
  const value = manifest[key];
  return Array.isArray(value) ? value.length : 0;
}

/** The three checks every fixture and every corpus file must pass. */
function expectFaithful(input: string, result: RewriteResult, url: URL): void {
  // 1. The same playlist for a player, once our token is taken out again.
  const before = parseWithM3u8Parser(input, url);
  const after = parseWithM3u8Parser(result.text, url);
  for (const key of ['segments', 'playlists', 'iFramePlaylists', 'renditionReports', 'dateRanges']) {
    expect(countOf(after, key), key).toBe(countOf(before, key));
  }
  expect(normalise(after)).toEqual(normalise(before));

  // 2. Byte-identical outside the URI sites.
  const maskedInput = maskSites(input);
  const maskedOutput = maskSites(result.text);
  expect(maskedOutput.text).toBe(maskedInput.text);
  expect(maskedOutput.uris).toHaveLength(maskedInput.uris.length);

  // Every site is accounted for: given a token, or reported as skipped.
  expect(result.rewritten + result.skipped.length).toBe(maskedInput.uris.length);
}

const TOKENED = /[?&]tok=[PTW](?:&|#|$)|(?:^|\/)~[PTW]~9\//;

// ---------------------------------------------------------------------------------------------------

const fixtureFiles = readdirSync(FIXTURES).filter((name) => name.endsWith('.m3u8'));
const inputs = fixtureFiles.filter((name) => !name.endsWith('.expected.m3u8'));
const expectedFiles = fixtureFiles.filter((name) => name.endsWith('.expected.m3u8'));

describe('HLS fixture pairs (fixtures/hls: input and hand-written expected output)', () => {
  it('has no orphan: every input has its expected output and every expected output its input', () => {
    const stems = new Set(inputs.map((name) => name.slice(0, -'.m3u8'.length)));
    const expectedStems = new Set(expectedFiles.map((name) => name.slice(0, -'.expected.m3u8'.length)));
    expect([...stems].filter((stem) => !expectedStems.has(stem))).toEqual([]);
    expect([...expectedStems].filter((stem) => !stems.has(stem))).toEqual([]);
    const unknown = readdirSync(FIXTURES).filter((name) => !name.endsWith('.m3u8') && name !== 'README.md');
    expect(unknown).toEqual([]);
    expect(inputs.length).toBeGreaterThanOrEqual(10);
  });

  it('exercises every row of HLS_URI_SITES with at least one token given', () => {
    const granted = new Set<string>();
    for (const name of inputs) {
      rewriteHls(read(FIXTURES + name), {
        manifestUrl: FIXTURE_URL,
        tokenize: (target) => {
          const grant = fixtureTokenizer(target);
          if (grant !== undefined) granted.add(target.site);
          return grant;
        },
      });
    }
    const missing = HLS_URI_SITES.filter((row) => !granted.has(row.site)).map((row) => row.site);
    expect(missing).toEqual([]);
  });

  it('the URI sites of the tests list are exactly the rows of HLS_URI_SITES (no site forgotten)', () => {
    const fromTable = HLS_URI_SITES.filter((row) => row.place === 'attribute')
      .map((row) => `${row.tag}@${row.attribute}`)
      .sort();
    const fromTests = Object.entries(SITE_ATTRIBUTES)
      .flatMap(([tag, names]) => names.map((name) => `${tag}@${name}`))
      .sort();
    expect(fromTable).toEqual(fromTests);
    expect(HLS_URI_SITES.filter((row) => row.place === 'tag-value').map((row) => row.tag)).toEqual([
      ...BARE_VALUE_TAGS,
    ]);
    expect(
      HLS_URI_SITES.filter((row) => row.place === 'uri-line').map((row) => [row.tag, row.resource]),
    ).toEqual([
      ['EXTINF', 'media'],
      ['EXT-X-STREAM-INF', 'playlist'],
    ]);
  });

  for (const name of inputs) {
    const stem = name.slice(0, -'.m3u8'.length);
    describe(stem, () => {
      const input = read(FIXTURES + name);
      const expected = read(`${FIXTURES}${stem}.expected.m3u8`);
      const result = rewriteFixture(input, name);

      it('rewrites to the hand-written expected output, byte for byte', () => {
        expect(result.text).toBe(expected);
      });

      it('keeps the playlist the same for m3u8-parser and every byte outside the URI sites', () => {
        expectFaithful(input, result, FIXTURE_URL);
      });

      it('counts one rewrite per URI that carries a token in the expected output', () => {
        const tokened = maskSites(expected).uris.filter((uri) => TOKENED.test(uri));
        expect(result.rewritten).toBe(tokened.length);
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------------

/** rw / leave per corpus file (test/manifest/corpus/hls/README.md, from the corpus INDEX.md). */
const CORPUS_COUNTS: Readonly<Record<string, readonly [rw: number, leave: number]>> = {
  'apple-llhls-spec-example_media.m3u8': [39, 0],
  'apple-llhls-delta-update-skip_media.m3u8': [36, 0],
  'apple-bipbop-adv-fmp4_master.m3u8': [34, 0],
  'brightcove-absolute-query_master.m3u8': [0, 4],
  'aes128-key-rotation-absolute-no-eol_media.m3u8': [0, 9],
  'wowza-audio_master.m3u8': [1, 0],
  'wowza-audio_chunklist_w905519204.m3u8': [4, 0],
  'shaka-packager-sample-aes-ctr-data-uri-byterange_media.m3u8': [11, 1],
  'shaka-packager-iframes-only-byterange_media.m3u8': [7, 0],
  'shaka-packager-fairplay-skd-discontinuity_media.m3u8': [3, 1],
  'bento4-av1-dolbyvision-map-byterange_media.m3u8': [25, 0],
  'aes256-per-segment-keys_media.m3u8': [12, 0],
  'clear-to-fairplay-map-switch_media.m3u8': [7, 1],
  'interstitials-x-asset-uri_media.m3u8': [8, 0],
  'interstitials-x-asset-list-no-eol_media.m3u8': [7, 0],
  'session-data-chapters-json_master.m3u8': [2, 0],
  'webvtt-subtitles_master.m3u8': [2, 0],
  'elemental-scte35-cue-out-asset_media.m3u8': [11, 0],
  'akamai-hdntl-token-slash-in-query_media.m3u8': [3, 0],
  'content-steering-pathways_master.m3u8': [5, 4],
  'image-stream-inf-trickplay_master.m3u8': [7, 0],
  'mediamtx-gohlslib-query-propagation_master.m3u8': [3, 0],
  'srs-live-no-desc-title_media.m3u8': [9, 0],
  'nginx-rtmp-live-discontinuity_media.m3u8': [4, 0],
  'nimble-live-sessionid_playlist.m3u8': [1, 0],
  'nimble-live-sessionid_chunks.m3u8': [2, 0],
  'ext-x-define-import-wwdc-sample_media.m3u8': [0, 1],
  'windows-backslash-path-broken_media.m3u8': [0, 1],
};

describe('HLS corpus (28 real playlists, test/manifest/corpus/hls)', () => {
  const corpusFiles = readdirSync(CORPUS).filter((name) => name.endsWith('.m3u8'));

  it('holds the 28 corpus files, each with its counts', () => {
    expect(corpusFiles).toHaveLength(28);
    expect(corpusFiles.sort()).toEqual(Object.keys(CORPUS_COUNTS).sort());
  });

  for (const name of corpusFiles) {
    describe(name, () => {
      const input = read(CORPUS + name);
      const url = new URL(`https://gw.example/streams/corpus/${name}?tok=IN`);
      const result = rewriteHls(input, { manifestUrl: url, tokenize: fixtureTokenizer });
      const [rw, leave] = CORPUS_COUNTS[name]!;

      it('keeps the playlist the same for m3u8-parser and every byte outside the URI sites', () => {
        expect(result.malformed).toBeUndefined();
        expectFaithful(input, result, url);
      });

      it(`gives a token to the ${rw} same-host URIs and leaves the other ${leave}`, () => {
        const sites = maskSites(result.text).uris;
        expect(sites.filter((uri) => TOKENED.test(uri))).toHaveLength(rw);
        expect(result.rewritten).toBe(rw);
        expect(result.skipped).toHaveLength(leave);
        expect(sites).toHaveLength(rw + leave);
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------------

const TAG_LINES = [
  '#EXTINF:4.0,',
  '#EXTINF:4.0,\ttitle, with "quotes"',
  '#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="a,b",URI="not-a-site.m3u8"',
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x,URI=y",URI="a/b.m3u8"',
  '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",INSTREAM-ID="CC1"',
  '#EXT-X-MAP:URI="init.mp4",BYTERANGE="1@0"',
  '#EXT-X-MAP:URI="unterminated.mp4',
  '#EXT-X-MAP:URI=unquoted.mp4,BYTERANGE=1@0',
  '#EXT-X-KEY:METHOD=AES-128,URI=" key.bin ",IV=0x01',
  '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://k"',
  '#EXT-X-KEY:METHOD=NONE',
  '#EXT-X-PART:DURATION=1,URI="p.mp4?x=1#f"',
  '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="https://other.example/p.mp4"',
  '#EXT-X-DATERANGE:ID="1",X-ASSET-URI="a.m3u8",X-NOTE="URI=x",X-ASSET-LIST="/l.json"',
  '#EXT-X-CONTENT-STEERING:SERVER-URI="",PATHWAY-ID="A"',
  '#EXT-X-DEFINE:NAME="v",VALUE="dir/"',
  '#EXT-X-DEFINE:NAME="q",VALUE="?s=1"',
  '#EXT-X-DEFINE:QUERYPARAM="auth"',
  '#EXT-X-DEFINE:IMPORT="i"',
  '#EXT-X-PREFETCH:next.ts',
  '#EXT-X-PREFETCH:',
  '#EXT-X-ENDLIST',
  '# comment URI="x.ts"',
  '##',
  '#EXT',
  '#',
];
const URI_LINES = [
  'seg.ts',
  ' \tspaced.ts\t ',
  '{$v}seg.ts{$q}',
  '{$i}x.ts',
  '{$undefined}y.ts',
  'seg.ts?tok=old&a=1',
  '../up/seg.ts#frag',
  '/root/seg.ts?',
  'https://gw.example/abs.ts',
  'https://other.example/abs.ts',
  '//gw.example/scheme-relative.ts',
  'data:text/plain,x',
  'C:\\win\\path.ts',
  'a b.ts',
  'seg:1.ts',
  'v/seg:1,2.ts',
  '\u00a0nbsp.ts\u2028',
  '{$',
  '?only-query',
  '#not-a-uri-but-a-comment',
];
/** Real line ends, and glued lines (a lone CR is no line end in RFC 8216 §4.1). */
const LINE_ENDS = ['\n', '\r\n'];
const GLUED = ['\r', ''];

function lineSoup(ends: readonly string[]): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.constantFrom('#EXTM3U', '\uFEFF#EXTM3U', '#EXTM3U '),
      fc.array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom(...TAG_LINES),
            fc.constantFrom(...URI_LINES),
            fc.constant(''),
            fc.string(),
          ),
          fc.constantFrom(...ends),
        ),
        { maxLength: 40 },
      ),
    )
    .map(([head, lines]) => head + '\n' + lines.map(([line, end]) => line + end).join(''));
}

const SOUP_URL = new URL('https://gw.example/live/x/index.m3u8?auth=%3Fa%3D1');

describe('HLS rewriter on arbitrary input (fast-check)', () => {
  const decline = (): undefined => undefined;
  const grant = (): TokenGrant => ({ kind: 'query', params: [['tok', 'G']] });

  it('never throws on arbitrary text, and declining every URI returns the input unchanged', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((tail) => '#EXTM3U' + tail),
        ),
        (text) => {
          const result = rewriteHls(text, { manifestUrl: SOUP_URL, tokenize: decline });
          expect(result.text).toBe(text);
          expect(result.rewritten).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws on line soups of tags and URIs, glued or not; declining returns the input unchanged', () => {
    fc.assert(
      fc.property(lineSoup([...LINE_ENDS, ...GLUED]), (text) => {
        const result = rewriteHls(text, { manifestUrl: SOUP_URL, tokenize: decline });
        expect(result.text).toBe(text);
        expect(result.rewritten).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('on line soups, granting changes nothing outside the URI sites', () => {
    fc.assert(
      fc.property(lineSoup(LINE_ENDS), (text) => {
        const result = rewriteHls(text, { manifestUrl: SOUP_URL, tokenize: grant });
        expect(maskSites(result.text).text).toBe(maskSites(text).text);
        expect(result.rewritten).toBeLessThanOrEqual(maskSites(text).uris.length);
      }),
      { numRuns: 500 },
    );
  });
});
