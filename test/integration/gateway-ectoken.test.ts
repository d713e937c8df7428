/**
 * ectoken through the real gateway: an ectoken zone in front of a real origin. Tokens are built here
 * from their plaintext with a test-local encryptor (node:crypto only, from the format description), so
 * every rule is exercised through HTTP exactly as a backend would have written it.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configOrThrow, ConfigError, resolveConfig } from '../../src/config/index.js';
import { createGateway } from '../../src/gateway/index.js';
import { writeCountryMmdb } from '../helpers/mmdb.js';
import { httpGet, nowSeconds, startGateway, TestOrigin } from './support.js';

const PRIMARY = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const BACKUP = 'BackupKey2026';

/** AES-256-GCM under SHA-256 of the key text, random 12-byte IV, token = base64url(IV ‖ ct ‖ tag). */
function ectoken(plaintext: string, key = PRIMARY): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', createHash('sha256').update(key, 'utf8').digest(), iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url');
}

const future = (): number => nowSeconds() + 300;
const segment = randomBytes(64 * 1024 + 3);
const MEDIA_PLAYLIST = [
  '#EXTM3U',
  '#EXT-X-VERSION:3',
  '#EXT-X-TARGETDURATION:4',
  '#EXT-X-KEY:METHOD=AES-128,URI="keys/k1.key"',
  '#EXTINF:4.0,',
  'seg-1.ts',
  '#EXTINF:4.0,',
  'hi/seg-2.ts?quality=hi',
  '#EXT-X-ENDLIST',
  '',
].join('\n');

let origin: TestOrigin;
let gw: Awaited<ReturnType<typeof startGateway>>;
const logs: string[] = [];

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file('/videos/v1/seg-1.ts', { body: segment, type: 'video/mp2t' });
  origin.file('/videos/v1/hi/seg-2.ts', { body: segment, type: 'video/mp2t' });
  origin.file('/videos/v1/keys/k1.key', { body: randomBytes(16), type: 'application/octet-stream' });
  origin.file('/videos/v1/index.m3u8', { body: MEDIA_PLAYLIST, type: 'application/vnd.apple.mpegurl' });
  origin.file('/other/seg.ts', { body: segment, type: 'video/mp2t' });
  gw = await startGateway(
    origin.url,
    { scheme: 'ectoken', secrets: [PRIMARY, BACKUP], tokens: 'mint' },
    { geo: { header: 'x-viewer-country' } },
    logs,
  );
});
afterAll(async () => {
  await gw.close();
  await origin.close();
});
afterEach(() => origin.reset());

const get = (path: string, headers: Record<string, string> = {}) => httpGet(gw.url, path, headers);

describe('ectoken: ectoken v3 tokens at the gateway', () => {
  it('a token in ?token= opens what ec_url_allow covers; the origin gets the bytes request without it', async () => {
    const token = ectoken(`ec_expire=${future()}&ec_url_allow=/videos/v1/`);
    const res = await get(`/videos/v1/seg-1.ts?a=1&token=${token}&b=%2B2`);
    expect(res.status).toBe(200);
    expect(res.body.equals(segment)).toBe(true);
    expect(origin.requests.map((r) => r.url)).toEqual(['/videos/v1/seg-1.ts?a=1&b=%2B2']);
  });

  it('the bare query form /file?<token> opens too, with other parameters kept byte for byte', async () => {
    const token = ectoken(`ec_expire=${future()}&ec_url_allow=/videos/`);
    expect((await get(`/videos/v1/seg-1.ts?${token}`)).status).toBe(200);
    expect((await get(`/videos/v1/seg-1.ts?x=%41&${token}&y`)).status).toBe(200);
    expect(origin.requests.map((r) => r.url)).toEqual(['/videos/v1/seg-1.ts', '/videos/v1/seg-1.ts?x=%41&y']);
  });

  it('a token from the backup key opens; one from another key is 403', async () => {
    const plaintext = `ec_expire=${future()}&ec_url_allow=/videos/`;
    expect((await get(`/videos/v1/seg-1.ts?token=${ectoken(plaintext, BACKUP)}`)).status).toBe(200);
    const res = await get(`/videos/v1/seg-1.ts?token=${ectoken(plaintext, 'SomeOtherKey1')}`);
    expect(res.status).toBe(403);
    expect(res.body.toString()).toContain('invalid');
  });

  it('denials never reach the origin: wrong path 403, expired 410, tampered 403, v2 403, too long 403', async () => {
    const wrongPath = ectoken(`ec_expire=${future()}&ec_url_allow=/videos/v1/`);
    const expired = ectoken(`ec_expire=${nowSeconds() - 1}&ec_url_allow=/videos/`);
    const good = ectoken(`ec_expire=${future()}&ec_url_allow=/videos/`);
    const bytes = Buffer.from(good, 'base64url');
    bytes[14] = (bytes[14] ?? 0) ^ 1;
    const tampered = bytes.toString('base64url');
    const v2 = 'af0c6acf7906cd500aee63a4dd2e97ddcb0142601cf83aa9d622289718c4c85413';
    const tooLong = ectoken(`ec_expire=${future()}&ec_url_allow=/videos/&pad=${'x'.repeat(400)}`);
    expect(tooLong.length).toBeGreaterThan(512);
    const cases: Array<[string, number, string]> = [
      [`/other/seg.ts?token=${wrongPath}`, 403, 'invalid'],
      [`/videos/v1/seg-1.ts?token=${expired}`, 410, 'expired'],
      [`/videos/v1/seg-1.ts?token=${tampered}`, 403, 'invalid'],
      [`/videos/v1/seg-1.ts?token=${v2}`, 403, 'unsupported'],
      [`/videos/v1/seg-1.ts?token=${tooLong}`, 403, 'malformed'],
      [`/videos/v1/seg-1.ts?token=${good}&token=${good}`, 403, 'malformed'],
      [`/videos/v1/seg-1.ts?${good}&${good}`, 403, 'malformed'],
      ['/videos/v1/seg-1.ts', 403, 'missing'],
      [`/videos/v1/../../other/seg.ts?token=${good}`, 400, 'path'],
    ];
    for (const [path, status, reason] of cases) {
      const res = await get(path);
      expect([path.slice(0, 40), res.status, res.body.toString()]).toEqual([
        path.slice(0, 40),
        status,
        expect.stringContaining(reason),
      ]);
    }
    expect(origin.requests).toHaveLength(0);
  });

  it('referrer, protocol and client-IP rules are judged on the request', async () => {
    const at = (rules: string) => `/videos/v1/seg-1.ts?token=${ectoken(`ec_expire=${future()}&${rules}`)}`;
    const refAllow = at('ec_ref_allow=*.example.com');
    expect((await get(refAllow, { referer: 'https://player.example.com/watch' })).status).toBe(200);
    expect((await get(refAllow, { referer: 'https://evil.test/' })).status).toBe(403);
    expect((await get(refAllow)).status).toBe(403);
    expect((await get(at('ec_ref_allow=example.com,missing'))).status).toBe(200);
    expect((await get(at('ec_proto_allow=http'))).status).toBe(200);
    const https = await get(at('ec_proto_allow=https'));
    expect([https.status, https.body.toString()]).toEqual([403, expect.stringContaining('rule')]);
    expect((await get(at('ec_clientip=127.0.0.0/8'))).status).toBe(200);
    expect((await get(at('ec_clientip=10.0.0.0/8'))).status).toBe(403);
    // A country header from a peer that is not a trusted proxy is not believed: the country is unknown.
    expect((await get(at('ec_country_allow=FR'), { 'x-viewer-country': 'FR' })).status).toBe(403);
    expect((await get(at('ec_country_deny=FR'), { 'x-viewer-country': 'FR' })).status).toBe(200);
  });

  it('token values never reach the log, whether named or bare', async () => {
    const token = ectoken(`ec_expire=${future()}&ec_url_allow=/videos/`);
    await get(`/videos/v1/seg-1.ts?token=${token}`);
    await get(`/videos/v1/seg-1.ts?${token}`);
    await get(`/other/seg.ts?${token}`);
    const all = logs.join('\n');
    expect(all).not.toContain(token);
    expect(all).toContain('token=REDACTED');
  });
});

describe('ectoken: manifests in an ectoken zone', () => {
  const playlistUris = (text: string): string[] =>
    text.split('\n').flatMap((line) => {
      if (line.startsWith('#EXT-X-KEY')) return [/URI="([^"]+)"/.exec(line)?.[1] ?? ''];
      return line === '' || line.startsWith('#') ? [] : [line];
    });

  it('mint: every nested URI gets a fresh token carrying the viewer’s rules, and it opens', async () => {
    const link = `/videos/v1/index.m3u8?token=${ectoken(`ec_expire=${nowSeconds() + 2}&ec_url_allow=/videos/v1/index.m3u8&ec_ref_allow=player.example.com`)}`;
    const referer = { referer: 'https://player.example.com/page' };
    const playlist = await get(link, referer);
    expect(playlist.status).toBe(200);
    const uris = playlistUris(playlist.body.toString());
    expect(uris).toHaveLength(3);
    for (const uri of uris) {
      const url = new URL(uri, `${gw.url}/videos/v1/index.m3u8`);
      expect(url.searchParams.get('token')).toMatch(/^[A-Za-z0-9_-]{39,512}$/);
      const path = url.pathname + url.search;
      expect((await get(path, referer)).status, path).toBe(200);
      // The viewer's referrer rule went into the minted token: without the referrer it is refused.
      expect((await get(path)).status).toBe(403);
    }
    // `hi/seg-2.ts?quality=hi` keeps its own parameter.
    expect(origin.requests.some((r) => r.url === '/videos/v1/hi/seg-2.ts?quality=hi')).toBe(true);
  });

  it('forward: the viewer’s token is copied where its ec_url_allow prefix covers the URI', async () => {
    const fwd = await startGateway(origin.url, {
      scheme: 'ectoken',
      secrets: [PRIMARY],
      tokens: 'forward',
      ectoken: { param: 'auth' },
    });
    try {
      const token = ectoken(`ec_expire=${future()}&ec_url_allow=/videos/v1/`);
      const playlist = await httpGet(fwd.url, `/videos/v1/index.m3u8?auth=${token}`);
      expect(playlist.status).toBe(200);
      const uris = playlistUris(playlist.body.toString());
      expect(uris).toEqual([
        `keys/k1.key?auth=${token}`,
        `seg-1.ts?auth=${token}`,
        `hi/seg-2.ts?quality=hi&auth=${token}`,
      ]);
      for (const uri of uris) expect((await httpGet(fwd.url, `/videos/v1/${uri}`)).status).toBe(200);
      // `token` is not this zone's parameter: a request carrying only that has no token at all.
      expect((await httpGet(fwd.url, `/videos/v1/seg-1.ts?token=${token}`)).status).toBe(403);
    } finally {
      await fwd.close();
    }
  });
});

describe('ectoken: zone settings', () => {
  it('ignoreUrlCase makes ec_url_allow compare without case', async () => {
    const zone = await startGateway(origin.url, {
      scheme: 'ectoken',
      secrets: [PRIMARY],
      ectoken: { ignoreUrlCase: true },
    });
    const strict = await startGateway(origin.url, { scheme: 'ectoken', secrets: [PRIMARY] });
    try {
      const path = `/videos/v1/seg-1.ts?token=${ectoken(`ec_expire=${future()}&ec_url_allow=/VIDEOS/V1/`)}`;
      expect((await httpGet(zone.url, path)).status).toBe(200);
      expect((await httpGet(strict.url, path)).status).toBe(403);
    } finally {
      await zone.close();
      await strict.close();
    }
  });

  it('a `~a~b` segment is no path token in an ectoken zone: it cannot steer the request into the zone', async () => {
    const zone = await startGateway(origin.url, {
      scheme: 'ectoken',
      secrets: [PRIMARY],
      pathPrefix: '/videos',
    });
    try {
      const token = ectoken(`ec_expire=${future()}&ec_url_allow=/`);
      expect((await httpGet(zone.url, `/videos/v1/seg-1.ts?token=${token}`)).status).toBe(200);
      expect((await httpGet(zone.url, `/~a~1/videos/v1/seg-1.ts?token=${token}`)).status).toBe(404);
      expect(origin.requests.map((r) => r.url)).toEqual(['/videos/v1/seg-1.ts']);
    } finally {
      await zone.close();
    }
  });

  it('the denial can be a redirect with the configured 3xx status and Location', async () => {
    const zone = await startGateway(origin.url, {
      scheme: 'ectoken',
      secrets: [PRIMARY],
      denial: { redirect: 'https://paywall.example/subscribe', redirectStatus: 307 },
    });
    try {
      const res = await httpGet(zone.url, `/other/seg.ts?token=${ectoken(`ec_url_allow=/videos/`)}`);
      expect(res.status).toBe(307);
      expect(res.headers.location).toBe('https://paywall.example/subscribe');
      expect(origin.requests).toHaveLength(0);
    } finally {
      await zone.close();
    }
  });

  it('behind a trusted proxy: forwarded protocol, forwarded client address and its country count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamgate-geo-'));
    const database = join(dir, 'country.mmdb');
    writeFileSync(
      database,
      writeCountryMmdb([
        { cidr: '81.2.69.0/24', country: 'GB' },
        { cidr: '2a02:c7f::/32', country: 'GB' },
        { cidr: '91.198.174.0/24', country: 'NL' },
      ]),
    );
    const zone = await startGateway(
      origin.url,
      { scheme: 'ectoken', secrets: [PRIMARY] },
      { trustedProxies: ['127.0.0.1'], geo: { database, header: 'cf-ipcountry' } },
    );
    try {
      const at = (rules: string) => `/videos/v1/seg-1.ts?token=${ectoken(`ec_expire=${future()}&${rules}`)}`;
      const from = (ip: string, extra: Record<string, string> = {}) => ({ 'x-forwarded-for': ip, ...extra });
      expect(
        (await httpGet(zone.url, at('ec_proto_allow=https'), { 'x-forwarded-proto': 'https' })).status,
      ).toBe(200);
      expect(
        (await httpGet(zone.url, at('ec_proto_deny=https'), { 'x-forwarded-proto': 'https' })).status,
      ).toBe(403);
      const gbOnly = at('ec_country_allow=GB');
      expect((await httpGet(zone.url, gbOnly, from('81.2.69.160'))).status).toBe(200);
      expect((await httpGet(zone.url, gbOnly, from('2a02:c7f:1234::1'))).status).toBe(200);
      expect((await httpGet(zone.url, gbOnly, from('91.198.174.192'))).status).toBe(403);
      expect((await httpGet(zone.url, gbOnly, from('203.0.113.9'))).status).toBe(403);
      // The trusted proxy's own header wins over the database.
      expect((await httpGet(zone.url, gbOnly, from('91.198.174.192', { 'cf-ipcountry': 'gb' }))).status).toBe(
        200,
      );
      const notNl = at('ec_country_deny=NL');
      expect((await httpGet(zone.url, notNl, from('91.198.174.192'))).status).toBe(403);
      expect((await httpGet(zone.url, notNl, from('203.0.113.9'))).status).toBe(200);
      expect((await httpGet(zone.url, at('ec_clientip=81.2.69.0/24'), from('81.2.69.7'))).status).toBe(200);
      expect((await httpGet(zone.url, at('ec_clientip=81.2.69.0/24'), from('81.2.70.7'))).status).toBe(403);
    } finally {
      await zone.close();
    }
  });

  it('configuration refuses what an ectoken zone cannot do, naming the field', () => {
    const zone = { name: 'ec', origin: 'http://127.0.0.1:9', scheme: 'ectoken' };
    const problems = (input: object): string => {
      const result = resolveConfig({ zones: [{ ...zone, ...input }] });
      return result.ok ? '' : result.problems.join('\n');
    };
    expect(problems({ secrets: ['has-hyphens'] })).toMatch(/letters and digits/);
    expect(problems({ secrets: ['x'.repeat(251)] })).toMatch(/1–250/);
    expect(problems({ secrets: [PRIMARY], tokens: 'path' })).toMatch(/tokens.*ec_url_allow/s);
    expect(problems({ secrets: [PRIMARY], bindIp: true })).toMatch(/bindIp.*ec_clientip/s);
    expect(problems({ secrets: [PRIMARY], ectoken: { param: 'a b' } })).toMatch(/ectoken\.param/);
    expect(problems({ secrets: [PRIMARY] })).toBe('');
    const gcore = resolveConfig({ zones: [{ ...zone, scheme: 'gcore', secrets: ['k'], ectoken: {} }] });
    expect(gcore.ok ? '' : gcore.problems.join('\n')).toMatch(/ectoken.*scheme: ectoken only/s);
    const missing = resolveConfig({
      geo: { database: '/nonexistent/GeoLite2-Country.mmdb' },
      zones: [{ ...zone, secrets: [PRIMARY] }],
    });
    expect(missing.ok ? '' : missing.problems.join('\n')).toMatch(/geo\.database: cannot read/);
  });

  it('a geo database that is not a MaxMind file stops the gateway at start with the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamgate-geo-'));
    const database = join(dir, 'not.mmdb');
    writeFileSync(database, 'this is not a database');
    const config = configOrThrow({
      geo: { database },
      zones: [{ name: 'ec', origin: 'http://127.0.0.1:9', scheme: 'ectoken', secrets: [PRIMARY] }],
    });
    expect(() => createGateway(config, { defaultMetrics: false })).toThrow(ConfigError);
  });
});
