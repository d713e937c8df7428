import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { signCookies, signUrl, verifyRequest } from '../../src/index.js';
import { captureIo } from '../helpers/cli-io.js';

/**
 * Akamai EdgeAuth / Auth Token 2.0: the published vectors (test/vectors/akamai.json, made by Akamai's
 * EdgeAuth for Node) open through the library and the CLI; streamgate's tokens are byte for byte the
 * reference's, checked against the reference run live; every tampering is refused.
 */

interface Vector {
  id: string;
  key: string;
  options: {
    endTime: number;
    startTime?: number;
    ip?: string;
    sessionId?: string;
    payload?: string;
    salt?: string;
    algorithm: string;
    escapeEarly: boolean;
    tokenName: string;
  };
  acl?: string | string[];
  url?: string;
  token: string;
  valid_for: string[];
  not_valid_for: string[];
}

const file = JSON.parse(readFileSync(new URL('../vectors/akamai.json', import.meta.url), 'utf8')) as {
  transitionKeyPrimary: string;
  vectors: Vector[];
};
const require = createRequire(import.meta.url);
const EdgeAuth = require('akamai-edgeauth') as new (options: Record<string, unknown>) => {
  generateACLToken(acl: string | string[]): string;
  generateURLToken(url: string): string;
};

const NOW = 1_850_000_000;
const CLIENT = '198.51.100.20';

function encodedPath(path: string): string {
  return path
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

function optionsOf(v: Vector) {
  return {
    scheme: 'akamai' as const,
    secret: [file.transitionKeyPrimary, v.key],
    param: v.options.tokenName,
    algorithm: v.options.algorithm,
    escapeEarly: v.options.escapeEarly,
    ...(v.options.salt === undefined ? {} : { salt: v.options.salt }),
    now: NOW,
  };
}

const io = captureIo;

describe('Akamai EdgeAuth vectors (akamai-edgeauth) open through the library and the CLI', () => {
  it('has every kind of token', () => {
    expect(file.vectors.length).toBeGreaterThanOrEqual(12);
    expect(file.vectors.some((v) => v.url !== undefined)).toBe(true);
    expect(new Set(file.vectors.map((v) => v.options.algorithm))).toEqual(new Set(['sha256', 'sha1', 'md5']));
  });

  for (const v of file.vectors) {
    const ip = v.options.ip;
    const target = (path: string) => `${encodedPath(path)}?${v.options.tokenName}=${v.token}`;

    it(`${v.id}: opens ${v.valid_for.join(', ')}; refuses ${v.not_valid_for.join(', ') || 'other keys'}`, async () => {
      for (const path of v.valid_for) {
        const result = verifyRequest({ url: target(path), ip: ip ?? CLIENT }, optionsOf(v));
        expect(result, path).toMatchObject({ ok: true, status: 200 });
        expect(result.result.ok && result.result.expires).toBe(v.options.endTime);
      }
      for (const path of v.not_valid_for) {
        expect(verifyRequest({ url: target(path), ip: ip ?? CLIENT }, optionsOf(v)), path).toMatchObject({
          ok: false,
          status: 403,
          reason: 'invalid',
        });
      }
      const other = verifyRequest(
        { url: target(v.valid_for[0]!), ip: ip ?? CLIENT },
        { ...optionsOf(v), secret: 'ab'.repeat(16) },
      );
      expect(other).toMatchObject({ ok: false, status: 403, reason: 'invalid' });

      const argv = ['verify', target(v.valid_for[0]!), '--scheme', 'akamai', '--now', String(NOW), '--json'];
      for (const key of optionsOf(v).secret) argv.push('--secret', key);
      argv.push('--param', v.options.tokenName, '--algorithm', v.options.algorithm, '--ip', ip ?? CLIENT);
      if (v.options.salt) argv.push('--salt', v.options.salt);
      if (v.options.escapeEarly) argv.push('--escape-early');
      const out = io();
      expect(await main(argv, out)).toBe(0);
      expect(JSON.parse(out.lines[0]!)).toMatchObject({
        verdict: 'valid',
        status: 200,
        expires: v.options.endTime,
      });
    });

    it(`${v.id}: signUrl writes the reference's token byte for byte`, () => {
      const path = v.url ?? v.valid_for[0]!;
      const signed = signUrl(encodedPath(path), {
        scheme: 'akamai',
        secret: v.key,
        expires: v.options.endTime,
        param: v.options.tokenName,
        algorithm: v.options.algorithm,
        escapeEarly: v.options.escapeEarly,
        ...(v.acl === undefined ? {} : { acl: v.acl }),
        ...(v.options.startTime === undefined ? {} : { start: v.options.startTime }),
        ...(ip === undefined ? {} : { ip }),
        ...(v.options.sessionId === undefined ? {} : { sessionId: v.options.sessionId }),
        ...(v.options.payload === undefined ? {} : { data: v.options.payload }),
        ...(v.options.salt === undefined ? {} : { salt: v.options.salt }),
      });
      expect(signed).toBe(`${encodedPath(path)}?${v.options.tokenName}=${v.token}`);
    });
  }
});

describe('streamgate and the reference agree on tokens they did not both see', () => {
  const key = 'a0b1c2d3e4f5061728394a5b6c7d8e9f';
  const cases = [
    { acl: '/live/cam-7/*', options: {} },
    { acl: ['/a/*', '/b/?/c/*'], options: { algorithm: 'sha1', sessionId: 'x', payload: 'y' } },
    { url: '/hls/stream.m3u8', options: { salt: 's4lt', ip: '192.0.2.9' } },
    { url: '/hls/a b/ç.ts', options: { escapeEarly: true, algorithm: 'md5' } },
  ];
  it.each(cases.map((c, i) => [i, c] as const))(
    'case %i: the reference token opens at the verifier, ours equals it',
    (_i, c) => {
      const options = { key, endTime: 1_900_000_123, startTime: 1_700_000_000, ...c.options } as Record<
        string,
        unknown
      >;
      const reference = new EdgeAuth({ ...options });
      const token = 'acl' in c ? reference.generateACLToken(c.acl!) : reference.generateURLToken(c.url!);
      const path =
        'acl' in c
          ? '/live/cam-7/1.ts'.replace('/live/cam-7', Array.isArray(c.acl) ? '/a' : '/live/cam-7')
          : c.url!;
      const url = `${encodedPath(path)}?__token__=${token}`;
      const common = {
        scheme: 'akamai' as const,
        ...(options.algorithm === undefined ? {} : { algorithm: options.algorithm as string }),
        ...(options.salt === undefined ? {} : { salt: options.salt as string }),
        ...(options.escapeEarly ? { escapeEarly: true } : {}),
      };
      expect(
        verifyRequest(
          { url, ip: (options.ip as string | undefined) ?? CLIENT },
          { ...common, secret: key, now: NOW },
        ),
      ).toMatchObject({ ok: true });
      const ours = signUrl(encodedPath(path), {
        ...common,
        secret: key,
        expires: 1_900_000_123,
        start: 1_700_000_000,
        ...('acl' in c ? { acl: c.acl } : {}),
        ...(options.ip === undefined ? {} : { ip: options.ip as string }),
        ...(options.sessionId === undefined ? {} : { sessionId: options.sessionId as string }),
        ...(options.payload === undefined ? {} : { data: options.payload as string }),
      });
      expect(ours).toBe(url);
    },
  );
});

describe('Akamai tokens: signature first, then scope, IP, start and expiry', () => {
  const key = '00112233445566778899aabbccddeeff';
  const sign = (fields: string, salt = ''): string =>
    `${fields}~hmac=${createHmac('sha256', Buffer.from(key, 'hex')).update(`${fields}${salt}`).digest('hex')}`;
  const check = (url: string, extra: Record<string, unknown> = {}) =>
    verifyRequest({ url, ip: CLIENT }, { scheme: 'akamai', secret: key, now: NOW, ...extra });
  const good = sign('exp=1900000000~acl=/vod/*');

  it.each([
    [
      'a valid token (hmac computed here with openssl-equivalent HMAC-SHA256)',
      `/vod/a.ts?__token__=${good}`,
      200,
      undefined,
    ],
    [
      'hmac edited',
      `/vod/a.ts?__token__=${good.replace(/.$/, (c) => (c === '0' ? '1' : '0'))}`,
      403,
      'invalid',
    ],
    ['exp edited', `/vod/a.ts?__token__=${good.replace('exp=1900000000', 'exp=1900000001')}`, 403, 'invalid'],
    ['acl widened', `/x.ts?__token__=${good.replace('acl=/vod/*', 'acl=/*')}`, 403, 'invalid'],
    ['outside the acl', `/other/a.ts?__token__=${good}`, 403, 'invalid'],
    ['expired (signature good)', `/vod/a.ts?__token__=${sign('exp=1800000000~acl=/vod/*')}`, 410, 'expired'],
    [
      'forged and expired',
      `/vod/a.ts?__token__=exp=1800000000~acl=/vod/*~hmac=${'0'.repeat(64)}`,
      403,
      'invalid',
    ],
    ['exactly at exp', `/vod/a.ts?__token__=${sign(`exp=${NOW}~acl=/vod/*`)}`, 410, 'expired'],
    [
      'not valid yet (st)',
      `/vod/a.ts?__token__=${sign('st=1860000000~exp=1900000000~acl=/vod/*')}`,
      403,
      'invalid',
    ],
    [
      'bound to another ip',
      `/vod/a.ts?__token__=${sign('ip=192.0.2.1~exp=1900000000~acl=/vod/*')}`,
      403,
      'rule',
    ],
    [
      'bound to this ip',
      `/vod/a.ts?__token__=${sign(`ip=${CLIENT}~exp=1900000000~acl=/vod/*`)}`,
      200,
      undefined,
    ],
    ['fields reordered', `/vod/a.ts?__token__=${sign('acl=/vod/*~exp=1900000000')}`, 200, undefined],
    [
      'hmac in upper case',
      `/vod/a.ts?__token__=${good.replace(/hmac=(.*)$/, (_m, h: string) => `hmac=${h.toUpperCase()}`)}`,
      403,
      'invalid',
    ],
    ['an unknown field', `/vod/a.ts?__token__=${sign('exp=1900000000~acl=/vod/*~foo=1')}`, 403, 'malformed'],
    [
      'a field given twice',
      `/vod/a.ts?__token__=${sign('exp=1900000000~exp=1900000000~acl=/vod/*')}`,
      403,
      'malformed',
    ],
    ['no hmac', '/vod/a.ts?__token__=exp=1900000000~acl=/vod/*', 403, 'malformed'],
    ['the token twice', `/vod/a.ts?__token__=${good}&__token__=${good}`, 403, 'malformed'],
    ['no token', '/vod/a.ts', 403, 'missing'],
    [
      'salted token without the salt',
      `/vod/a.ts?__token__=${sign('exp=1900000000~acl=/vod/*', '~salt=s')}`,
      403,
      'invalid',
    ],
    ['percent-encoded by a player', `/vod/a.ts?__token__=${encodeURIComponent(good)}`, 200, undefined],
  ])('%s (%s) → %i %s', (_label, _url, status, reason) => {
    const url = _url;
    const result = check(url);
    expect(result.status).toBe(status);
    if (reason !== undefined) expect(result.reason).toBe(reason);
  });

  it('a salted token opens with the salt; sha1 tokens only where the zone says sha1', () => {
    expect(
      check(`/vod/a.ts?__token__=${sign('exp=1900000000~acl=/vod/*', '~salt=s')}`, { salt: 's' }).ok,
    ).toBe(true);
    const sha1 = signUrl('/vod/a.ts', {
      scheme: 'akamai',
      secret: key,
      expires: 1_900_000_000,
      algorithm: 'sha1',
      acl: '/vod/*',
    });
    expect(check(sha1).reason).toBe('malformed');
    expect(check(sha1, { algorithm: 'sha1' }).ok).toBe(true);
  });

  it('the token opens from a cookie (hdntl, the session token) or a header; the query token wins', () => {
    const headers = { cookie: `other=1; hdntl=${good}` };
    expect(
      verifyRequest(
        { url: '/vod/a.ts', ip: CLIENT, headers },
        { scheme: 'akamai', secret: key, now: NOW, param: 'hdnts' },
      ),
    ).toMatchObject({ ok: true });
    expect(
      verifyRequest(
        { url: '/vod/a.ts', ip: CLIENT, headers: { __token__: good } },
        { scheme: 'akamai', secret: key, now: NOW },
      ),
    ).toMatchObject({ ok: true });
    expect(
      verifyRequest(
        {
          url: `/vod/a.ts?__token__=${good.replace('exp=1900000000', 'exp=1900000001')}`,
          ip: CLIENT,
          headers: { cookie: `__token__=${good}` },
        },
        { scheme: 'akamai', secret: key, now: NOW },
      ),
    ).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('sign --cookie prints the session cookie: directory ACL, HttpOnly, Secure on https', async () => {
    const out = io();
    const status = await main(
      [
        'sign',
        'https://cdn.example.com/vod/movie-1/master.m3u8',
        '--scheme',
        'akamai',
        '--secret',
        key,
        '--dir',
        '--expires',
        '1900000000',
        '--param',
        'hdnts',
        '--cookie',
        '--now',
        String(NOW),
      ],
      out,
    );
    expect(status).toBe(0);
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatch(
      /^hdntl=exp=1900000000~acl=\/vod\/movie-1\/\*~hmac=[0-9a-f]{64}; Path=\/vod\/movie-1\/; Max-Age=50000000; HttpOnly; Secure; SameSite=None$/,
    );
    const cookie = out.lines[0]!.split(';')[0]!;
    const verify = io();
    expect(
      await main(
        [
          'verify',
          '/vod/movie-1/720p/1.ts',
          '--scheme',
          'akamai',
          '--secret',
          key,
          '--param',
          'hdnts',
          '--cookie',
          cookie,
          '--now',
          String(NOW),
        ],
        verify,
      ),
    ).toBe(0);
    expect(signCookies('/vod/movie-1/a.ts', { scheme: 'akamai', secret: key, ttl: 60, now: NOW })[0]).toMatch(
      /^__token__=exp=1850000060~hmac=[0-9a-f]{64}; Path=\/vod\/movie-1\/a\.ts; Max-Age=60; HttpOnly; SameSite=Lax$/,
    );
  });

  it.each([
    [
      ['sign', '/a.ts', '--scheme', 'akamai', '--secret', 'nothex', '--ttl', '60'],
      /hex with an even number of digits/,
    ],
    [
      ['sign', '/a.ts', '--scheme', 'akamai', '--secret', key, '--ttl', '60', '--algorithm', 'sha512'],
      /algorithm must be one of/,
    ],
    [
      ['sign', '/a.ts', '--scheme', 'akamai', '--secret', key, '--ttl', '60', '--acl', 'vod/*'],
      /must be a path pattern/,
    ],
    [
      ['sign', '/a.ts', '--scheme', 'gcore', '--secret', key, '--ttl', '60', '--acl', '/vod/*'],
      /--acl: for --scheme akamai only/,
    ],
    [
      ['verify', '/a.ts', '--scheme', 'akamai', '--secret', key, '--cookie', 'no-equals'],
      /--cookie must be one NAME=VALUE/,
    ],
    [
      ['verify', '/a.ts', '--scheme', 'gcore', '--secret', key, '--cookie', 'a=b'],
      /do not travel in cookies/,
    ],
  ])('%j exits 2', async (argv, message) => {
    const out = io();
    expect(await main(argv, out)).toBe(2);
    expect(out.errors.join('\n')).toMatch(message);
  });
});
