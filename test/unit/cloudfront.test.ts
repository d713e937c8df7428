import { createPrivateKey, sign as rsaSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { getSignedCookies, getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { signCookies, signUrl, verifyRequest } from '../../src/index.js';
import { captureIo } from '../helpers/cli-io.js';

/**
 * CloudFront signed URLs and cookies: the SDK's URLs and cookies (test/vectors/cloudfront.json) open
 * through the library and the CLI with the public keys alone; streamgate's own URLs and cookies are
 * byte for byte the SDK's; tampering, other keys, other URLs, time and IP conditions are refused.
 */

interface Vector {
  id: string;
  kind: 'url' | 'cookies';
  input: {
    url?: string;
    keyPairId: string;
    dateLessThan?: string;
    dateGreaterThan?: string;
    ipAddress?: string;
    policy?: string;
    algorithm?: 'SHA256';
  };
  signed: string | Record<string, string>;
}

const vectorsUrl = new URL('../vectors/', import.meta.url);
const file = JSON.parse(readFileSync(new URL('cloudfront.json', vectorsUrl), 'utf8')) as {
  keyPairs: Record<string, string>;
  vectors: Vector[];
};
const pem = (path: string) => readFileSync(new URL(path, vectorsUrl), 'utf8');
const KEY_PAIRS = Object.entries(file.keyPairs).map(([id, path]) => ({ id, publicKey: pem(path) }));
const PRIVATE_A = pem('keys/cloudfront-a.private.pem');
const NOW = 1_850_000_000;
const BASE = 'https://d111111abcdef8.cloudfront.net';
const verify = (
  url: string,
  extra: Record<string, unknown> = {},
  ip = '203.0.113.9',
  headers?: Record<string, string>,
) =>
  verifyRequest({ url, ip, ...(headers === undefined ? {} : { headers }) }, {
    scheme: 'cloudfront',
    keyPairs: KEY_PAIRS,
    now: NOW,
    ...extra,
  } as Parameters<typeof verifyRequest>[1]);
const cookieHeader = (cookies: Record<string, string>) =>
  Object.entries(cookies)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');

const io = captureIo;

describe('CloudFront vectors (@aws-sdk/cloudfront-signer) open with the public keys alone', () => {
  it('has canned, custom, SHA-256, second-key and cookie vectors', () => {
    expect(file.vectors.map((v) => v.id)).toEqual(
      expect.arrayContaining([
        'canned-sha1',
        'canned-sha256',
        'custom-ip',
        'custom-wildcard',
        'cookies-wildcard',
        'canned-second-key',
      ]),
    );
  });

  for (const v of file.vectors.filter((vector) => vector.kind === 'url')) {
    it(`${v.id}: opens through the library and the CLI; another URL or a tampered signature does not`, async () => {
      const signed = v.signed as string;
      expect(verify(signed)).toMatchObject({ ok: true, status: 200 });
      const other = signed
        .replace('/vod/movie-1/', '/vod/movie-10/')
        .replace('/vod/a.ts', '/vod/b.ts')
        .replace('x=1', 'x=2');
      expect(verify(other)).toMatchObject({ ok: false, status: 403, reason: 'invalid' });
      const tampered = signed.replace(
        /Signature=(.)/,
        (_m, c: string) => `Signature=${c === 'A' ? 'B' : 'A'}`,
      );
      expect(verify(tampered)).toMatchObject({ ok: false, status: 403 });

      const pair = KEY_PAIRS.find((candidate) => candidate.id === v.input.keyPairId)!;
      const out = io();
      const argv = [
        'verify',
        signed,
        '--scheme',
        'cloudfront',
        '--public-key-file',
        new URL(file.keyPairs[pair.id]!, vectorsUrl).pathname,
      ];
      argv.push('--key-pair-id', pair.id, '--ip', '203.0.113.9', '--now', String(NOW), '--json');
      expect(await main(argv, out), out.errors.join('\n')).toBe(0);
      expect(JSON.parse(out.lines[0]!)).toMatchObject({ verdict: 'valid', status: 200 });
    });
  }

  it('custom-start: refused before DateGreaterThan; custom-ip: refused from outside the range', () => {
    const start = file.vectors.find((v) => v.id === 'custom-start')!.signed as string;
    expect(verify(start, { now: 1_767_225_599 })).toMatchObject({
      ok: false,
      status: 403,
      reason: 'invalid',
    });
    expect(verify(start, { now: 1_767_225_600 })).toMatchObject({ ok: true });
    const ip = file.vectors.find((v) => v.id === 'custom-ip')!.signed as string;
    expect(verify(ip, {}, '198.51.100.1')).toMatchObject({ ok: false, status: 403, reason: 'rule' });
  });

  it('custom-wildcard opens every file below the directory, not a sibling; expired is 410', () => {
    const signed = file.vectors.find((v) => v.id === 'custom-wildcard')!.signed as string;
    const query = signed.slice(signed.indexOf('?'));
    expect(verify(`${BASE}/vod/movie-1/720p/seg-9.ts${query}`)).toMatchObject({
      ok: true,
      result: { scope: 'prefix', prefixes: ['/vod/movie-1/'] },
    });
    expect(verify(`${BASE}/vod/movie-10/a.ts${query}`)).toMatchObject({ ok: false, reason: 'invalid' });
    expect(verify(signed, { now: 1_900_000_000 })).toMatchObject({
      ok: false,
      status: 410,
      reason: 'expired',
    });
  });

  for (const v of file.vectors.filter((vector) => vector.kind === 'cookies')) {
    it(`${v.id}: the signed cookies open the plain URL`, () => {
      const headers = { cookie: cookieHeader(v.signed as Record<string, string>) };
      expect(verify(`${BASE}/vod/movie-1/master.m3u8`, {}, undefined, headers)).toMatchObject({ ok: true });
      expect(verify(`${BASE}/vod/other/master.m3u8`, {}, undefined, headers)).toMatchObject({
        ok: false,
        reason: 'invalid',
      });
    });
  }
});

describe("streamgate's CloudFront URLs and cookies are the SDK's, byte for byte", () => {
  const LESS = 1_900_009_600;
  it.each([
    ['canned-sha1', {}],
    ['canned-sha256', { algorithm: 'sha256' }],
    ['canned-query', {}],
    ['custom-start', { start: 1_767_225_600 }],
    ['custom-ip', { sourceIp: '203.0.113.0/24' }],
  ] as const)('%s', (id, extra) => {
    const v = file.vectors.find((vector) => vector.id === id)!;
    expect(
      signUrl(v.input.url!, {
        scheme: 'cloudfront',
        privateKey: PRIVATE_A,
        keyPairId: 'KA1B2C3D4E5F6',
        expires: LESS,
        ...extra,
      }),
    ).toBe(v.signed);
  });

  it('a directory URL (dir) is the SDK custom policy with Resource …/dir/*; its cookies are the SDK cookies', () => {
    const resource = `${BASE}/vod/movie-1/*`;
    const policy = JSON.stringify({
      Statement: [{ Resource: resource, Condition: { DateLessThan: { 'AWS:EpochTime': LESS } } }],
    });
    const reference = getSignedUrl({
      url: `${BASE}/vod/movie-1/master.m3u8`,
      keyPairId: 'KA1B2C3D4E5F6',
      privateKey: PRIVATE_A,
      policy,
    });
    const options = {
      scheme: 'cloudfront',
      privateKey: PRIVATE_A,
      keyPairId: 'KA1B2C3D4E5F6',
      expires: LESS,
      dir: true,
    } as const;
    expect(signUrl(`${BASE}/vod/movie-1/master.m3u8`, options)).toBe(reference);
    const cookies = getSignedCookies({ keyPairId: 'KA1B2C3D4E5F6', privateKey: PRIVATE_A, policy });
    expect(
      signCookies(`${BASE}/vod/movie-1/master.m3u8`, { ...options, now: NOW }).map(
        (line) => line.split(';')[0],
      ),
    ).toEqual(Object.entries(cookies).map(([name, value]) => `${name}=${value}`));
    expect(signCookies(`${BASE}/vod/movie-1/master.m3u8`, { ...options, now: NOW })[0]).toMatch(
      /; Path=\/vod\/movie-1\/; Max-Age=50009600; HttpOnly; Secure; SameSite=None$/,
    );
  });

  it('sign and verify through the CLI: --private-key-file/--key-pair-id, then --public-key-file', async () => {
    const out = io();
    const privateFile = new URL('keys/cloudfront-b.private.pem', vectorsUrl).pathname;
    const args = [
      'sign',
      `${BASE}/vod/x/a.m3u8`,
      '--scheme',
      'cloudfront',
      '--private-key-file',
      privateFile,
    ];
    args.push(
      '--key-pair-id',
      'KZ9Y8X7W6V5U4',
      '--expires',
      String(LESS),
      '--policy-resource',
      `${BASE}/vod/x/*`,
    );
    expect(await main(args, out), out.errors.join('\n')).toBe(0);
    expect(out.lines[0]).toMatch(
      /^https:\/\/d111111abcdef8\.cloudfront\.net\/vod\/x\/a\.m3u8\?Policy=[A-Za-z0-9~_-]+&Key-Pair-Id=KZ9Y8X7W6V5U4&Signature=/,
    );
    const checked = io();
    const publicB = new URL(file.keyPairs.KZ9Y8X7W6V5U4!, vectorsUrl).pathname;
    const publicA = new URL(file.keyPairs.KA1B2C3D4E5F6!, vectorsUrl).pathname;
    const url = out.lines[0]!.replace('/a.m3u8', '/720p/b.ts');
    const verifyArgs = [
      'verify',
      url,
      '--scheme',
      'cloudfront',
      '--public-key-file',
      publicA,
      '--key-pair-id',
      'KA1B2C3D4E5F6',
    ];
    verifyArgs.push('--public-key-file', publicB, '--key-pair-id', 'KZ9Y8X7W6V5U4', '--now', String(NOW));
    expect(await main(verifyArgs, checked)).toBe(0);
    expect(checked.lines[0]).toMatch(/^valid: prefix token for \/vod\/x\//);
  });
});

describe('CloudFront tokens: what is refused', () => {
  const sign = (policy: string, key = PRIVATE_A) =>
    rsaSign('sha1', Buffer.from(policy), createPrivateKey(key))
      .toString('base64')
      .replace(/[+=/]/g, (c) => (c === '+' ? '-' : c === '=' ? '_' : '~'));
  const b64 = (text: string) =>
    Buffer.from(text)
      .toString('base64')
      .replace(/[+=/]/g, (c) => (c === '+' ? '-' : c === '=' ? '_' : '~'));
  const custom = (policy: string, key = PRIVATE_A, id = 'KA1B2C3D4E5F6') =>
    `${BASE}/vod/a.ts?Policy=${b64(policy)}&Key-Pair-Id=${id}&Signature=${sign(policy, key)}`;
  const statement = (condition: Record<string, unknown>, resource = `${BASE}/vod/*`) =>
    JSON.stringify({ Statement: [{ Resource: resource, Condition: condition }] });
  const until = (time: number) => ({ DateLessThan: { 'AWS:EpochTime': time } });

  it.each([
    ['a custom policy signed here with node:crypto', custom(statement(until(1_900_000_000))), 200, undefined],
    [
      'signed by key b but naming key a',
      custom(statement(until(1_900_000_000)), pem('keys/cloudfront-b.private.pem')),
      403,
      'invalid',
    ],
    ['an unknown key pair id', custom(statement(until(1_900_000_000)), PRIVATE_A, 'KNOPE'), 403, 'invalid'],
    ['expired, signature good', custom(statement(until(1_800_000_000))), 410, 'expired'],
    ['at DateLessThan exactly', custom(statement(until(NOW))), 410, 'expired'],
    [
      'an unknown condition',
      custom(statement({ ...until(1_900_000_000), StringLike: {} })),
      403,
      'malformed',
    ],
    ['no DateLessThan', custom(statement({})), 403, 'malformed'],
    ['two statements', custom(JSON.stringify({ Statement: [{}, {}] })), 403, 'malformed'],
    ['Resource elsewhere', custom(statement(until(1_900_000_000), `${BASE}/live/*`)), 403, 'invalid'],
    [
      'Resource on another host',
      custom(statement(until(1_900_000_000), 'https://evil.example/vod/*')),
      403,
      'invalid',
    ],
    [
      'policy swapped after signing',
      custom(statement(until(1_900_000_000))).replace(
        /Policy=[^&]+/,
        `Policy=${b64(statement(until(1_999_999_999)))}`,
      ),
      403,
      'invalid',
    ],
    [
      'forged and expired',
      `${BASE}/vod/a.ts?Expires=1800000000&Key-Pair-Id=KA1B2C3D4E5F6&Signature=${'A'.repeat(342)}__`,
      403,
      'invalid',
    ],
    ['no Key-Pair-Id', `${BASE}/vod/a.ts?Expires=1900000000&Signature=abc`, 403, 'malformed'],
    [
      'Expires and Policy both',
      `${BASE}/vod/a.ts?Expires=1900000000&Policy=e30_&Key-Pair-Id=K&Signature=abc`,
      403,
      'malformed',
    ],
    ['Signature twice', `${BASE}/vod/a.ts?Expires=1&Key-Pair-Id=K&Signature=a&Signature=b`, 403, 'malformed'],
    [
      'Hash-Algorithm MD5',
      `${BASE}/vod/a.ts?Expires=1&Key-Pair-Id=K&Signature=a&Hash-Algorithm=MD5`,
      403,
      'malformed',
    ],
    ['no token', `${BASE}/vod/a.ts`, 403, 'missing'],
  ])('%s → %i', (_label, url, status, reason) => {
    const result = verify(url);
    expect(result.status).toBe(status);
    if (reason !== undefined) expect(result.reason).toBe(reason);
  });

  it.each([
    [
      ['sign', `${BASE}/a.ts`, '--scheme', 'cloudfront', '--key-pair-id', 'K', '--ttl', '60'],
      /needs privateKey/,
    ],
    [
      [
        'sign',
        '/a.ts',
        '--scheme',
        'cloudfront',
        '--private-key-file',
        new URL('keys/cloudfront-a.private.pem', vectorsUrl).pathname,
        '--key-pair-id',
        'K',
        '--ttl',
        '60',
      ],
      /whole URLs/,
    ],
    [
      [
        'verify',
        `${BASE}/a.ts`,
        '--scheme',
        'cloudfront',
        '--public-key-file',
        new URL('keys/cloudfront-a.public.pem', vectorsUrl).pathname,
      ],
      /keyPairId/,
    ],
    [
      ['sign', `${BASE}/a.ts`, '--scheme', 'gcore', '--secret', 'k', '--ttl', '60', '--key-pair-id', 'K'],
      /--key-pair-id: for --scheme cloudfront only/,
    ],
  ])('%j exits 2', async (argv, message) => {
    const out = io();
    expect(await main(argv, out)).toBe(2);
    expect(out.errors.join('\n')).toMatch(message);
  });
});
