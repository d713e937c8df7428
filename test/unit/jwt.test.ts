import { readFileSync } from 'node:fs';
import { createLocalJWKSet, importPKCS8, importSPKI, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { signUrl, verifyRequest } from '../../src/index.js';
import { captureIo } from '../helpers/cli-io.js';

/**
 * JWT playback tokens: jose's tokens (test/vectors/jwt.json) open through the library and the CLI with
 * the secret, a PEM public key or the JWKS; streamgate's tokens verify with jose's jwtVerify; algorithm
 * confusion, `none`, tampering, time and the rule claims are refused.
 */

interface Vector {
  id: string;
  alg: string;
  kid?: string;
  claims: Record<string, unknown>;
  token: string;
  valid_for: string[];
  not_valid_for: string[];
}

const vectors = new URL('../vectors/', import.meta.url);
const file = JSON.parse(readFileSync(new URL('jwt.json', vectors), 'utf8')) as {
  secret: string;
  vectors: Vector[];
};
const text = (path: string) => readFileSync(new URL(path, vectors), 'utf8');
const JWKS = text('keys/jwt.jwks.json');
const NOW = 1_850_000_000;
const IP = '203.0.113.20';

const verify = (url: string, extra: Record<string, unknown> = {}, ip = IP) =>
  verifyRequest({ url, ip }, {
    scheme: 'jwt',
    secret: file.secret,
    jwks: JWKS,
    now: NOW,
    facts: { country: 'US', referer: 'https://www.example.com/watch' },
    ...extra,
  } as Parameters<typeof verifyRequest>[1]);

const io = captureIo;

describe("jose's tokens open through the library and the CLI", () => {
  for (const v of file.vectors) {
    it(`${v.id}: opens ${v.valid_for.join(', ')}; refuses ${v.not_valid_for.join(', ') || 'a tampered payload'}`, async () => {
      for (const path of v.valid_for)
        expect(verify(`${path}?token=${v.token}`), path).toMatchObject({ ok: true, status: 200 });
      for (const path of v.not_valid_for) {
        expect(verify(`${path}?token=${v.token}`), path).toMatchObject({
          ok: false,
          status: 403,
          reason: 'invalid',
        });
      }
      const [header, payload, signature] = v.token.split('.');
      const widened = Buffer.from(JSON.stringify({ ...v.claims, prefix: '/' })).toString('base64url');
      expect(verify(`${v.valid_for[0]}?token=${header}.${widened}.${signature}`)).toMatchObject({
        ok: false,
        reason: 'invalid',
      });
      expect(payload).toBeDefined();

      const out = io();
      const argv = [
        'verify',
        `${v.valid_for[0]}?token=${v.token}`,
        '--scheme',
        'jwt',
        '--now',
        String(NOW),
        '--json',
      ];
      argv.push('--country', 'US', '--referer', 'https://www.example.com/', '--ip', IP);
      if (v.alg === 'HS256') argv.push('--secret', file.secret);
      else argv.push('--public-key-file', new URL(`keys/jwt-${v.kid}.public.pem`, vectors).pathname);
      expect(await main(argv, out), out.errors.join('\n')).toBe(0);
      expect(JSON.parse(out.lines[0]!)).toMatchObject({ verdict: 'valid', status: 200 });
    });
  }

  it('--jwks-file chooses the key by kid; the HS256 token needs the secret', async () => {
    const rs = file.vectors.find((v) => v.id === 'rs256-prefix-kid')!;
    const out = io();
    const argv = [
      'verify',
      `/live/x.ts?token=${rs.token}`,
      '--scheme',
      'jwt',
      '--jwks-file',
      new URL('keys/jwt.jwks.json', vectors).pathname,
    ];
    expect(await main([...argv, '--now', String(NOW)], out)).toBe(0);
    const hs = file.vectors.find((v) => v.id === 'hs256-path')!;
    const denied = io();
    const hsArgv = [
      'verify',
      `/vod/a.m3u8?token=${hs.token}`,
      '--scheme',
      'jwt',
      '--jwks-file',
      new URL('keys/jwt.jwks.json', vectors).pathname,
    ];
    expect(await main([...hsArgv, '--now', String(NOW)], denied)).toBe(1);
    expect(denied.lines[0]).toMatch(/denied: 403 unsupported/);
  });

  it('rule claims: ip ranges, countries and referrers refuse with 403 rule; nbf and exp keep time with the leeway', () => {
    const es256 = file.vectors.find((v) => v.id === 'es256-nbf-ip')!;
    expect(verify(`/live/a.ts?token=${es256.token}`, {}, '198.51.100.1')).toMatchObject({
      ok: false,
      reason: 'rule',
    });
    expect(verify(`/live/a.ts?token=${es256.token}`, {}, '2001:db8::42')).toMatchObject({ ok: true });
    expect(verify(`/live/a.ts?token=${es256.token}`, { now: 1_799_999_990 })).toMatchObject({
      ok: false,
      reason: 'invalid',
    });
    expect(verify(`/live/a.ts?token=${es256.token}`, { now: 1_799_999_996 })).toMatchObject({ ok: true });
    expect(verify(`/live/a.ts?token=${es256.token}`, { now: 1_900_000_004 })).toMatchObject({ ok: true });
    expect(verify(`/live/a.ts?token=${es256.token}`, { now: 1_900_000_005 })).toMatchObject({
      ok: false,
      status: 410,
    });
    expect(verify(`/live/a.ts?token=${es256.token}`, { now: 1_900_000_000, leeway: 0 })).toMatchObject({
      status: 410,
    });
    const es384 = file.vectors.find((v) => v.id === 'es384-country-referrer')!;
    const url = `/x.ts?token=${es384.token}`;
    expect(verify(url, { facts: { country: 'DE', referer: 'https://a.example.com/' } })).toMatchObject({
      reason: 'rule',
    });
    expect(verify(url, { facts: { country: 'CA', referer: 'https://example.com/' } })).toMatchObject({
      reason: 'rule',
    });
    expect(verify(url, { facts: { country: 'CA' } })).toMatchObject({ reason: 'rule' });
    expect(verify(url, { facts: { country: 'CA', referer: 'https://a.b.example.com/p' } })).toMatchObject({
      ok: true,
    });
  });

  it('the token also comes as Authorization: Bearer', () => {
    const hs = file.vectors.find((v) => v.id === 'hs256-prefix')!;
    expect(
      verifyRequest(
        { url: '/vod/movie-1/a.ts', ip: IP, headers: { authorization: `Bearer ${hs.token}` } },
        { scheme: 'jwt', secret: file.secret, now: NOW },
      ),
    ).toMatchObject({ ok: true });
  });
});

describe("streamgate's tokens verify with jose", () => {
  it.each([
    ['HS256', undefined],
    ['RS256', 'rsa-1'],
    ['ES256', 'p256-1'],
    ['ES384', 'p384-1'],
  ] as const)('%s', async (alg, kid) => {
    const url = signUrl('/vod/movie-1/master.m3u8', {
      scheme: 'jwt',
      expires: 1_900_000_000,
      dir: true,
      claims: { sub: 'movie-1' },
      ...(kid === undefined
        ? { secret: file.secret }
        : { privateKey: text(`keys/jwt-${kid}.private.pem`), kid, algorithm: alg }),
    });
    const token = new URL(url, 'https://x').searchParams.get('token')!;
    const key =
      kid === undefined
        ? new TextEncoder().encode(file.secret)
        : createLocalJWKSet(JSON.parse(JWKS) as Parameters<typeof createLocalJWKSet>[0]);
    const { payload, protectedHeader } =
      typeof key === 'function'
        ? await jwtVerify(token, key, { currentDate: new Date(NOW * 1000) })
        : await jwtVerify(token, key, { currentDate: new Date(NOW * 1000) });
    expect(protectedHeader.alg).toBe(alg);
    expect(payload).toMatchObject({ sub: 'movie-1', prefix: '/vod/movie-1/', exp: 1_900_000_000 });
    expect(verify(url.replace('master.m3u8', '720p/a.ts'))).toMatchObject({ ok: true });
  });
});

describe('JWT: what is refused', () => {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const hs = file.vectors.find((v) => v.id === 'hs256-prefix')!;

  it('alg none, an unknown alg, crit, a token signed HS256 with the RSA public key as secret (alg confusion)', async () => {
    const claims = b64({ prefix: '/', exp: 1_900_000_000 });
    expect(verify(`/a.ts?token=${b64({ alg: 'none' })}.${claims}.`)).toMatchObject({
      ok: false,
      reason: 'unsupported',
    });
    expect(verify(`/a.ts?token=${b64({ alg: 'HS512' })}.${claims}.x`)).toMatchObject({
      ok: false,
      reason: 'unsupported',
    });
    const publicPem = text('keys/jwt-rsa-1.public.pem');
    const confused = await new SignJWT({ prefix: '/' })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
      .setExpirationTime(1_900_000_000)
      .sign(new TextEncoder().encode(publicPem));
    // A zone with public keys only: HS256 is not among its algorithms.
    expect(
      verifyRequest(`/a.ts?token=${confused}`, { scheme: 'jwt', publicKey: publicPem, now: NOW }),
    ).toMatchObject({ ok: false, reason: 'unsupported' });
    const crit = await new SignJWT({ prefix: '/' })
      .setProtectedHeader({ alg: 'HS256', crit: ['exp'] } as never)
      .setExpirationTime(1_900_000_000)
      .sign(new TextEncoder().encode(file.secret))
      .catch(() => undefined);
    if (crit !== undefined) expect(verify(`/a.ts?token=${crit}`)).toMatchObject({ reason: 'unsupported' });
  });

  it.each([
    ['a changed signature', `/vod/movie-1/a.ts?token=${hs.token.slice(0, -2)}AA`, 'invalid'],
    ['two parts', '/a.ts?token=abc.def', 'malformed'],
    ['a header that is not JSON', '/a.ts?token=abc.def.ghi', 'malformed'],
    ['no token', '/a.ts', 'missing'],
    ['the token twice', `/a.ts?token=${hs.token}&token=${hs.token}`, 'malformed'],
  ])('%s → 403 %s', (_label, url, reason) => {
    expect(verify(url)).toMatchObject({ ok: false, status: 403, reason });
  });

  it('forged and expired is 403; authentic and expired is 410; no exp or no path/prefix is malformed', async () => {
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(file.secret));
    expect(verify(`/a.ts?token=${await sign({ prefix: '/', exp: 1_800_000_000 })}`)).toMatchObject({
      status: 410,
    });
    const forged = (await sign({ prefix: '/', exp: 1_800_000_000 })).replace(/\.[^.]+$/, '.AAAA');
    expect(verify(`/a.ts?token=${forged}`)).toMatchObject({ status: 403, reason: 'invalid' });
    expect(verify(`/a.ts?token=${await sign({ prefix: '/' })}`)).toMatchObject({ reason: 'malformed' });
    expect(verify(`/a.ts?token=${await sign({ exp: 1_900_000_000 })}`)).toMatchObject({
      reason: 'malformed',
    });
    expect(
      verify(`/a.ts?token=${await sign({ path: '/a.ts', prefix: '/', exp: 1_900_000_000 })}`),
    ).toMatchObject({
      reason: 'malformed',
    });
  });

  it('a private key that jose imported signs what streamgate opens', async () => {
    const key = await importPKCS8(text('keys/jwt-p256-1.private.pem'), 'ES256');
    const token = await new SignJWT({ path: '/a.ts' })
      .setProtectedHeader({ alg: 'ES256' })
      .setExpirationTime(1_900_000_000)
      .sign(key);
    expect(
      verifyRequest(`/a.ts?token=${token}`, {
        scheme: 'jwt',
        publicKey: text('keys/jwt-p256-1.public.pem'),
        now: NOW,
      }),
    ).toMatchObject({
      ok: true,
    });
    expect(await importSPKI(text('keys/jwt-p256-1.public.pem'), 'ES256')).toBeDefined();
  });
});
