/**
 * A Gcore or KeyCDN directory token for `/videos/` opens the files directly in `/videos/`, not the
 * subdirectories (README "Token rules"). A path-embedded token `/videos/~TOKEN~EXPIRES/…` signs the
 * same string — the directory, in the scheme's own formula — and opens the whole subtree. So a viewer
 * holding a directory token for `/videos/` could rewrite their link to
 * `/videos/~TOKEN~EXPIRES/premium/movie.ts` and open every subdirectory: the operator who handed out
 * "these files, not the subdirectories" was tricked.
 *
 * `pathTokens: false` makes a zone read no token from the path and write none into manifests. These
 * cases send the exact escalation through the real gateway to a real origin on 127.0.0.1: refused
 * (and the origin never asked) with `pathTokens: false`, in the proxy path, the auth endpoint and
 * through a neighbouring zone that shares the key; accepted with the default, which is documented
 * and asserted here so that a change is noticed. Then the manifest side: a mint zone without path
 * tokens writes no path form, on the event loop and in a rewrite thread (over 64 KiB), and the
 * configuration refuses settings that need path tokens.
 */
import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { INLINE_REWRITE_CHARS } from '../../src/gateway/rewrite-pool.js';
import { rewriteDash } from '../../src/manifest/dash/index.js';
import { checkRequest } from '../../src/tokens/check.js';
import { gcore } from '../../src/tokens/gcore.js';
import { withPathTokensOff } from '../../src/tokens/path-form.js';
import { schemeForZone } from '../../src/tokens/registry.js';
import { createTokenizer, type ForwardUncovered, type TokenStrategy } from '../../src/tokens/strategy.js';
import type { PresentedToken, SignTarget, TokenScheme, VerifyContext } from '../../src/tokens/scheme.js';
import type { Grant } from '../../src/tokens/verdict.js';
import {
  httpGet,
  nowSeconds,
  SECRET,
  signed,
  startGateway,
  TestOrigin,
  type ZoneInput,
} from '../integration/support.js';
import { startServeProcess } from '../helpers/serve-process.js';

const MOVIE = Buffer.from('premium movie bytes');
const INTRO = Buffer.from('free intro bytes');

/**
 * Gcore's formula written out here, not taken from src/: base64url-nopad(md5(`{expires}{path} {key}`))
 * (Gcore "Secure Token", no IP binding). For `/videos/` it is the directory token.
 */
function gcoreToken(path: string, expires: number, key = SECRET): string {
  return createHash('md5').update(`${expires}${path} ${key}`).digest('base64url');
}

/** The directory token the operator handed out, and the link the viewer was given. */
const expires = nowSeconds() + 600;
const directoryToken = gcoreToken('/videos/', expires);
const GIVEN = `/videos/intro.ts?md5=${directoryToken}&expires=${expires}`;
/** The viewer's rewrite: the same two values as a path segment after the signed directory. */
const ESCALATION = `/videos/~${directoryToken}~${expires}/premium/movie.ts`;

let origin: TestOrigin;

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file('/videos/intro.ts', { body: INTRO, type: 'video/mp2t' });
  origin.file('/videos/premium/movie.ts', { body: MOVIE, type: 'video/mp2t' });
  origin.file('/videos/premium/trailer.ts', { body: MOVIE, type: 'video/mp2t' });
});
afterAll(async () => {
  await origin?.close();
});
beforeEach(() => origin.reset());

const originPaths = () => origin.requests.map((request) => request.url);

describe('the escalation, as a viewer sends it', () => {
  let open: Awaited<ReturnType<typeof startGateway>>;
  let strict: Awaited<ReturnType<typeof startGateway>>;
  let nested: Awaited<ReturnType<typeof startGateway>>;
  const strictLogs: string[] = [];

  beforeAll(async () => {
    const zone = (extra: Partial<ZoneInput>): ZoneInput =>
      ({
        name: 'videos',
        pathPrefix: '/videos',
        origin: origin.url,
        scheme: 'gcore',
        secrets: [SECRET],
        ...extra,
      }) as ZoneInput;
    open = await startGateway(origin.url, {}, { trustedProxies: ['127.0.0.1'], zones: [zone({})] });
    strict = await startGateway(
      origin.url,
      {},
      { trustedProxies: ['127.0.0.1'], zones: [zone({ pathTokens: false })] },
      strictLogs,
    );
    // The operator refuses path tokens where the directory tokens are handed out, and a second zone for
    // the premium subtree (its own origin settings, the same key) keeps the default.
    nested = await startGateway(
      origin.url,
      {},
      {
        trustedProxies: ['127.0.0.1'],
        zones: [
          zone({ pathTokens: false }),
          zone({ name: 'premium', pathPrefix: '/videos/premium', tokens: 'forward' }),
        ],
      },
    );
  });
  afterAll(async () => {
    await open?.close();
    await strict?.close();
    await nested?.close();
  });

  it('the link as given opens the file directly in /videos/, in both zones', async () => {
    for (const gateway of [open, strict]) {
      const res = await httpGet(gateway.url, GIVEN);
      expect(res.status).toBe(200);
      expect(res.body.equals(INTRO)).toBe(true);
    }
  });

  it('the same token in the query does not open /videos/premium/ (files directly in it only)', async () => {
    const target = `/videos/premium/movie.ts?md5=${directoryToken}&expires=${expires}`;
    for (const gateway of [open, strict]) expect((await httpGet(gateway.url, target)).status).toBe(403);
    expect(originPaths()).toEqual([]);
  });

  it('with the default (pathTokens: true) the path form opens the subtree: documented, and noticed if it changes', async () => {
    const res = await httpGet(open.url, ESCALATION);
    expect(res.status).toBe(200);
    expect(res.body.equals(MOVIE)).toBe(true);
    expect(originPaths()).toEqual(['/videos/premium/movie.ts']);
  });

  it('with pathTokens: false the path form is refused 403 (missing), and the origin is never asked', async () => {
    const res = await httpGet(strict.url, ESCALATION);
    expect(res.status).toBe(403);
    expect(res.body.toString()).toBe('403 Forbidden (missing)\n');
    // The same segment before a file directly in /videos/, and a HEAD, are refused as well.
    expect((await httpGet(strict.url, `/videos/~${directoryToken}~${expires}/intro.ts`)).status).toBe(403);
    expect((await httpGet(strict.url, ESCALATION, {}, 'HEAD')).status).toBe(403);
    expect(originPaths()).toEqual([]);
    // The operator's log says why, without the token.
    const denial = strictLogs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => String(line.detail ?? '').includes('~token~expires'));
    expect(denial, strictLogs.join('\n')).toBeDefined();
    expect(strictLogs.join('\n')).not.toContain(directoryToken);
  });

  it('with pathTokens: false the auth endpoint refuses it too (a front proxy asks the same question)', async () => {
    const ask = (gateway: { url: string }, target: string) =>
      httpGet(gateway.url, '/_streamgate/auth', { 'x-original-uri': target, 'x-original-method': 'GET' });
    expect((await ask(open, ESCALATION)).status).toBe(204);
    const refused = await ask(strict, ESCALATION);
    expect(refused.status).toBe(403);
    expect(refused.headers['x-streamgate-reason']).toBe('missing');
    expect((await ask(strict, GIVEN)).status).toBe(204);
  });

  it('a neighbouring zone that shares the key does not read the token for the refusing zone (404)', async () => {
    // The path without its token names the premium zone, which takes path tokens; the token stands in
    // the refusing zone's part of the tree, where it is a directory token.
    const res = await httpGet(nested.url, ESCALATION);
    expect(res.status).toBe(404);
    const asked = await httpGet(nested.url, '/_streamgate/auth', { 'x-original-uri': ESCALATION });
    expect(asked.status).toBe(404);
    expect(originPaths()).toEqual([]);
    // The premium zone's own path tokens, and the refusing zone's query tokens, still open.
    const own = `/videos/premium/~${gcoreToken('/videos/premium/', expires)}~${expires}/movie.ts`;
    expect((await httpGet(nested.url, own)).status).toBe(200);
    expect((await httpGet(nested.url, GIVEN)).status).toBe(200);
  });
});

describe('serve --no-path-tokens, through the real command', () => {
  it('refuses the escalation 403 without asking the origin; the link as given still opens', async () => {
    const serve = startServeProcess([
      ...['--origin', origin.url, '--scheme', 'gcore', '--secret', SECRET, '--port', '0'],
      '--no-path-tokens',
    ]);
    try {
      const base = (await serve.waitFor((line) => line.msg?.startsWith('listening on') === true)).url ?? '';
      const refused = await httpGet(base, ESCALATION);
      expect(refused.status).toBe(403);
      expect(refused.body.toString()).toBe('403 Forbidden (missing)\n');
      expect(originPaths()).toEqual([]);
      const given = await httpGet(base, GIVEN);
      expect(given.status).toBe(200);
      expect(given.body.equals(INTRO)).toBe(true);
    } finally {
      await serve.kill();
    }
  }, 60_000);
});

describe('the zone scheme without path tokens', () => {
  /** A scheme built as a class: methods on the prototype, state in a private field (gcore inside). */
  class ClassScheme implements TokenScheme {
    readonly #inner: TokenScheme = gcore;
    readonly name = 'class-gcore';
    readonly params = gcore.params;
    readonly bareQueryToken = false;
    readonly pathTokens = true;
    readonly directoryScope = 'files' as const;
    readonly maxTokenLength = gcore.maxTokenLength;
    readonly readsRequestFacts = false;
    readonly supportsIp = true;
    readonly transports = gcore.transports;
    readonly capabilities = gcore.capabilities;
    stringToSign(target: SignTarget, key: string): string {
      return this.#inner.stringToSign(target, key);
    }
    sign(target: SignTarget, key: string): string {
      return this.#inner.sign(target, key);
    }
    verify(presented: PresentedToken, context: VerifyContext) {
      return this.#inner.verify(presented, context);
    }
    covers(grant: Grant, path: string): boolean {
      return this.#inner.covers(grant, path);
    }
    queryParams(token: string, at: number) {
      return this.#inner.queryParams(token, at);
    }
  }

  it('keeps every method of a class instance (private fields included) and drops only the path form', () => {
    const off = withPathTokensOff(new ClassScheme());
    expect(off.pathTokens).toBe(false);
    expect(off.transports.pathSegment).toBe(false);
    expect(off.capabilities.pathForm).toBe(false);
    expect(off.sign({ path: '/videos/', expires }, SECRET)).toBe(directoryToken);
    const check = (target: string) =>
      checkRequest(target, { scheme: off, keys: [SECRET], now: nowSeconds() });
    expect(check(GIVEN).verdict).toMatchObject({ ok: true, scope: 'directory', signedPath: '/videos/' });
    expect(check(ESCALATION).verdict).toMatchObject({ ok: false, reason: 'missing' });
    // The original still reads path tokens: it was not changed in place.
    const original = checkRequest(ESCALATION, {
      scheme: new ClassScheme(),
      keys: [SECRET],
      now: nowSeconds(),
    });
    expect(original.verdict).toMatchObject({ ok: true, scope: 'path' });
  });

  it("Bunny's token-holding first segment is not read either; its query token still opens", () => {
    const on = schemeForZone('bunny');
    const off = schemeForZone('bunny', undefined, { pathTokens: false });
    expect(off.transports.pathPrefix).toBeUndefined();
    expect(off.pathForm).toBeUndefined();
    const inPath = signed('/videos/premium/movie.ts', { scheme: 'bunny', pathToken: true, dir: true });
    const inQuery = signed('/videos/premium/movie.ts', { scheme: 'bunny' });
    expect(inPath.startsWith('/bcdn_token=')).toBe(true);
    const now = nowSeconds();
    expect(checkRequest(inPath, { scheme: on, keys: [SECRET], now }).verdict.ok).toBe(true);
    expect(checkRequest(inPath, { scheme: off, keys: [SECRET], now }).verdict.ok).toBe(false);
    expect(checkRequest(inQuery, { scheme: off, keys: [SECRET], now }).verdict.ok).toBe(true);
  });
});

/**
 * An MPD in the two layouts that need a path form in a mint zone: a SegmentTemplate shared by two
 * Representations with `$RepresentationID$` in its directory (one directory each: no directory token
 * opens both), and a leaf BaseURL (ffmpeg's DASH demuxer mangles a query there). `padding` makes it
 * long enough for a rewrite thread.
 */
function mpd(padding = 0): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT4S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">',
    padding > 0 ? `  <!-- ${'p'.repeat(padding)} -->` : '',
    '  <Period id="0">',
    '    <AdaptationSet contentType="video">',
    '      <SegmentTemplate timescale="1000" duration="2000" initialization="$RepresentationID$/init.m4s" media="$RepresentationID$/seg_$Number%03d$.m4s" startNumber="1"/>',
    '      <Representation id="v0" bandwidth="50000"/>',
    '      <Representation id="v1" bandwidth="80000"/>',
    '    </AdaptationSet>',
    '    <AdaptationSet contentType="audio">',
    '      <Representation id="a0" bandwidth="64000">',
    '        <BaseURL>audio/a0.mp4</BaseURL>',
    '        <SegmentBase indexRange="700-900"/>',
    '      </Representation>',
    '    </AdaptationSet>',
    '  </Period>',
    '</MPD>',
    '',
  ].join('\n');
}

const reader = new XMLParser({ ignoreAttributes: false, parseTagValue: false, parseAttributeValue: false });

interface Read {
  readonly initialization: string;
  readonly media: string;
  readonly baseUrl: string;
}

function readBack(text: string): Read {
  const tree = reader.parse(text) as {
    MPD: {
      Period: {
        AdaptationSet: Array<{
          SegmentTemplate?: Record<string, string>;
          Representation: { BaseURL?: string } | unknown[];
        }>;
      };
    };
  };
  const [video, audio] = tree.MPD.Period.AdaptationSet;
  return {
    initialization: video?.SegmentTemplate?.['@_initialization'] ?? '',
    media: video?.SegmentTemplate?.['@_media'] ?? '',
    baseUrl: String((audio?.Representation as { BaseURL?: string }).BaseURL ?? ''),
  };
}

describe('manifests in a mint zone without path tokens carry no path form', () => {
  let open: Awaited<ReturnType<typeof startGateway>>;
  let strict: Awaited<ReturnType<typeof startGateway>>;
  const strictLogs: string[] = [];

  beforeAll(async () => {
    origin.file('/videos/show/small.mpd', { body: mpd(), type: 'application/dash+xml' });
    origin.file('/videos/show/large.mpd', {
      body: mpd(INLINE_REWRITE_CHARS + 4096),
      type: 'application/dash+xml',
    });
    origin.file('/videos/show/audio/a0.mp4', { body: INTRO, type: 'video/mp4' });
    const zone = { tokens: 'mint', cache: { livePlaylists: false } } as const;
    open = await startGateway(origin.url, zone);
    strict = await startGateway(origin.url, { ...zone, pathTokens: false }, {}, strictLogs);
  });
  afterAll(async () => {
    await open?.close();
    await strict?.close();
  });

  it('the larger MPD is past the inline limit (rewritten in a thread), the smaller within it', () => {
    expect(mpd(INLINE_REWRITE_CHARS + 4096).length).toBeGreaterThan(INLINE_REWRITE_CHARS);
    expect(mpd().length).toBeLessThan(INLINE_REWRITE_CHARS);
  });

  describe.each([
    ['on the event loop', 'small.mpd'],
    ['in a rewrite thread', 'large.mpd'],
  ])('%s', (_where, file) => {
    const url = `/videos/show/${file}`;

    it('the default zone writes path forms there (the control)', async () => {
      const res = await httpGet(open.url, signed(url));
      expect(res.status).toBe(200);
      const read = readBack(res.body.toString());
      // The directory above the Representations' directories, and the BaseURL's own, in path form.
      const template = /^~([A-Za-z0-9_-]{22})~(\d+)\/\$RepresentationID\$\/init\.m4s$/.exec(
        read.initialization,
      );
      expect(template, read.initialization).not.toBeNull();
      expect(template?.[1]).toBe(gcoreToken('/videos/show/', Number(template?.[2])));
      const base = /^audio\/~([A-Za-z0-9_-]{22})~(\d+)\/a0\.mp4$/.exec(read.baseUrl);
      expect(base, read.baseUrl).not.toBeNull();
      expect(base?.[1]).toBe(gcoreToken('/videos/show/audio/', Number(base?.[2])));
    });

    it('pathTokens: false: no ~token~expires anywhere; the leaf BaseURL gets a query token that opens it; the shared template none', async () => {
      const from = strictLogs.length;
      const res = await httpGet(strict.url, signed(url));
      expect(res.status).toBe(200);
      const text = res.body.toString();
      expect(text).not.toMatch(/~[A-Za-z0-9_-]*~\d/);
      const read = readBack(text);
      // The template is left byte for byte: a Gcore directory token for /videos/show/ would not open
      // /videos/show/v0/, and no other token the zone accepts would.
      expect(read.initialization).toBe('$RepresentationID$/init.m4s');
      expect(read.media).toBe('$RepresentationID$/seg_$Number%03d$.m4s');
      const query = /^audio\/a0\.mp4\?md5=([A-Za-z0-9_-]{22})&(?:amp;)?expires=(\d+)$/.exec(read.baseUrl);
      expect(query, read.baseUrl).not.toBeNull();
      const [, token, at] = query ?? [];
      // The file's own token, by the formula written out above.
      expect(token).toBe(gcoreToken('/videos/show/audio/a0.mp4', Number(at)));
      const media = await httpGet(strict.url, `/videos/show/${read.baseUrl.replace('&amp;', '&')}`);
      expect(media.status).toBe(200);
      // One warning per manifest names what players will miss, and how to fix it.
      const warnings = strictLogs
        .slice(from)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.level === 40 || line.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(String(warnings[0]?.msg)).toMatch(/^mint: templates naming one directory per Representation/);
      expect(warnings[0]?.uncovered).toBe(2);
    });
  });
});

describe('no strategy writes a path form with the path form off (the tokenizer, as the library calls it)', () => {
  const now = nowSeconds();
  const grantFor = (target: string): Grant => {
    const { verdict } = checkRequest(target, { scheme: gcore, keys: [SECRET], now });
    if (!verdict.ok) throw new Error(verdict.detail);
    return verdict;
  };
  const fileGrant = grantFor(signed('/videos/show/small.mpd'));
  const directoryGrant = grantFor(signed('/videos/show/small.mpd', { dir: true }));
  const PATH_FORM = /~[A-Za-z0-9_-]{22}~\d+\//;
  const cases: Array<[string, TokenStrategy, ForwardUncovered, Grant, string]> = [
    ['mint', 'mint', 'leave', fileGrant, mpd()],
    ['forward, forwardUncovered: path', 'forward', 'path', directoryGrant, mpd()],
    ['forward, forwardUncovered: mint', 'forward', 'mint', directoryGrant, mpd()],
    [
      "forward, a leaf BaseURL in the viewer's directory",
      'forward',
      'leave',
      directoryGrant,
      mpd().replace('audio/a0.mp4', 'a0.mp4'),
    ],
  ];

  it.each(cases)('%s', (_label, strategy, forwardUncovered, incoming, text) => {
    const written = (scheme: TokenScheme) =>
      rewriteDash(text, {
        manifestUrl: new URL('https://gw.example/videos/show/small.mpd'),
        tokenize: createTokenizer({
          strategy,
          scheme,
          signingKey: SECRET,
          incoming,
          now,
          playlistTtl: 3600,
          segmentTtl: 60,
          staticManifest: true,
          publicOrigin: 'https://gw.example',
          forwardUncovered,
        }),
      }).text;
    expect(written(gcore)).toMatch(PATH_FORM);
    const off = written(withPathTokensOff(gcore));
    expect(off).not.toMatch(PATH_FORM);
    expect(off).not.toContain('~');
  });
});

describe('configuration refuses what needs path tokens in a zone that refuses them', () => {
  const problems = (zone: Record<string, unknown>) => {
    const result = resolveConfig({
      zones: [{ name: 'z', origin: 'http://127.0.0.1:1', scheme: 'gcore', secrets: ['k'], ...zone }],
    });
    return result.ok ? [] : [...result.problems];
  };

  it('tokens: path', () => {
    expect(problems({ tokens: 'path', pathTokens: false })).toEqual([
      'zones[0].tokens: tokens: path needs tokens in the path, which pathTokens: false refuses; use tokens: mint or forward, or set pathTokens: true',
    ]);
  });

  it('forwardUncovered: path', () => {
    expect(problems({ tokens: 'forward', forwardUncovered: 'path', pathTokens: false })).toEqual([
      "zones[0].forwardUncovered: writes the viewer's token in path form, which pathTokens: false refuses; use forwardUncovered: mint or leave, or set pathTokens: true",
    ]);
  });

  it('accepts the rest: mint and forward with any remedy but path, and the default', () => {
    expect(problems({ pathTokens: false })).toEqual([]);
    expect(problems({ tokens: 'forward', forwardUncovered: 'mint', pathTokens: false })).toEqual([]);
    expect(problems({ tokens: 'path' })).toEqual([]);
    expect(problems({ pathTokens: 'no' })).toEqual([
      'zones[0].pathTokens: must be true or false (expected boolean, received string)',
    ]);
  });

  it('a scheme without a path form takes the setting and changes nothing (it never reads path tokens)', () => {
    expect(problems({ scheme: 'ectoken', secrets: ['abc'], pathTokens: false })).toEqual([]);
    expect(problems({ scheme: 'ectoken', secrets: ['abc'], pathTokens: true })).toEqual([]);
  });
});
