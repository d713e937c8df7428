import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { signUrl, verifyRequest } from '../../src/index.js';
import { captureIo } from '../helpers/cli-io.js';

/**
 * Bunny CDN token authentication: BunnyWay's own e2e vectors (HMAC-SHA256, `HS256-…`) and tokens of its
 * 2021 SHA-256 signer (test/vectors/bunny.json) open through the library and the CLI; streamgate's
 * URLs for the same inputs are the vendor's byte for byte; IP, country and path rules hold.
 */

interface HmacVector {
  name: string;
  path: string;
  userIp: string;
  isDirectory: boolean;
  pathAllowed: string;
  countriesAllowed: string;
  countriesBlocked: string;
  ignoreParams: boolean;
  speedLimit: number;
  countryCode: string;
  key: string;
  expires: number;
  host: string;
  signedUrl: string;
}
interface LegacyVector {
  name: string;
  userIp?: string;
  key: string;
  expires: number;
  signedUrl: string;
}

const file = JSON.parse(readFileSync(new URL('../vectors/bunny.json', import.meta.url), 'utf8')) as {
  hmac: HmacVector[];
  legacy: LegacyVector[];
};
const NOW = 1_598_020_000;
const OTHER_IP = '198.51.100.77';

const io = captureIo;

const check = (url: string, ip: string, country: string | undefined, extra: Record<string, unknown> = {}) =>
  verifyRequest({ url, ip }, {
    scheme: 'bunny',
    secret: 'SecurityKey',
    now: NOW,
    ...(country === undefined ? {} : { facts: { country } }),
    ...extra,
  } as Parameters<typeof verifyRequest>[1]);

describe("BunnyWay's e2e vectors (HS256) open through the library and the CLI", () => {
  it('covers IPv4, IPv6, countries, token_path, ignore_params, limit and the path form', () => {
    expect(file.hmac).toHaveLength(15);
    expect(file.hmac.filter((v) => v.isDirectory)).toHaveLength(3);
  });

  for (const v of file.hmac) {
    const ip = v.userIp === '' ? OTHER_IP : v.userIp;
    it(`${v.name}: opens for its viewer; a tampered token or an edited parameter does not`, async () => {
      expect(check(v.signedUrl, ip, v.countryCode)).toMatchObject({ ok: true, status: 200 });
      const tampered = v.signedUrl.replace(
        /HS256-(1-)?(.)/,
        (_m, flag: string | undefined, c: string) => `HS256-${flag ?? ''}${c === 'A' ? 'B' : 'A'}`,
      );
      expect(check(tampered, ip, v.countryCode)).toMatchObject({ ok: false, status: 403, reason: 'invalid' });
      const edited = v.signedUrl.replace('expires=1598024587', 'expires=1598024588');
      expect(check(edited, ip, v.countryCode)).toMatchObject({ ok: false, status: 403, reason: 'invalid' });
      if (v.userIp !== '') {
        expect(
          check(v.signedUrl, v.userIp.includes(':') ? '2001:db9::1' : OTHER_IP, v.countryCode),
        ).toMatchObject({ ok: false, reason: 'invalid' });
      }
      const out = io();
      const argv = [
        'verify',
        v.signedUrl,
        '--scheme',
        'bunny',
        '--secret',
        v.key,
        '--ip',
        ip,
        '--country',
        v.countryCode,
      ];
      expect(await main([...argv, '--now', String(NOW), '--json'], out), out.errors.join('\n')).toBe(0);
      expect(JSON.parse(out.lines[0]!)).toMatchObject({ verdict: 'valid', expires: v.expires });
    });
  }

  it('IPv6 locks to the /64: another interface of the same network opens, another network does not', () => {
    const v = file.hmac.find((vector) => vector.name === 'ip_v6_only')!;
    expect(check(v.signedUrl, '2001:db8:85a3:0:ffff:ffff:ffff:1', 'US').ok).toBe(true);
    expect(check(v.signedUrl, '2001:db8:85a3:1::1', 'US').ok).toBe(false);
  });

  it('countries: outside token_countries, inside token_countries_blocked, or unknown with an allow list → 403 rule', () => {
    const allow = file.hmac.find((vector) => vector.name === 'countries_only')!;
    expect(check(allow.signedUrl, OTHER_IP, 'DE')).toMatchObject({ ok: false, reason: 'rule' });
    expect(check(allow.signedUrl, OTHER_IP, undefined)).toMatchObject({ ok: false, reason: 'rule' });
    const blocked = file.hmac.find((vector) => vector.name === 'blocked_only')!;
    expect(check(blocked.signedUrl, OTHER_IP, 'RU')).toMatchObject({ ok: false, reason: 'rule' });
    expect(check(blocked.signedUrl, OTHER_IP, undefined)).toMatchObject({ ok: true });
  });

  it('token_path opens the prefix, not beside it; expired is 410', () => {
    const v = file.hmac.find((vector) => vector.name === 'path_only')!;
    const query = v.signedUrl.slice(v.signedUrl.indexOf('?'));
    expect(check(`${v.host}/abc/720p/x.ts${query}`, OTHER_IP, 'US')).toMatchObject({
      ok: true,
      result: { scope: 'prefix' },
    });
    expect(check(`${v.host}/xyz/300kb.jpg${query}`, OTHER_IP, 'US')).toMatchObject({
      ok: false,
      reason: 'invalid',
    });
    expect(check(v.signedUrl, OTHER_IP, 'US', { now: v.expires })).toMatchObject({ ok: false, status: 410 });
  });

  const reproducible = file.hmac.filter((v) => !v.isDirectory);
  it('the byte-for-byte set includes speed-limited tokens', () => {
    expect(reproducible.filter((v) => v.speedLimit > 0).length).toBeGreaterThan(0);
  });
  it.each(reproducible.map((v) => [v.name, v] as const))(
    '%s: signUrl writes the vendor URL byte for byte',
    (_name, v) => {
      const options = {
        scheme: 'bunny' as const,
        secret: v.key,
        expires: v.expires,
        ...(v.userIp === '' ? {} : { ip: v.userIp }),
        ...(v.pathAllowed === '' ? {} : { tokenPath: v.pathAllowed }),
        ...(v.countriesAllowed === '' ? {} : { countries: v.countriesAllowed.split(',') }),
        ...(v.countriesBlocked === '' ? {} : { countriesBlocked: v.countriesBlocked.split(',') }),
        ...(v.ignoreParams ? { ignoreParams: true } : {}),
        ...(v.speedLimit === 0 ? {} : { limit: v.speedLimit }),
      };
      expect(signUrl(`${v.host}${v.path}`, options)).toBe(v.signedUrl);
    },
  );
});

const rateOf = (outcome: unknown): number | undefined =>
  (outcome as { result?: { rateLimit?: number } }).result?.rateLimit;

describe('limit: the speed limit a token carries', () => {
  it('is handed on in bytes per second (1 kB = 1,024 bytes); 0 or none is no limit', () => {
    const limited = file.hmac.find((vector) => vector.name === 'limit_only')!;
    expect(check(limited.signedUrl, OTHER_IP, 'US')).toMatchObject({
      ok: true,
      result: { rateLimit: 1000 * 1024 },
    });
    const plain = file.hmac.find((vector) => vector.speedLimit === 0 && vector.userIp === '')!;
    const verdict = check(plain.signedUrl, OTHER_IP, plain.countryCode);
    expect(verdict.ok).toBe(true);
    expect(rateOf(verdict)).toBeUndefined();
    const none = signUrl('/vod/a.ts', {
      scheme: 'bunny',
      secret: 'SecurityKey',
      expires: 1_900_000_000,
      limit: 0,
    });
    const zero = check(none, OTHER_IP, 'US');
    expect(zero.ok).toBe(true);
    expect(rateOf(zero)).toBeUndefined();
  });

  it('is signed: raising it breaks the token; a value that is not a whole number is malformed', () => {
    const limited = file.hmac.find((vector) => vector.name === 'limit_only')!;
    expect(check(limited.signedUrl.replace('limit=1000', 'limit=9000'), OTHER_IP, 'US')).toMatchObject({
      ok: false,
      reason: 'invalid',
    });
    for (const bad of ['limit=', 'limit=1e3', 'limit=-1', 'limit=1000000000']) {
      expect(check(limited.signedUrl.replace('limit=1000', bad), OTHER_IP, 'US')).toMatchObject({
        ok: false,
        reason: 'malformed',
      });
    }
  });

  it('sign --limit writes it; a limit past 999999999 kB/s is refused', async () => {
    const out = io();
    const argv = ['sign', '/vod/a.ts', '--scheme', 'bunny', '--secret', 'k', '--expires', '1900000000'];
    expect(await main([...argv, '--limit', '250'], out)).toBe(0);
    expect(out.lines[0]).toMatch(
      /^\/vod\/a\.ts\?token=HS256-[A-Za-z0-9_-]{43}&limit=250&expires=1900000000$/,
    );
    const refused = io();
    expect(await main([...argv, '--limit', '1000000000'], refused)).toBe(2);
  });
});

describe("Bunny's legacy SHA-256 tokens (its 2021 signer)", () => {
  for (const v of file.legacy) {
    it(`${v.name}: open only where the zone accepts legacy tokens`, () => {
      const ip = v.userIp ?? OTHER_IP;
      const at = 1_899_990_000;
      expect(check(v.signedUrl, ip, 'US', { now: at, legacy: true })).toMatchObject({ ok: true });
      expect(check(v.signedUrl, ip, 'US', { now: at })).toMatchObject({ ok: false, reason: 'unsupported' });
      const tampered = v.signedUrl.replace(/token=(.)/, (_m, c: string) => `token=${c === 'A' ? 'B' : 'A'}`);
      expect(check(tampered, ip, 'US', { now: at, legacy: true })).toMatchObject({
        ok: false,
        reason: 'invalid',
      });
    });
  }
});

describe('Bunny path tokens (/bcdn_token=…/dir/file) and streamgate-signed tokens', () => {
  it('a path token signed with token_path opens the subtree; the segment is not part of the path', () => {
    const url = signUrl('https://cdn.example.com/vod/movie-1/master.m3u8', {
      scheme: 'bunny',
      secret: 'k3y',
      expires: 1_900_000_000,
      pathToken: true,
      countries: ['US'],
    });
    expect(url).toMatch(
      /^https:\/\/cdn\.example\.com\/bcdn_token=HS256-[A-Za-z0-9_-]{43}&token_countries=US&token_path=%2Fvod%2Fmovie-1%2F&expires=1900000000\/vod\/movie-1\/master\.m3u8$/,
    );
    const nested = url.replace('/master.m3u8', '/720p/seg-1.ts');
    const result = verifyRequest(
      { url: nested, ip: OTHER_IP },
      { scheme: 'bunny', secret: 'k3y', now: NOW, facts: { country: 'US' } },
    );
    expect(result).toMatchObject({ ok: true, path: '/vod/movie-1/720p/seg-1.ts', result: { scope: 'path' } });
    const outside = url.replace('/vod/movie-1/master.m3u8', '/vod/movie-2/a.ts');
    expect(
      verifyRequest(
        { url: outside, ip: OTHER_IP },
        { scheme: 'bunny', secret: 'k3y', now: NOW, facts: { country: 'US' } },
      ),
    ).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('a token signs the URL’s other parameters unless token_ignore_params', () => {
    const url = signUrl('/vod/a.m3u8?session=42', { scheme: 'bunny', secret: 'k3y', expires: 1_900_000_000 });
    const ok = (target: string) =>
      verifyRequest({ url: target, ip: OTHER_IP }, { scheme: 'bunny', secret: 'k3y', now: NOW }).ok;
    expect(ok(url)).toBe(true);
    expect(ok(url.replace('session=42', 'session=43'))).toBe(false);
    const loose = signUrl('/vod/a.m3u8?session=42', {
      scheme: 'bunny',
      secret: 'k3y',
      expires: 1_900_000_000,
      ignoreParams: true,
    });
    expect(ok(loose.replace('session=42', 'session=43'))).toBe(true);
  });

  it.each([
    ['no token', '/a.ts', 'missing'],
    ['token without expires', '/a.ts?token=HS256-x', 'malformed'],
    ['a token twice', '/a.ts?token=a&token=b&expires=1', 'malformed'],
    ['garbage token', '/a.ts?token=hello&expires=1900000000', 'malformed'],
    ['both path and query tokens', '/bcdn_token=HS256-x&expires=1/a.ts?token=y&expires=1', 'malformed'],
  ])('%s → 403 %s', (_label, url, reason) => {
    expect(verifyRequest({ url, ip: OTHER_IP }, { scheme: 'bunny', secret: 'k', now: NOW })).toMatchObject({
      ok: false,
      status: 403,
      reason,
    });
  });

  it.each([
    [
      ['sign', '/a.ts', '--scheme', 'bunny', '--secret', 'k', '--ttl', '60', '--countries', 'USA'],
      /two-letter/,
    ],
    [
      ['sign', '/a.ts', '--scheme', 'gcore', '--secret', 'k', '--ttl', '60', '--token-path', '/a/'],
      /--token-path: for --scheme bunny only/,
    ],
  ])('%j exits 2', async (argv, message) => {
    const out = io();
    expect(await main(argv, out)).toBe(2);
    expect(out.errors.join('\n')).toMatch(message);
  });
});
