import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { rewriteHls } from '../../src/manifest/hls/index.js';
import { checkRequest } from '../../src/tokens/check.js';
import { isStaticManifest } from '../../src/manifest/index.js';
import type { TokenScheme } from '../../src/tokens/scheme.js';
import type { TokenStrategy } from '../../src/tokens/strategy.js';
import {
  carriesToken,
  checkOptions,
  expectJudgement,
  GATEWAY,
  judge,
  knownDefects,
  NOW,
  resourceOf,
  resolveHttp,
  runsFor,
  signManifest,
  STRATEGIES,
  tokenizerFor,
  withoutTokens,
  type FoundSite,
  type KnownDefect,
  type NoTokens,
} from './strategy-helpers.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/hls/', import.meta.url));
const CORPUS = fileURLToPath(new URL('./corpus/hls/', import.meta.url));

// ---------------------------------------------------------------------------------------------------
// The test's own reading of a playlist's URI sites (RFC 8216bis §4): lines, attribute lists and
// EXT-X-DEFINE written here again, sharing nothing with src/manifest/hls.

/** Attribute sites per tag, and whether the resource is reloaded like a playlist. */
const ATTRIBUTE_SITES: Readonly<Record<string, ReadonlyArray<readonly [name: string, playlist: boolean]>>> = {
  'EXT-X-MEDIA': [['URI', true]],
  'EXT-X-I-FRAME-STREAM-INF': [['URI', true]],
  'EXT-X-IMAGE-STREAM-INF': [['URI', true]],
  'EXT-X-RENDITION-REPORT': [['URI', true]],
  'EXT-X-CONTENT-STEERING': [['SERVER-URI', true]],
  'EXT-X-MAP': [['URI', false]],
  'EXT-X-KEY': [['URI', false]],
  'EXT-X-SESSION-KEY': [['URI', false]],
  'EXT-X-SESSION-DATA': [['URI', false]],
  'EXT-X-PART': [['URI', false]],
  'EXT-X-PRELOAD-HINT': [['URI', false]],
  'EXT-X-DATERANGE': [
    ['X-ASSET-URI', true],
    ['X-ASSET-LIST', false],
  ],
};

interface Span {
  readonly start: number;
  readonly end: number;
}

interface Attribute {
  readonly name: string;
  readonly value: Span;
}

/** RFC 8216 §4.2 attribute list: a quoted-string runs to the next `"`, anything else to the next comma. */
function attributes(text: string, from: number, to: number): Attribute[] {
  const found: Attribute[] = [];
  let i = from;
  while (i < to) {
    const eq = text.indexOf('=', i);
    const comma = text.indexOf(',', i);
    if (eq === -1 || eq >= to) break;
    if (comma !== -1 && comma < eq) {
      i = comma + 1;
      continue;
    }
    const name = text.slice(i, eq).trim();
    let v = eq + 1;
    while (v < to && (text[v] === ' ' || text[v] === '\t')) v += 1;
    if (text[v] === '"') {
      const close = text.indexOf('"', v + 1);
      // An unterminated quoted-string is no value at all.
      if (close === -1 || close >= to) break;
      found.push({ name, value: { start: v + 1, end: close } });
      const next = text.indexOf(',', close);
      i = next === -1 || next >= to ? to : next + 1;
    } else {
      const next = text.indexOf(',', v);
      const end = next === -1 || next >= to ? to : next;
      found.push({ name, value: { start: v, end } });
      i = end + 1;
    }
  }
  return found;
}

function trimmed(text: string, span: Span): Span {
  let { start, end } = span;
  while (start < end && /\s/.test(text[start]!)) start += 1;
  while (end > start && /\s/.test(text[end - 1]!)) end -= 1;
  return { start, end };
}

interface ScannedPlaylist {
  readonly sites: FoundSite[];
  /** The text with every URI site replaced by a placeholder. */
  readonly masked: string;
}

const MASK = '\u2063URI\u2063';

/** Finds every URI site and resolves it as a player requesting the playlist at `url` would. */
function scanPlaylist(text: string, url: URL): ScannedPlaylist {
  const sites: FoundSite[] = [];
  const spans: Span[] = [];
  if (!/^\uFEFF?#EXTM3U/.test(text)) return { sites, masked: text };
  // rfc8216bis §4.4.2.3: NAME/VALUE, QUERYPARAM (from the playlist's own URL) and IMPORT (unknown here).
  const variables = new Map<string, string>();
  // Variables whose value the viewer wrote (QUERYPARAM), and where their values start in a reference.
  const fromViewer = new Set<string>();
  const add = (site: string, span: Span, playlist: boolean): void => {
    const value = trimmed(text, span);
    if (value.end === value.start) return;
    const raw = text.slice(value.start, value.end);
    let unknown = false;
    let reference = '';
    let copied = 0;
    const viewerStarts: number[] = [];
    for (const match of raw.matchAll(/\{\$([A-Za-z0-9_-]+)\}/g)) {
      const known = variables.get(match[1]!);
      if (known === undefined) unknown = true;
      reference += raw.slice(copied, match.index);
      if (fromViewer.has(match[1]!)) viewerStarts.push(reference.length);
      reference += known ?? '';
      copied = match.index + match[0].length;
    }
    reference += raw.slice(copied);
    // The viewer decides where the URI points when one of their values starts before its query.
    const pathEnd = reference.search(/[?#]|$/);
    const viewerControlled = viewerStarts.some((start) => start < pathEnd);
    const resolved = unknown || reference.includes('{$') ? undefined : resolveHttp(reference, url);
    sites.push({
      site,
      raw,
      playlist,
      urls: resolved ? [resolved] : [],
      ...(viewerControlled ? { viewerControlled } : {}),
    });
    spans.push(value);
  };

  let nextLine: { site: string; playlist: boolean } = { site: 'segment', playlist: false };
  let lineStart = 0;
  while (lineStart <= text.length) {
    const newline = text.indexOf('\n', lineStart);
    const lineEnd = newline === -1 ? text.length : newline;
    const line = trimmed(text, { start: lineStart, end: lineEnd });
    lineStart = lineEnd + 1;
    if (line.start === line.end) continue;
    if (text[line.start] !== '#') {
      add(nextLine.site, line, nextLine.playlist);
      nextLine = { site: 'segment', playlist: false };
      continue;
    }
    if (!text.startsWith('#EXT', line.start)) continue;
    const colon = text.indexOf(':', line.start);
    if (colon === -1 || colon >= line.end) continue;
    const tag = text.slice(line.start + 1, colon);
    if (tag === 'EXT-X-STREAM-INF') nextLine = { site: 'variant', playlist: true };
    if (tag === 'EXT-X-PREFETCH') add(tag, { start: colon + 1, end: line.end }, false);
    const list = attributes(text, colon + 1, line.end);
    if (tag === 'EXT-X-DEFINE') {
      const get = (name: string): string | undefined => {
        const attribute = list.find((a) => a.name === name);
        return attribute && text.slice(attribute.value.start, attribute.value.end);
      };
      const [name, value, param, imported] = [get('NAME'), get('VALUE'), get('QUERYPARAM'), get('IMPORT')];
      if (param !== undefined) {
        const found = url.searchParams.get(param);
        if (found === null) variables.delete(param);
        else variables.set(param, found);
        fromViewer.add(param);
      } else if (name !== undefined && value !== undefined) {
        variables.set(name, value);
        fromViewer.delete(name);
      } else if (imported !== undefined) variables.delete(imported);
      continue;
    }
    for (const [name, playlist] of ATTRIBUTE_SITES[tag] ?? []) {
      for (const attribute of list.filter((a) => a.name === name))
        add(`${tag}@${name}`, attribute.value, playlist);
    }
  }

  let masked = '';
  let at = 0;
  for (const span of spans) {
    masked += text.slice(at, span.start) + MASK;
    at = span.end;
  }
  return { sites, masked: masked + text.slice(at) };
}

/** RFC 8216 §6.2.1/§6.3.4: a VOD or ended playlist, or a multivariant one, is loaded once. */
function loadedOnce(text: string): boolean {
  return (
    /^#EXT-X-ENDLIST\s*$/m.test(text) ||
    /^#EXT-X-PLAYLIST-TYPE:VOD\s*$/m.test(text) ||
    !/^\s*#EXTINF/m.test(text)
  );
}

// ---------------------------------------------------------------------------------------------------
// m3u8-parser as the reference reader (it ships no types: loaded untyped, given the little used here).

const { Parser } = createRequire(import.meta.url)('m3u8-parser') as {
  Parser: new (options: { uri: string }) => {
    push(text: string): void;
    end(): void;
    manifest: Record<string, unknown>;
  };
};

/**
 * m3u8-parser's reading with every URI value (`uri`, `serverUri`, `xAssetUri`, `xAssetList`) masked
 * and tokens taken out of any other text: the playlist's structure. The URIs themselves are the
 * judge's: resolved, compared with what the origin meant and verified one by one.
 */
function readBack(text: string, url: URL, scheme: TokenScheme): unknown {
  const parser = new Parser({ uri: url.href });
  parser.push(text);
  parser.end();
  const strip = (value: unknown, key = ''): unknown => {
    if (typeof value === 'string')
      return /(uri|xAssetList)$/i.test(key) ? MASK : withoutTokens(value, scheme);
    if (Array.isArray(value)) return value.map((item) => strip(item, key));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, strip(inner, name)]));
    }
    return value;
  };
  return strip(parser.manifest);
}

// ---------------------------------------------------------------------------------------------------

interface Case {
  /** The file, and the upstream origin when one is declared. */
  readonly label: string;
  readonly text: string;
  /** The URL the playlist is requested at, before signing. */
  readonly url: string;
  /** An origin named by the playlist's absolute URIs, declared as the upstream (rebased to the gateway). */
  readonly upstream?: string;
}

/** fixtures/hls/README.md: the context the fixtures were written for (`cdn`, `auth` feed QUERYPARAM). */
const FIXTURE_URL = `${GATEWAY}/live/cam1/index.m3u8?cdn=https%3A%2F%2Fgw.example%2Fvod&auth=%3Fsig%3Dq%2Bv`;

/** Corpus files whose same-host URIs are all absolute on one origin: run again with it as the upstream. */
const UPSTREAMS: Readonly<Record<string, string>> = {
  'aes128-key-rotation-absolute-no-eol_media.m3u8': 'http://media.example.com',
  'brightcove-absolute-query_master.m3u8': 'http://c.brightcove.com',
  'content-steering-pathways_master.m3u8': 'https://backup.example.com',
};

const fixtureInputs = readdirSync(FIXTURES).filter(
  (f) => f.endsWith('.m3u8') && !f.endsWith('.expected.m3u8'),
);
const corpusFiles = readdirSync(CORPUS).filter((f) => f.endsWith('.m3u8'));

const CASES: readonly Case[] = [
  ...fixtureInputs.map((file) => ({
    label: `fixtures/hls/${file}`,
    text: readFileSync(FIXTURES + file, 'utf8'),
    url: FIXTURE_URL,
  })),
  ...corpusFiles.flatMap((file) => {
    const plain = {
      label: `corpus/hls/${file}`,
      text: readFileSync(CORPUS + file, 'utf8'),
      url: `${GATEWAY}/streams/corpus/${file}`,
    };
    const upstream = UPSTREAMS[file];
    if (upstream === undefined) return [plain];
    return [plain, { ...plain, label: `${plain.label} with upstream ${upstream}`, upstream }];
  }),
];

const ALL: readonly TokenStrategy[] = STRATEGIES;

/**
 * Combinations that rightly give no token at all, each with its reason (read off the files by hand);
 * every other combination must have a token verified.
 */
const NO_TOKENS: Readonly<Record<string, NoTokens>> = {
  'fixtures/hls/not-a-playlist.m3u8': { strategies: ALL, why: 'no #EXTM3U: returned unchanged' },
  'corpus/hls/aes128-key-rotation-absolute-no-eol_media.m3u8': {
    strategies: ALL,
    why: 'every URI is absolute on media.example.com or priv.example.com',
  },
  'corpus/hls/aes128-key-rotation-absolute-no-eol_media.m3u8 with upstream http://media.example.com': {
    strategies: ['forward', 'path'],
    why: 'the upstream segments sit at the root, outside the playlist directory /streams/corpus/',
  },
  'corpus/hls/brightcove-absolute-query_master.m3u8': {
    strategies: ALL,
    why: 'every variant is absolute on c.brightcove.com',
  },
  'corpus/hls/brightcove-absolute-query_master.m3u8 with upstream http://c.brightcove.com': {
    strategies: ['forward', 'path'],
    why: 'the variants sit in /services/mobile/…, outside the playlist directory',
  },
  'corpus/hls/apple-bipbop-adv-fmp4_master.m3u8': {
    strategies: ['forward'],
    why: 'every variant, rendition and I-frame playlist is in a subdirectory (v5/, a1/, …)',
    belowDirectory: true,
  },
  'corpus/hls/image-stream-inf-trickplay_master.m3u8': {
    strategies: ['forward'],
    why: 'every playlist is in a subdirectory',
    belowDirectory: true,
  },
  'corpus/hls/ext-x-define-import-wwdc-sample_media.m3u8': {
    strategies: ALL,
    why: 'its only URI depends on an IMPORTed variable, unknown to a rewriter of this playlist',
  },
  'corpus/hls/windows-backslash-path-broken_media.m3u8': {
    strategies: ALL,
    why: 'its only URI is a Windows path (`C:\\…` reads as scheme `c:`), not http(s)',
  },
};

/**
 * Path tokens and `..`: the token segment is one more path level for the player. Since 8f576ed the
 * gateway resolves against the URL without the token and writes a reference that climbs and comes back
 * into the signed directory root-relative with the token; one that climbs out of it is still left as
 * written, so the player resolves it one level too deep (`../1M/live.m3u8` from
 * `/live/cam1/~t~e/index.m3u8` is `/live/cam1/1M/live.m3u8`, not the origin's `/live/1M/live.m3u8`).
 * When it is fixed these entries fail and must go.
 */
const CLIMBS = 'names another resource than the origin meant';
const KNOWN: readonly KnownDefect[] = [
  ['fixtures/hls/llhls-parts-hints-reports.m3u8', 'EXT-X-RENDITION-REPORT@URI ../1M/live.m3u8'],
  ['fixtures/hls/master-multivariant.m3u8', 'EXT-X-MEDIA@URI ../shared/audio/de.m3u8'],
  ['fixtures/hls/forward-subdirectories.pathform.m3u8', 'variant ../other/index.m3u8'],
  ['fixtures/hls/media-vod-keys-byteranges.m3u8', 'EXT-X-MAP@URI ../ad/init.mp4'],
  ['fixtures/hls/media-vod-keys-byteranges.m3u8', 'segment ../ad/seg-1.m4s'],
  ['corpus/hls/apple-llhls-delta-update-skip_media.m3u8', 'EXT-X-RENDITION-REPORT@URI ../1M/waitForMSN.php'],
  ['corpus/hls/apple-llhls-delta-update-skip_media.m3u8', 'EXT-X-RENDITION-REPORT@URI ../4M/waitForMSN.php'],
  ['corpus/hls/apple-llhls-spec-example_media.m3u8', 'EXT-X-RENDITION-REPORT@URI ../1M/waitForMSN.php'],
  ['corpus/hls/apple-llhls-spec-example_media.m3u8', 'EXT-X-RENDITION-REPORT@URI ../4M/waitForMSN.php'],
].flatMap(([label, where]) => knownDefects(label!, 'path', CLIMBS, [where!]));

describe('The token strategies on every HLS fixture and corpus playlist, checked by the verifier', () => {
  it('covers every fixture input and every corpus file', () => {
    expect(fixtureInputs.length).toBeGreaterThanOrEqual(12);
    expect(corpusFiles).toHaveLength(28);
    const labels = new Set(CASES.map((c) => c.label));
    expect(Object.keys(NO_TOKENS).filter((label) => !labels.has(label))).toEqual([]);
  });

  describe.each(CASES.map((c) => [c.label, c] as const))('%s', (_label, testCase) => {
    describe.each(STRATEGIES)('%s', (strategy) => {
      it.each(runsFor(strategy))(
        'nested URIs carry tokens the verifier accepts, the playlist reads the same, nothing else changes (%s)',
        (_runLabel, run) => {
          const { text, upstream } = testCase;
          const signed = signManifest(testCase.url, strategy, run);
          const result = rewriteHls(text, {
            manifestUrl: signed.rewriteBase,
            tokenize: tokenizerFor(strategy, run, signed.grant, isStaticManifest('hls', text), upstream),
          });
          const before = scanPlaylist(text, new URL(testCase.url));
          const after = scanPlaylist(result.text, signed.url);

          // README "The token strategies": the output differs from the input only inside URIs.
          expect(after.masked).toBe(before.masked);
          expect(after.sites).toHaveLength(before.sites.length);
          const none = NO_TOKENS[testCase.label];
          if (before.sites.length === 0) {
            expect(none?.strategies).toContain(strategy);
            expect(result.malformed).toBeDefined();
            expect(result.text).toBe(text);
            return;
          }
          expect(readBack(result.text, signed.url, run.scheme)).toEqual(
            readBack(text, signed.url, run.scheme),
          );

          const judgement = judge(before.sites, after.sites, {
            strategy,
            run,
            grant: signed.grant,
            staticManifest: loadedOnce(text),
            ...(upstream === undefined ? {} : { upstreamOrigin: upstream }),
          });
          expectJudgement(judgement, testCase.label, strategy, KNOWN, none, run);
        },
      );
    });
  });
});

describe('forward over renditions in subdirectories: leave (and count), path form, or mint', () => {
  const file = 'forward-subdirectories.pathform.m3u8';
  const text = readFileSync(FIXTURES + file, 'utf8');
  const remedies = ['leave', 'path', 'mint'] as const;
  /** What each remedy leaves without a token: forward alone covers only captions.m3u8. */
  const UNCOVERED = { leave: 6, path: 1, mint: 0 } as const;

  describe.each(remedies)('forwardUncovered: %s', (remedy) => {
    const runs = runsFor('forward').filter(([, run]) => remedy !== 'path' || run.scheme.pathTokens);
    it.each(runs)(
      'each URI the token reaches opens until the viewer token expires, never later (%s)',
      (_label, run) => {
        const signed = signManifest(FIXTURE_URL, 'forward', run);
        const tokenize = tokenizerFor('forward', run, signed.grant, true, undefined, remedy);
        const result = rewriteHls(text, { manifestUrl: signed.rewriteBase, tokenize });
        const before = scanPlaylist(text, new URL(FIXTURE_URL));
        const after = scanPlaylist(result.text, signed.url);
        expect(after.masked).toBe(before.masked);
        // An ectoken's ec_url_allow prefix opens the subdirectories already: forward copies it there.
        const expectedUncovered = run.scheme.pathTokens ? UNCOVERED[remedy] : remedy === 'mint' ? 0 : 1;
        expect((tokenize as unknown as { uncovered: number }).uncovered).toBe(expectedUncovered);
        let tokened = 0;
        after.sites.forEach((site, i) => {
          site.urls.forEach((url, k) => {
            expect(resourceOf(url, run.scheme), url.href).toBe(
              resourceOf(before.sites[i]!.urls[k]!, run.scheme),
            );
            if (!carriesToken(url, run.scheme)) return;
            tokened += 1;
            const at = (now: number) => checkRequest(url.href, checkOptions(run, now)).verdict;
            expect(at(NOW + 1).ok, url.href).toBe(true);
            expect(at(signed.grant.expires - 1).ok, url.href).toBe(true);
            expect(at(signed.grant.expires), url.href).toMatchObject({ ok: false, status: 410 });
          });
        });
        expect(tokened).toBe(7 - expectedUncovered);
      },
    );
  });
});
