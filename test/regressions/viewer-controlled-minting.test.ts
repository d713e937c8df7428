/**
 * A viewer must never widen what their token opens through the manifest rewriter. With
 * `#EXT-X-DEFINE:QUERYPARAM="name"` (RFC 8216bis §4.4.2.3) the value of `name` comes from the query of
 * the playlist URL — which the viewer writes. The gateway used to substitute it, resolve the URI, and
 * mint a working token for whatever path came out: a viewer holding a token for /live/index.m3u8 who
 * added `&name=../private/admin` got a token for /private/admin.ts.
 *
 * Each case here plays the attack end to end as a player would: ask the real gateway for the playlist
 * with the crafted query, substitute the variables in every URI of the answer (as hls.js does, through
 * URLSearchParams), resolve them (WHATWG URL) and request each one from the gateway. Nothing outside
 * /live/ may open, and the origin must never be asked for it. Neighbours: every URI site QUERYPARAM can
 * reach (EXT-X-KEY, EXT-X-MAP, segments, variants, EXT-X-MEDIA, I-frame and session keys, LL-HLS parts,
 * preload hints and rendition reports), the spellings of the climb, absolute values, every strategy,
 * and DASH, where no viewer value reaches a URI at all.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rewriteHls } from '../../src/manifest/hls/index.js';
import type { UriTarget } from '../../src/manifest/types.js';
import { httpGet, signed, startGateway, TestOrigin, type ZoneInput } from '../integration/support.js';

const PRIVATE_FILES = [
  '/private/admin.ts',
  '/private/admin.key',
  '/private/admin-init.mp4',
  '/private/admin.part1.m4s',
  '/private/admin.part2.m4s',
  '/private/admin.m3u8',
  '/private/admin/audio.m3u8',
  '/private/admin/iframes.m3u8',
  '/private/admin/other.m3u8',
  '/private/admin/data.json',
];

/** A multivariant playlist whose variant, rendition, I-frame and session URIs take `name` from the query. */
const MASTER = [
  '#EXTM3U',
  '#EXT-X-VERSION:11',
  '#EXT-X-DEFINE:QUERYPARAM="name"',
  '#EXT-X-SESSION-KEY:METHOD=AES-128,URI="{$name}.key"',
  '#EXT-X-SESSION-DATA:DATA-ID="com.example.data",URI="{$name}/data.json"',
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,URI="{$name}/audio.m3u8"',
  '#EXT-X-STREAM-INF:BANDWIDTH=1000000,AUDIO="aud"',
  '{$name}.m3u8',
  '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI="{$name}/iframes.m3u8"',
  '',
].join('\n');

/** A live LL-HLS media playlist whose key, map, segment, part, hint and report take `name` from the query. */
const MEDIA = [
  '#EXTM3U',
  '#EXT-X-VERSION:9',
  '#EXT-X-TARGETDURATION:4',
  '#EXT-X-PART-INF:PART-TARGET=1.0',
  '#EXT-X-MEDIA-SEQUENCE:10',
  '#EXT-X-DEFINE:QUERYPARAM="name"',
  '#EXT-X-KEY:METHOD=AES-128,URI="{$name}.key"',
  '#EXT-X-MAP:URI="{$name}-init.mp4"',
  '#EXTINF:4.0,',
  '{$name}.ts',
  '#EXT-X-PART:DURATION=1.0,URI="{$name}.part1.m4s"',
  '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{$name}.part2.m4s"',
  '#EXT-X-RENDITION-REPORT:URI="{$name}/other.m3u8",LAST-MSN=10,LAST-PART=0',
  '',
].join('\n');

/** QUERYPARAM in the query of a URI only: the path is the origin's, so tokens are minted as before. */
const SESSION_ONLY = [
  '#EXTM3U',
  '#EXT-X-TARGETDURATION:4',
  '#EXT-X-MEDIA-SEQUENCE:1',
  '#EXT-X-DEFINE:QUERYPARAM="session"',
  '#EXTINF:4.0,',
  'seg-1.ts?session={$session}',
  '#EXTINF:4.0,',
  'seg-2.ts{$session}',
  '',
].join('\n');

/** A live MPD: no viewer value can reach its URIs (no DASH construct reads the MPD URL's query into a path). */
const MPD = `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:up="urn:mpeg:dash:schema:urlparam:2014" type="dynamic"
     minimumUpdatePeriod="PT2S" availabilityStartTime="2026-01-01T00:00:00Z" profiles="urn:mpeg:dash:profile:isoff-live:2011">
  <Location>manifest.mpd</Location>
  <Period id="p0" start="PT0S">
    <AdaptationSet id="1" mimeType="video/mp4">
      <SupplementalProperty schemeIdUri="urn:mpeg:dash:urlparam:2014">
        <up:UrlQueryInfo queryTemplate="$querypart$" useMPDUrlQuery="true"/>
      </SupplementalProperty>
      <SegmentTemplate media="v/$Number$.m4s" initialization="v/init.mp4" startNumber="1" duration="2" timescale="1"/>
      <Representation id="v1" bandwidth="1000000"/>
    </AdaptationSet>
    <AdaptationSet id="2" mimeType="audio/mp4">
      <BaseURL>?x=1</BaseURL>
      <SegmentList duration="2"><SegmentURL media="a/1.m4s"/></SegmentList>
      <Representation id="a1" bandwidth="64000"/>
    </AdaptationSet>
  </Period>
</MPD>
`;

/** IMPORT takes a value from the multivariant playlist, which the rewriter of this one cannot see. */
const IMPORTED = [
  '#EXTM3U',
  '#EXT-X-TARGETDURATION:4',
  '#EXT-X-MEDIA-SEQUENCE:1',
  '#EXT-X-DEFINE:IMPORT="name"',
  '#EXTINF:4.0,',
  '{$name}.ts',
  '',
].join('\n');

/** Absolute URIs on another host: what a viewer's Host header must not turn into the gateway's. */
const FOREIGN = [
  '#EXTM3U',
  '#EXT-X-TARGETDURATION:4',
  '#EXT-X-MEDIA-SEQUENCE:1',
  '#EXTINF:4.0,',
  'http://other.example/private/admin.ts',
  '',
].join('\n');

let origin: TestOrigin;

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file('/live/master.m3u8', { body: MASTER, type: 'application/vnd.apple.mpegurl' });
  origin.file('/live/index.m3u8', { body: MEDIA, type: 'application/vnd.apple.mpegurl' });
  origin.file('/live/session.m3u8', { body: SESSION_ONLY, type: 'application/vnd.apple.mpegurl' });
  origin.file('/live/manifest.mpd', { body: MPD, type: 'application/dash+xml' });
  origin.file('/live/imported.m3u8', { body: IMPORTED, type: 'application/vnd.apple.mpegurl' });
  origin.file('/live/foreign.m3u8', { body: FOREIGN, type: 'application/vnd.apple.mpegurl' });
  for (const path of [...PRIVATE_FILES, '/live/v1.ts', '/live/seg-1.ts', '/live/seg-2.ts']) {
    origin.file(path, { body: `secret bytes of ${path}`, type: 'application/octet-stream' });
  }
});
beforeEach(() => origin.reset());
afterAll(async () => {
  await origin.close();
});

/** Every URI of a playlist as written: URI lines and quoted URI attributes. */
function playlistUris(text: string): string[] {
  const uris: string[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (!trimmed.startsWith('#')) uris.push(trimmed);
    for (const match of trimmed.matchAll(/\bURI="([^"]*)"/g)) uris.push(match[1]!);
  }
  return uris;
}

interface Followed {
  readonly uri: string;
  readonly url: URL;
  readonly status: number;
}

/**
 * What a player does with the playlist it got at `target`: substitutes `{$name}` from the playlist
 * URL's query (hls.js reads QUERYPARAM values with URLSearchParams), resolves each URI against the
 * playlist URL, and requests those on the gateway.
 */
async function followAsPlayer(gatewayUrl: string, target: string, body: string): Promise<Followed[]> {
  const playlistUrl = new URL(target, gatewayUrl);
  const followed: Followed[] = [];
  for (const uri of playlistUris(body)) {
    const substituted = uri.replace(/\{\$([A-Za-z0-9_-]+)\}/g, (_all, name: string) =>
      String(playlistUrl.searchParams.get(name)),
    );
    const url = new URL(substituted, playlistUrl);
    if (url.origin !== playlistUrl.origin) continue;
    const res = await httpGet(gatewayUrl, `${url.pathname}${url.search}`);
    followed.push({ uri, url, status: res.status });
  }
  return followed;
}

async function withGateway<T>(zone: Partial<ZoneInput>, run: (url: string) => Promise<T>): Promise<T> {
  const gw = await startGateway(origin.url, zone);
  try {
    return await run(gw.url);
  } finally {
    await gw.close();
  }
}

function privateRequestsAtOrigin(): string[] {
  return origin.requests.map((r) => r.url).filter((url) => url.startsWith('/private'));
}

/** The crafted values, each spelled so that it resolves to /private/admin…; `host` is the gateway's. */
function attacks(host: string): ReadonlyArray<readonly [string, string]> {
  return [
    ['dot segments', '../private/admin'],
    ['percent-encoded dots and slash', '%2e%2e%2fprivate%2fadmin'],
    ['double-encoded dots (WHATWG URL reads %2e as .)', '%252e%252e/private/admin'],
    ['root-relative', '/private/admin'],
    ['absolute URL of the gateway itself', `http://${host}/private/admin`],
    ['network-path reference', `//${host}/private/admin`],
    ['backslashes', '..\\private\\admin'],
  ];
}

describe('mint: a QUERYPARAM value never buys a token outside what the viewer holds', () => {
  for (const playlist of ['/live/index.m3u8', '/live/master.m3u8']) {
    it(`${playlist}, file token: no site of the playlist opens /private/ with any spelling`, async () => {
      await withGateway({ tokens: 'mint' }, async (url) => {
        const host = new URL(url).host;
        for (const [label, value] of attacks(host)) {
          origin.reset();
          const target = `${signed(playlist)}&name=${value.includes('%') ? value : encodeURIComponent(value)}`;
          const res = await httpGet(url, target);
          expect(res.status, label).toBe(200);
          const body = res.body.toString('utf8');
          const followed = await followAsPlayer(url, target, body);
          const reachedPrivate = followed.filter((f) => f.url.pathname.startsWith('/private/'));
          expect(reachedPrivate.length, `${label}: the attack resolves into /private/`).toBeGreaterThan(0);
          for (const attempt of reachedPrivate) {
            expect(attempt.status, `${label}: ${attempt.uri} → ${attempt.url.pathname}`).toBe(403);
          }
          // The substituted URIs are left as written: no token was handed out for them.
          for (const uri of playlistUris(body).filter((u) => u.includes('{$name}'))) {
            expect(uri, label).not.toMatch(/md5=/);
          }
          expect(privateRequestsAtOrigin(), label).toEqual([]);
        }
      });
    });
  }

  it('directory token for /live/: a value that stays in /live/ still gets its token, one that climbs does not', async () => {
    await withGateway({ tokens: 'mint' }, async (url) => {
      const token = signed('/live/index.m3u8', { dir: true });
      const inside = await httpGet(url, `${token}&name=v1`);
      const insideBody = inside.body.toString('utf8');
      expect(insideBody).toMatch(/^\{\$name\}\.ts\?md5=[A-Za-z0-9_-]{22}&expires=\d+$/m);
      const insideFollowed = await followAsPlayer(url, `${token}&name=v1`, insideBody);
      expect(insideFollowed.find((f) => f.url.pathname === '/live/v1.ts')?.status).toBe(200);

      origin.reset();
      const climbing = `${token}&name=..%2Fprivate%2Fadmin`;
      const out = await httpGet(url, climbing);
      const followed = await followAsPlayer(url, climbing, out.body.toString('utf8'));
      for (const attempt of followed.filter((f) => f.url.pathname.startsWith('/private/'))) {
        expect(attempt.status, attempt.url.pathname).toBe(403);
      }
      expect(privateRequestsAtOrigin()).toEqual([]);
    });
  });

  it('a QUERYPARAM in the query part only leaves the path the origin’s: tokens are minted as before', async () => {
    await withGateway({ tokens: 'mint' }, async (url) => {
      const target = `${signed('/live/session.m3u8')}&session=${encodeURIComponent('?id=../../private/admin.ts')}`;
      const res = await httpGet(url, target);
      const body = res.body.toString('utf8');
      expect(body).toMatch(/^seg-1\.ts\?session=\{\$session\}&md5=[A-Za-z0-9_-]{22}&expires=\d+$/m);
      const followed = await followAsPlayer(url, target, body);
      expect(followed.map((f) => [f.url.pathname, f.status])).toEqual([
        ['/live/seg-1.ts', 200],
        ['/live/seg-2.ts', 200],
      ]);
    });
  });
});

describe('other values the viewer controls', () => {
  it('an IMPORTed variable is unknown to the rewriter: its URIs get no token, whatever the query says', async () => {
    await withGateway({ tokens: 'mint' }, async (url) => {
      const target = `${signed('/live/imported.m3u8', { dir: true })}&name=v1`;
      const body = (await httpGet(url, target)).body.toString('utf8');
      expect(body).toContain('\n{$name}.ts\n');
      expect(body).not.toMatch(/md5=/);
    });
  });

  it("with publicOrigin set, a viewer's Host naming another host gets its absolute URIs no token", async () => {
    await withGateway({ tokens: 'mint', publicOrigin: 'https://cdn.example.com' }, async (url) => {
      const res = await httpGet(url, signed('/live/foreign.m3u8'), { host: 'other.example' });
      expect(res.status).toBe(200);
      expect(res.body.toString('utf8')).toContain('\nhttp://other.example/private/admin.ts\n');
    });
  });
});

describe('the other strategies hold too', () => {
  it('forward: the viewer’s directory token is copied only where it already opens', async () => {
    await withGateway({ tokens: 'forward' }, async (url) => {
      const target = `${signed('/live/index.m3u8', { dir: true })}&name=..%2Fprivate%2Fadmin`;
      const res = await httpGet(url, target);
      const followed = await followAsPlayer(url, target, res.body.toString('utf8'));
      expect(followed.some((f) => f.url.pathname.startsWith('/private/'))).toBe(true);
      for (const attempt of followed.filter((f) => f.url.pathname.startsWith('/private/'))) {
        expect(attempt.status, attempt.url.pathname).toBe(403);
      }
      expect(privateRequestsAtOrigin()).toEqual([]);
    });
  });

  it('path: a climbing value leaves the path token behind; an absolute one gets no token inserted', async () => {
    await withGateway({ tokens: 'path' }, async (url) => {
      const host = new URL(url).host;
      const base = signed('/live/index.m3u8', { pathToken: true });
      for (const value of ['..%2F..%2Fprivate%2Fadmin', encodeURIComponent(`http://${host}/private/admin`)]) {
        origin.reset();
        const target = `${base}?name=${value}`;
        const res = await httpGet(url, target);
        expect(res.status).toBe(200);
        const followed = await followAsPlayer(url, target, res.body.toString('utf8'));
        expect(followed.some((f) => f.url.pathname.startsWith('/private/'))).toBe(true);
        for (const attempt of followed.filter((f) => f.url.pathname.startsWith('/private/'))) {
          expect(attempt.status, attempt.url.pathname).toBe(403);
        }
        expect(privateRequestsAtOrigin()).toEqual([]);
      }
    });
  });
});

describe('DASH: no value of the viewer reaches a URI', () => {
  it('the MPD URL’s query (also with UrlQueryInfo useMPDUrlQuery) never changes a granted path', async () => {
    await withGateway({ tokens: 'mint' }, async (url) => {
      const target = `${signed('/live/manifest.mpd')}&name=..%2Fprivate%2Fadmin&$RepresentationID$=..%2Fprivate`;
      const res = await httpGet(url, target);
      expect(res.status).toBe(200);
      const body = res.body.toString('utf8');
      const granted = [...body.matchAll(/(?:media|initialization)="([^"]+)"|<(?:BaseURL|Location)>([^<]+)</g)]
        .map((m) => (m[1] ?? m[2] ?? '').replace(/&amp;/g, '&'))
        .filter((uri) => uri.includes('md5='));
      expect(granted.length).toBeGreaterThan(0);
      for (const uri of granted) {
        const resolved = new URL(uri.replace(/\$[A-Za-z]*\$/g, '1'), new URL(target, url));
        expect(resolved.pathname, uri).toMatch(/^\/live\//);
        expect(resolved.pathname, uri).not.toContain('private');
      }
      expect(privateRequestsAtOrigin()).toEqual([]);
    });
  });
});

describe('the rewriter tells the tokenizer which targets the viewer decided', () => {
  it('viewerControlled is set exactly when a QUERYPARAM value reaches the scheme, host or path', () => {
    const playlist = [
      '#EXTM3U',
      '#EXT-X-TARGETDURATION:4',
      '#EXT-X-DEFINE:QUERYPARAM="q"',
      '#EXT-X-DEFINE:NAME="fixed",VALUE="sub"',
      '#EXTINF:4,',
      '{$q}.ts',
      '#EXTINF:4,',
      'seg.ts?session={$q}',
      '#EXTINF:4,',
      'seg.ts{$q}',
      '#EXTINF:4,',
      '{$fixed}/seg.ts',
      '#EXTINF:4,',
      'https://{$q}/seg.ts',
      '#EXTINF:4,',
      'plain.ts',
      '',
    ].join('\n');
    const seen: Array<[string, boolean]> = [];
    const tokenize = (target: UriTarget) => {
      seen.push([target.pathname, target.viewerControlled === true]);
      return undefined;
    };
    for (const [value, expected] of [
      // A value that only adds a query (`?…`) leaves the path the origin's (or the playlist's own, for
      // `{$q}.ts`, which the viewer's token opens already); `https://?a=1/seg.ts` is no URL at all.
      [
        '?a=1',
        [
          ['/live/index.m3u8', false],
          ['/live/seg.ts', false],
          ['/live/seg.ts', false],
          ['/live/sub/seg.ts', false],
          ['/live/plain.ts', false],
        ],
      ],
      [
        'v1',
        [
          ['/live/v1.ts', true],
          ['/live/seg.ts', false],
          ['/live/seg.tsv1', true],
          ['/live/sub/seg.ts', false],
          ['/seg.ts', true],
          ['/live/plain.ts', false],
        ],
      ],
    ] as const) {
      seen.length = 0;
      const manifestUrl = new URL(`https://gw.example/live/index.m3u8?q=${encodeURIComponent(value)}`);
      rewriteHls(playlist, { manifestUrl, tokenize });
      expect(seen, value).toEqual(expected);
    }
  });
});
