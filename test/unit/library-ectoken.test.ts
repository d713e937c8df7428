import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decryptEctoken,
  ectokenRules,
  encryptEctoken,
  SignError,
  signUrl,
  verifyRequest,
  type EctokenRules,
} from '../../src/index.js';

// ectoken, the library side: signUrl / verifyRequest with scheme 'ectoken', its rules and request facts,
// and the encrypt / decrypt / rules helpers from the package entry.

const KEY = 'Primary1';
const NOW = 1_000_000_000;
const EXP = 2_000_000_000;

const aesKey = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/** The format as Edgecast documents it, with node:crypto alone: base64url(IV ‖ ciphertext ‖ tag). */
function independentDecrypt(token: string, key: string): string {
  const bytes = Buffer.from(token, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', aesKey(key), bytes.subarray(0, 12));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString(
    'utf8',
  );
}

function independentEncrypt(plaintext: string, key: string): string {
  const iv = Buffer.alloc(12, 7);
  const cipher = createCipheriv('aes-256-gcm', aesKey(key), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

const tokenOf = (url: string, param = 'token'): string =>
  new URLSearchParams(url.slice(url.indexOf('?') + 1)).get(param) ?? '';

const sign = (path: string, rules?: EctokenRules, extra: Parameters<typeof signUrl>[1] | object = {}) =>
  signUrl(path, { scheme: 'ectoken', secret: KEY, expires: EXP, ...(rules ? { rules } : {}), ...extra });

describe('signUrl with scheme ectoken', () => {
  it('without rules, the token holds ec_expire and ec_url_allow = the signed path', () => {
    const url = sign('https://cdn.example.com/videos/v1/master.m3u8?lang=en');
    expect(url).toMatch(/^https:\/\/cdn\.example\.com\/videos\/v1\/master\.m3u8\?lang=en&token=[\w-]+$/);
    expect(independentDecrypt(tokenOf(url), KEY)).toBe(
      'ec_expire=2000000000&ec_url_allow=/videos/v1/master.m3u8',
    );
  });

  it('dir signs the directory as ec_url_allow; ttl counts from now', () => {
    const url = signUrl('/videos/v1/master.m3u8', {
      scheme: 'ectoken',
      secret: KEY,
      ttl: 60,
      now: NOW,
      dir: true,
    });
    expect(independentDecrypt(tokenOf(url), KEY)).toBe('ec_expire=1000000060&ec_url_allow=/videos/v1/');
  });

  it('every rule is written as its ec_* pair, lists comma-joined, countries upper-cased', () => {
    const url = sign('/live/a.m3u8', {
      urlAllow: ['/live/', '/vod/'],
      countryAllow: ['us', 'CA'],
      countryDeny: ['FR'],
      refAllow: ['*.example.com', 'missing'],
      refDeny: ['bad.example.com/x'],
      protoAllow: ['https'],
      protoDeny: ['http'],
      hostAllow: ['cdn.example.com'],
      hostDeny: ['old.example.com'],
      clientIp: '2001:db8::/32',
    });
    expect(independentDecrypt(tokenOf(url), KEY)).toBe(
      'ec_expire=2000000000&ec_country_allow=US,CA&ec_country_deny=FR&ec_url_allow=/live/,/vod/' +
        '&ec_host_allow=cdn.example.com&ec_host_deny=old.example.com&ec_ref_allow=*.example.com,missing' +
        '&ec_ref_deny=bad.example.com/x&ec_clientip=2001:db8::/32&ec_proto_allow=https&ec_proto_deny=http',
    );
  });

  it('ip binds the token as ec_clientip (canonical form)', () => {
    const url = sign('/a.ts', undefined, { ip: '::ffff:192.0.2.9' });
    expect(independentDecrypt(tokenOf(url), KEY)).toBe(
      'ec_expire=2000000000&ec_url_allow=/a.ts&ec_clientip=192.0.2.9',
    );
  });

  it('param renames the query parameter', () => {
    expect(sign('/a.ts', undefined, { param: 'tk' })).toMatch(/^\/a\.ts\?tk=[\w-]+$/);
  });

  it.each([
    ['a bad rule', () => sign('/a.ts', { countryAllow: ['USA'] }), 'rule', /ec_country_allow: "USA"/],
    ['an empty list', () => sign('/a.ts', { refDeny: [] }), 'rule', /ec_ref_deny: give at least one/],
    [
      'ip and rules.clientIp together',
      () => sign('/a.ts', { clientIp: '10.0.0.0/8' }, { ip: '10.0.0.1' }),
      'rule',
      /give one of them/,
    ],
    ['dir with urlAllow', () => sign('/a/b.ts', { urlAllow: ['/a/'] }, { dir: true }), 'rule', /drop dir/],
    [
      'pathToken',
      () => sign('/a/b.ts', undefined, { pathToken: true }),
      'scheme',
      /do not travel in the path/,
    ],
    ['a key that is not alphanumeric', () => sign('/a.ts', undefined, { secret: 'my-key' }), 'secret', /250/],
    ['a bad param', () => sign('/a.ts', undefined, { param: 'a&b' }), 'scheme', /query parameter name/],
    [
      'rules with gcore',
      () => signUrl('/a.ts', { scheme: 'gcore', secret: 'k', expires: EXP, rules: { countryAllow: ['US'] } }),
      'scheme',
      /rules: ectoken only; gcore tokens carry no rules/,
    ],
    [
      'param with keycdn',
      () => signUrl('/a.ts', { scheme: 'keycdn', secret: 'k', expires: EXP, param: 't' }),
      'scheme',
      /param: ectoken only/,
    ],
    [
      'a token over 512 characters',
      () => sign('/a.ts', { refAllow: Array.from({ length: 40 }, (_, i) => `host-${i}.example.com`) }),
      'rule',
      /verifiers refuse over 512/,
    ],
  ])('refuses %s with a SignError', (_name, call, code, message) => {
    let caught: unknown;
    try {
      call();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SignError);
    expect((caught as SignError).code).toBe(code);
    expect((caught as SignError).message).toMatch(message);
  });

  it('keeps the gcore signature unchanged (the documented Gcore example)', () => {
    // md5("2147483647/images/1.jpg secret_key"), Gcore's no-IP example.
    expect(signUrl('/images/1.jpg', { scheme: 'gcore', secret: 'secret_key', expires: 2147483647 })).toBe(
      '/images/1.jpg?md5=vHEnxR8VaxpEDgyNzJuWwA&expires=2147483647',
    );
  });
});

describe('verifyRequest with scheme ectoken: the rules against the facts given', () => {
  const verify = (
    url: string,
    options: Partial<Parameters<typeof verifyRequest>[1]> = {},
    request: Parameters<typeof verifyRequest>[0] = url,
  ) => verifyRequest(request, { scheme: 'ectoken', secret: KEY, now: NOW, ...options });

  const ruled = sign('/v/master.m3u8', {
    urlAllow: ['/v/'],
    countryDeny: ['FR'],
    refAllow: ['www.example.com'],
    protoAllow: ['https'],
    clientIp: '10.0.0.0/8',
  });
  const good = {
    facts: { referer: 'https://www.example.com/watch', proto: 'https', country: 'US' },
  } as const;

  it('a request meeting every rule is valid, with the prefix grant and the viewer address', () => {
    const result = verify(ruled, good, { url: ruled.replace('master.m3u8', 'seg-1.ts'), ip: '10.9.8.7' });
    expect(result).toMatchObject({ ok: true, verdict: 'valid', status: 200, path: '/v/seg-1.ts' });
    expect(result.result).toMatchObject({ scope: 'prefix', prefixes: ['/v/'], expires: EXP });
  });

  it.each([
    ['another address', { url: ruled, ip: '192.0.2.1' }, good, 'client address outside ec_clientip'],
    ['no address at all', ruled, good, 'client address outside ec_clientip'],
    [
      'a denied country',
      { url: ruled, ip: '10.0.0.1' },
      { facts: { ...good.facts, country: 'fr' } },
      'country FR',
    ],
    [
      'another referrer',
      { url: ruled, ip: '10.0.0.1' },
      { facts: { ...good.facts, referer: 'evil.com' } },
      'referrer',
    ],
    [
      'no referrer',
      { url: ruled, ip: '10.0.0.1' },
      { facts: { proto: 'https', country: 'US' } },
      'referrer missing',
    ],
    [
      'plain http',
      { url: ruled, ip: '10.0.0.1' },
      { facts: { ...good.facts, proto: 'http' } },
      'protocol http',
    ],
  ] as const)('%s is 403, reason rule', (_name, request, options, detail) => {
    const result = verify(ruled, options, request);
    expect(result).toMatchObject({ ok: false, verdict: 'invalid', status: 403, reason: 'rule' });
    expect(result.detail).toContain(detail);
  });

  it('a path outside ec_url_allow is 403 invalid; at ec_expire it is 410', () => {
    const request = { url: ruled.replace('/v/', '/w/'), ip: '10.0.0.1' };
    expect(verify(ruled, good, request)).toMatchObject({ status: 403, reason: 'invalid' });
    expect(verify(ruled, { ...good, now: EXP }, { url: ruled, ip: '10.0.0.1' })).toMatchObject({
      status: 410,
      verdict: 'expired',
    });
  });

  it('the country lookup runs only for a token with country rules', () => {
    let lookups = 0;
    const country = () => {
      lookups += 1;
      return 'US';
    };
    expect(verify(sign('/a.ts'), { facts: { country } }).ok).toBe(true);
    expect(lookups).toBe(0);
    expect(verify(sign('/a.ts', { countryAllow: ['US'] }), { facts: { country } }).ok).toBe(true);
    expect(lookups).toBe(1);
    // Unknown country: an allow list denies it.
    expect(verify(sign('/a.ts', { countryAllow: ['US'] })).reason).toBe('rule');
  });

  it('host rules see facts.host', () => {
    const url = sign('/a.ts', { hostAllow: ['*.example.com'] });
    expect(verify(url, { facts: { host: 'cdn.example.com' } }).ok).toBe(true);
    expect(verify(url, { facts: { host: 'example.com' } }).reason).toBe('rule');
  });

  it('an IPv6 range in ec_clientip opens addresses inside it only', () => {
    const url = sign('/a.ts', { clientIp: '2001:db8::/32' });
    expect(verify(url, {}, { url, ip: '2001:db8:ffff::1' }).ok).toBe(true);
    expect(verify(url, {}, { url, ip: '2001:db9::1' }).reason).toBe('rule');
  });

  it('ignoreUrlCase compares ec_url_allow without case', () => {
    const url = sign('/Media/a.ts').replace('/Media/', '/media/');
    expect(verify(url).reason).toBe('invalid');
    expect(verify(url, { ignoreUrlCase: true }).ok).toBe(true);
  });

  it('param: the token is found under the zone parameter name, or as the bare query', () => {
    const url = sign('/a.ts', undefined, { param: 'tk' });
    expect(verify(url, { param: 'tk' }).ok).toBe(true);
    expect(verify(url).reason).toBe('missing');
    expect(verify(`/a.ts?${tokenOf(url, 'tk')}`).ok).toBe(true);
  });

  it('the backup key opens what the primary does not; a token without ec_expire never expires', () => {
    const token = independentEncrypt('ec_url_allow=/a', 'Backup2');
    const result = verifyRequest(`/a/b.ts?token=${token}`, { scheme: 'ectoken', secret: [KEY, 'Backup2'] });
    expect(result.ok).toBe(true);
    expect(result.result).toMatchObject({ expires: Infinity, scope: 'prefix', prefixes: ['/a'] });
    expect(verify(`/a/b.ts?token=${token}`).reason).toBe('invalid');
  });

  it.each([
    [
      'facts with gcore',
      () => verifyRequest('/a', { scheme: 'gcore', secret: 'k', facts: { proto: 'https' } }),
    ],
    [
      'ignoreUrlCase with keycdn',
      () => verifyRequest('/a', { scheme: 'keycdn', secret: 'k', ignoreUrlCase: true }),
    ],
    ['bindIp with ectoken', () => verifyRequest('/a', { scheme: 'ectoken', secret: 'k', bindIp: true })],
  ])('refuses %s as a programming error', (_name, call) => {
    expect(call).toThrowError(SignError);
  });
});

describe('the package entry exports the ectoken helpers', () => {
  it('encryptEctoken / decryptEctoken round-trip and agree with the independent implementation', () => {
    const token = encryptEctoken('ec_expire=1&ec_url_allow=/', 'key-text');
    expect(independentDecrypt(token, 'key-text')).toBe('ec_expire=1&ec_url_allow=/');
    expect(decryptEctoken(independentEncrypt('ec_expire=9', 'k'), ['x', 'k'])).toEqual({
      ok: true,
      plaintext: 'ec_expire=9',
      keyIndex: 1,
    });
    // The EC-JS published vector.
    const published =
      'WWNONztpLdGM11awAYiFRuIIiIG1LOBQaO2cEtCXjT5PelAA-Tavv7eD9YtSeGM13uQsobIkL0xYf6DZLzM6iMbe';
    expect(decryptEctoken(published, ['my-secret-key'])).toMatchObject({
      ok: true,
      plaintext: 'ec_expire=12345678&ec_clientip=1.2.3.4',
    });
  });

  it('ectokenRules returns pairs or a problem', () => {
    expect(ectokenRules({ protoDeny: ['http'], countryAllow: ['de'] })).toEqual({
      ok: true,
      pairs: [
        ['ec_country_allow', 'DE'],
        ['ec_proto_deny', 'http'],
      ],
    });
    expect(ectokenRules({ urlAllow: ['/a&b'] })).toMatchObject({ ok: false });
  });
});
