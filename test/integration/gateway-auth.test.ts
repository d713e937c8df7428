/**
 * `/_streamgate/auth` through the real gateway: a front proxy's subrequest (nginx auth_request, Traefik
 * ForwardAuth, Caddy forward_auth, Envoy ext_authz) gets the proxy path's decision — same zone, same
 * check — as a bodiless status, and the origin is never contacted. Each row's expected status is written
 * by hand; the proxy path is asked the same question as a second, independent witness.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signUrl } from '../../src/index.js';
import {
  httpGet,
  nowSeconds,
  OLD_SECRET,
  SECRET,
  signed,
  startGateway,
  TestOrigin,
  type ZoneInput,
} from './support.js';

const segment = randomBytes(4096);
let origin: TestOrigin;
let gw: Awaited<ReturnType<typeof startGateway>>;
let untrusting: Awaited<ReturnType<typeof startGateway>>;
const logs: string[] = [];

beforeAll(async () => {
  origin = await TestOrigin.start();
  for (const path of ['/vod/v1/seg-1.ts', '/vod/v1/360p/seg-1.ts', '/ip/seg.ts', '/azure/v1/seg.ts']) {
    origin.file(path, { body: segment, type: 'video/mp2t' });
  }
  const zones: ZoneInput[] = [
    { name: 'vod', pathPrefix: '/vod', origin: origin.url, scheme: 'gcore', secrets: [SECRET, OLD_SECRET] },
    {
      name: 'ip',
      pathPrefix: '/ip',
      origin: origin.url,
      scheme: 'gcore',
      secrets: [SECRET],
      bindIp: true,
    },
    {
      name: 'paywall',
      pathPrefix: '/paywall',
      origin: origin.url,
      scheme: 'keycdn',
      secrets: [SECRET],
      denial: { status: { invalid: 401 }, redirect: 'https://pay.example.com/', redirectOn: ['expired'] },
    },
    {
      name: 'azure',
      pathPrefix: '/azure',
      origin: origin.url,
      scheme: 'ectoken',
      secrets: ['a1b2c3d4e5f60718293a4b5c6d7e8f90'],
    },
  ];
  gw = await startGateway(origin.url, {}, { trustedProxies: ['127.0.0.1'], zones }, logs);
  untrusting = await startGateway(origin.url, {}, { trustedProxies: ['10.0.0.0/8'], zones });
});
afterAll(async () => {
  await gw.close();
  await untrusting.close();
  await origin.close();
});
afterEach(() => origin.reset());

const past = () => nowSeconds() - 10;
const nginxStyle = (target: string, extra: Record<string, string> = {}) => ({
  'x-original-uri': target,
  'x-original-method': 'GET',
  'x-forwarded-host': 'cdn.example.com',
  'x-forwarded-proto': 'https',
  ...extra,
});
const auth = (headers: Record<string, string>, base = gw.url, path = '/_streamgate/auth') =>
  httpGet(base, path, headers);

function tampered(target: string): string {
  return target.replace(/md5=(.)/, (_m, first: string) => `md5=${first === 'A' ? 'B' : 'A'}`);
}

describe('/_streamgate/auth answers what the proxy path would, without a body', () => {
  const rows: Array<[string, () => string, number]> = [
    ['a file token', () => signed('/vod/v1/seg-1.ts'), 204],
    [
      'a file token signed with the previous key (rotation)',
      () => signed('/vod/v1/seg-1.ts', { secret: OLD_SECRET }),
      204,
    ],
    ['a directory token, for a file directly in it', () => signed('/vod/v1/seg-1.ts', { dir: true }), 204],
    [
      'a directory token, for a file in a subdirectory',
      () => signed('/vod/v1/seg-1.ts', { dir: true }).replace('/v1/', '/v1/360p/'),
      403,
    ],
    [
      'a path token over the subtree',
      () => signed('/vod/v1/360p/seg-1.ts', { pathToken: true, dir: true }),
      204,
    ],
    ['a tampered token', () => tampered(signed('/vod/v1/seg-1.ts')), 403],
    ['an expired token', () => signed('/vod/v1/seg-1.ts', { expires: past() }), 410],
    [
      'a forged token with a past expiry',
      () => tampered(signed('/vod/v1/seg-1.ts', { expires: past() })),
      403,
    ],
    ['no token', () => '/vod/v1/seg-1.ts', 403],
    ['a duplicated md5 parameter', () => `${signed('/vod/v1/seg-1.ts')}&md5=AAAAAAAAAAAAAAAAAAAAAA`, 403],
    ['a dot segment', () => '/vod/v1/../v1/seg-1.ts?md5=x&expires=1', 400],
    ['an encoded dot segment', () => '/vod/v1/%2e%2e/v1/seg-1.ts', 400],
    ['an encoded slash', () => '/vod/v1%2Fseg-1.ts', 400],
    ['no zone', () => '/elsewhere/x.ts', 404],
    ['a reserved path inside a zone', () => signed('/_streamgate/x'), 404],
  ];

  it.each(rows)('%s', async (_name, make, expected) => {
    const target = make();
    const res = await auth(nginxStyle(target));
    expect(res.status).toBe(expected);
    expect(res.body.length).toBe(0);
    expect(res.headers['cache-control']).toBe('no-store');
    // The auth endpoint never contacts the origin.
    expect(origin.requests).toEqual([]);
    if (expected === 204) {
      expect(res.headers['x-streamgate-upstream']).toBe(target.split('?')[0]!.replace(/\/~[^/]+~\d+\//, '/'));
    } else {
      expect(res.headers['x-streamgate-reason']).toMatch(/^[a-z_]+$/);
      expect(res.headers['x-streamgate-upstream']).toBeUndefined();
    }
    // The same request on the proxy path: the same decision.
    const proxied = await httpGet(gw.url, target);
    expect(proxied.status).toBe(expected === 204 ? 200 : expected);
  });

  it('keeps every other query parameter for the origin, byte for byte and in order', async () => {
    const target = signed('/vod/v1/seg-1.ts?nimblesessionid=42&x=%2B1&_HLS_msn=3');
    const res = await auth(nginxStyle(target));
    expect(res.status).toBe(204);
    expect(res.headers['x-streamgate-zone']).toBe('vod');
    expect(res.headers['x-streamgate-upstream']).toBe(
      '/vod/v1/seg-1.ts?nimblesessionid=42&x=%2B1&_HLS_msn=3',
    );
  });

  it("answers a zone's own denial settings: its status for invalid, a redirect with Location for expired", async () => {
    const good = signUrl('/paywall/a.ts', { scheme: 'keycdn', secret: SECRET, ttl: 60 });
    const invalid = await auth(
      nginxStyle(good.replace(/token=(.)/, (_m, c: string) => `token=${c === 'A' ? 'B' : 'A'}`)),
    );
    expect(invalid.status).toBe(401);
    expect(invalid.headers['x-streamgate-reason']).toBe('invalid');
    const expired = await auth(
      nginxStyle(signUrl('/paywall/a.ts', { scheme: 'keycdn', secret: SECRET, expires: past() })),
    );
    expect(expired.status).toBe(302);
    expect(expired.headers.location).toBe('https://pay.example.com/');
    expect(expired.headers['x-streamgate-reason']).toBe('expired');
  });
});

describe('/_streamgate/auth believes the original request only from trusted proxies', () => {
  it('a peer outside trustedProxies gets 403 whatever it claims', async () => {
    const res = await auth(nginxStyle(signed('/vod/v1/seg-1.ts')), untrusting.url);
    expect(res.status).toBe(403);
    expect(res.headers['x-streamgate-reason']).toBe('untrusted');
    expect(res.body.length).toBe(0);
  });

  it('IP-bound tokens are checked against X-Forwarded-For (the right-most untrusted entry)', async () => {
    const target = signed('/ip/seg.ts', { ip: '203.0.113.7' });
    expect((await auth(nginxStyle(target, { 'x-forwarded-for': '203.0.113.7' }))).status).toBe(204);
    expect((await auth(nginxStyle(target, { 'x-forwarded-for': '203.0.113.7, 198.51.100.1' }))).status).toBe(
      403,
    );
    // IPv6 in any spelling is the RFC 5952 form the token was signed for.
    const v6 = signed('/ip/seg.ts', { ip: '2001:db8::7' });
    expect((await auth(nginxStyle(v6, { 'x-forwarded-for': '2001:0DB8:0:0::7' }))).status).toBe(204);
  });

  it('without X-Forwarded-For, X-Real-IP names the viewer; a malformed one names nobody', async () => {
    const target = signed('/ip/seg.ts', { ip: '203.0.113.7' });
    expect((await auth(nginxStyle(target, { 'x-real-ip': '203.0.113.7' }))).status).toBe(204);
    expect((await auth(nginxStyle(target, { 'x-real-ip': '203.0.113.8' }))).status).toBe(403);
    expect((await auth(nginxStyle(target, { 'x-real-ip': 'not-an-address' }))).status).toBe(403);
  });
});

describe('/_streamgate/auth speaks each front proxy’s dialect', () => {
  it('Traefik ForwardAuth and Caddy forward_auth: X-Forwarded-Uri, X-Forwarded-Method, X-Forwarded-Host', async () => {
    const headers = (target: string, method = 'GET') => ({
      'x-forwarded-uri': target,
      'x-forwarded-method': method,
      'x-forwarded-host': 'media.example.com',
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '198.51.100.9',
    });
    expect((await auth(headers(signed('/vod/v1/seg-1.ts')))).status).toBe(204);
    expect((await auth(headers(signed('/vod/v1/seg-1.ts', { expires: past() })))).status).toBe(410);
    expect((await auth(headers(signed('/vod/v1/seg-1.ts'), 'POST'))).status).toBe(405);
    // A CORS preflight carries no token; the gateway itself answers those without one too.
    expect((await auth(headers('/vod/v1/seg-1.ts', 'OPTIONS'))).status).toBe(204);
  });

  it('Envoy ext_authz: the original path after the prefix, the original method, 200 for allowed', async () => {
    const target = signed('/vod/v1/seg-1.ts?x=1');
    const allowed = await httpGet(gw.url, `/_streamgate/auth${target}`, {
      'x-forwarded-for': '198.51.100.9',
    });
    expect(allowed.status).toBe(200);
    expect(allowed.headers['x-streamgate-upstream']).toBe('/vod/v1/seg-1.ts?x=1');
    expect((await httpGet(gw.url, `/_streamgate/auth${tampered(target)}`)).status).toBe(403);
    expect((await httpGet(gw.url, `/_streamgate/auth${target}`, {}, 'HEAD')).status).toBe(200);
  });

  it('refuses a request that names no original URI, names it twice, or in absolute form (400)', async () => {
    expect((await auth({})).status).toBe(400);
    expect((await auth({ 'x-original-uri': 'http://evil.example/vod/v1/seg-1.ts' })).status).toBe(400);
    expect((await auth({ 'x-original-uri': '//evil.example/vod/v1/seg-1.ts' })).status).toBe(400);
    // Two X-Original-URI fields: node would join them into one value; which one did the proxy mean?
    const twice = await rawAuth(
      `GET /_streamgate/auth HTTP/1.1\r\nHost: x\r\nX-Original-URI: ${signed('/vod/v1/seg-1.ts')}\r\nX-Original-URI: /vod/v1/seg-1.ts\r\nConnection: close\r\n\r\n`,
    );
    expect(twice).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('an ectoken zone decides with the forwarded protocol, host and referrer', async () => {
    const { createCipheriv, createHash } = await import('node:crypto');
    const encrypt = (plaintext: string) => {
      const iv = randomBytes(12);
      const key = createHash('sha256').update('a1b2c3d4e5f60718293a4b5c6d7e8f90', 'utf8').digest();
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64url');
    };
    const token = encrypt(
      `ec_expire=${nowSeconds() + 60}&ec_url_allow=/azure/&ec_proto_allow=https&ec_host_allow=cdn.example.com&ec_ref_allow=player.example.com`,
    );
    const target = `/azure/v1/seg.ts?a=1&token=${token}`;
    const ok = await auth(nginxStyle(target, { referer: 'https://player.example.com/watch' }));
    expect(ok.status).toBe(204);
    expect(ok.headers['x-streamgate-upstream']).toBe('/azure/v1/seg.ts?a=1');
    expect((await auth(nginxStyle(target, { referer: 'https://evil.example/' }))).status).toBe(403);
    expect(
      (
        await auth(
          nginxStyle(target, { referer: 'https://player.example.com/', 'x-forwarded-proto': 'http' }),
        )
      ).status,
    ).toBe(403);
    expect(
      (
        await auth(
          nginxStyle(target, { referer: 'https://player.example.com/', 'x-forwarded-host': 'other.example' }),
        )
      ).status,
    ).toBe(403);
  });

  it('logs a denial with the token redacted', async () => {
    logs.length = 0;
    const target = tampered(signed('/vod/v1/seg-1.ts'));
    await auth(nginxStyle(target));
    const line = logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'access' && l.status === 403);
    expect(line).toMatchObject({ status: 403, reason: 'invalid', zone: 'vod' });
    // The access line names the auth request; the original target is in its detail, redacted.
    expect(String(line?.detail)).toContain('md5=REDACTED');
    expect(logs.join('\n')).not.toContain(new URL(`http://x${target}`).searchParams.get('md5'));
  });
});

async function rawAuth(request: string): Promise<string> {
  const { connect } = await import('node:net');
  const { port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.end(request));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}
