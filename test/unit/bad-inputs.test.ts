import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SignError, signUrl, verifyRequest } from '../../src/index.js';

const NOW = 1_700_000_000;
const KEY = 'secret_key';
const EXP = 2147483647;
// Gcore's documented no-IP example: md5("2147483647/images/1.jpg secret_key").
const GOOD = 'vHEnxR8VaxpEDgyNzJuWwA';

type Row = [description: string, target: string, status: number, reason: string];

const gcoreRows: Row[] = [
  ['the documented good URL', `/images/1.jpg?md5=${GOOD}&expires=${EXP}`, 200, 'ok'],
  ['no parameters', '/images/1.jpg', 403, 'missing'],
  ['unrelated parameters only', '/images/1.jpg?foo=bar', 403, 'missing'],
  ['md5 without expires', `/images/1.jpg?md5=${GOOD}`, 403, 'malformed'],
  ['expires without md5', `/images/1.jpg?expires=${EXP}`, 403, 'malformed'],
  ['duplicated md5', `/images/1.jpg?md5=${GOOD}&md5=${GOOD}&expires=${EXP}`, 403, 'malformed'],
  [
    'duplicated md5 with different values',
    `/images/1.jpg?md5=a&md5=${GOOD}&expires=${EXP}`,
    403,
    'malformed',
  ],
  ['duplicated expires', `/images/1.jpg?md5=${GOOD}&expires=${EXP}&expires=${EXP}`, 403, 'malformed'],
  ['empty md5', `/images/1.jpg?md5=&expires=${EXP}`, 403, 'malformed'],
  ['empty expires', `/images/1.jpg?md5=${GOOD}&expires=`, 403, 'malformed'],
  ['bare md5 name', `/images/1.jpg?md5&expires=${EXP}`, 403, 'malformed'],
  ['non-numeric expiry', `/images/1.jpg?md5=${GOOD}&expires=tomorrow`, 403, 'malformed'],
  ['negative expiry', `/images/1.jpg?md5=${GOOD}&expires=-2147483647`, 403, 'malformed'],
  ['fractional expiry', `/images/1.jpg?md5=${GOOD}&expires=2147483647.5`, 403, 'malformed'],
  ['20-digit expiry', `/images/1.jpg?md5=${GOOD}&expires=21474836470000000000`, 403, 'malformed'],
  [
    'leading-zero expiry (another spelling of a signed number)',
    `/images/1.jpg?md5=${GOOD}&expires=02147483647`,
    403,
    'malformed',
  ],
  ['expiry with a plus sign', `/images/1.jpg?md5=${GOOD}&expires=%2B2147483647`, 403, 'malformed'],
  ['expiry in hex', `/images/1.jpg?md5=${GOOD}&expires=0x7fffffff`, 403, 'malformed'],
  ['expiry with spaces', `/images/1.jpg?md5=${GOOD}&expires=%202147483647`, 403, 'malformed'],
  [
    'token in standard base64 (+/)',
    `/images/1.jpg?md5=vHEnxR8VaxpEDgyNzJuW+A&expires=${EXP}`,
    403,
    'malformed',
  ],
  ['token with padding', `/images/1.jpg?md5=${GOOD}%3D%3D&expires=${EXP}`, 403, 'malformed'],
  ['token too short', `/images/1.jpg?md5=vHEnxR8VaxpEDgyNzJuWw&expires=${EXP}`, 403, 'malformed'],
  ['over-long token', `/images/1.jpg?md5=${GOOD.repeat(50)}&expires=${EXP}`, 403, 'malformed'],
  [
    'token with a bad percent escape',
    `/images/1.jpg?md5=%ZZ${GOOD.slice(2)}&expires=${EXP}`,
    403,
    'malformed',
  ],
  [
    'token right, one letter of the path in another case',
    `/images/1.JPG?md5=${GOOD}&expires=${EXP}`,
    403,
    'invalid',
  ],
  [
    'percent-encoded token letters are the same token',
    `/images/1.jpg?md5=%76HEnxR8VaxpEDgyNzJuWwA&expires=${EXP}`,
    200,
    'ok',
  ],
  ['percent-encoded path letters are the same path', `/images/%31.jpg?md5=${GOOD}&expires=${EXP}`, 200, 'ok'],
  [
    'extra parameters are ignored',
    `/images/1.jpg?a=1&md5=${GOOD}&b=%20x+y&expires=${EXP}&_HLS_msn=3`,
    200,
    'ok',
  ],
  ['a fragment is not part of the path', `/images/1.jpg?md5=${GOOD}&expires=${EXP}#t=10`, 200, 'ok'],
  ['dot-dot segment', `/images/../images/1.jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['dot segment', `/images/./1.jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['encoded dot-dot', `/images/%2e%2e/images/1.jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['encoded slash', `/images%2F1.jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['double-encoded slash', `/images%252F1.jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['encoded backslash', `/images%5C1.jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['backslash', `/images\\1.jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['NUL', `/images/1.jpg%00.ts?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['empty segment', `/images//1.jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['overlong UTF-8 for "."', `/images/%c0%ae%c0%ae/1.jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['invalid UTF-8', `/images/%ff.jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['unencoded space', `/images/1 .jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['raw non-ASCII', `/images/é.jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['truncated percent escape', `/images/1.jpg%2?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['relative path', `images/1.jpg?md5=${GOOD}&expires=${EXP}`, 400, 'path'],
  ['two path tokens', `/images/~${GOOD}~${EXP}/~${GOOD}~${EXP}/1.jpg`, 403, 'malformed'],
  [
    'a path token and a query token',
    `/images/~${GOOD}~${EXP}/1.jpg?md5=${GOOD}&expires=${EXP}`,
    403,
    'malformed',
  ],
  ['a malformed path token', `/images/~not-a-token~soon/1.jpg`, 403, 'malformed'],
];

describe('bad inputs: every one gets its verdict, none throws (gcore)', () => {
  it.each(gcoreRows)('%s', (_description, target, status, reason) => {
    const result = verifyRequest(target, { scheme: 'gcore', secret: KEY, now: NOW });
    expect(result.status).toBe(status);
    expect(result.reason ?? 'ok').toBe(reason);
  });
});

describe('bad inputs (keycdn parameter names)', () => {
  const good = signUrl('/a/b.ts', { scheme: 'keycdn', secret: KEY, expires: EXP });
  const token = new URL(good, 'http://x').searchParams.get('token')!;
  it.each([
    ['the signed URL', good, 200, 'ok'],
    ['Gcore parameter names on a KeyCDN zone', `/a/b.ts?md5=${token}&expires=${EXP}`, 403, 'missing'],
    ['`expires` (plural) instead of `expire`', `/a/b.ts?token=${token}&expires=${EXP}`, 403, 'malformed'],
    ['duplicated token', `/a/b.ts?token=${token}&token=${token}&expire=${EXP}`, 403, 'malformed'],
  ] as Row[])('%s', (_description, target, status, reason) => {
    const result = verifyRequest(target, { scheme: 'keycdn', secret: KEY, now: NOW });
    expect(result.status).toBe(status);
    expect(result.reason ?? 'ok').toBe(reason);
  });
});

describe('bad inputs on the signing side', () => {
  it('an empty secret is refused with a typed error', () => {
    expect(() => signUrl('/a.ts', { scheme: 'gcore', secret: '', expires: EXP })).toThrowError(SignError);
    expect(() => verifyRequest('/a.ts', { scheme: 'gcore', secret: '' })).toThrowError(SignError);
  });

  it('a 300-character secret signs and verifies (no vendor length limit is imposed)', () => {
    const secret = 'k'.repeat(300);
    const url = signUrl('/a.ts', { scheme: 'keycdn', secret, expires: EXP });
    expect(verifyRequest(url, { scheme: 'keycdn', secret, now: NOW }).ok).toBe(true);
  });

  it('a secret over 1024 characters is refused', () => {
    expect(() => signUrl('/a.ts', { scheme: 'keycdn', secret: 'k'.repeat(1025), expires: EXP })).toThrowError(
      /longer/,
    );
  });

  it.each([
    ['zero', 0],
    ['negative', -5],
    ['fractional', 1.5],
    ['past 10 digits', 1e11],
    ['NaN', Number.NaN],
  ])('a %s expiry is refused', (_name, expires) => {
    expect(() => signUrl('/a.ts', { scheme: 'gcore', secret: KEY, expires })).toThrowError(SignError);
  });

  it('an IP on a keycdn token, or a non-address, is refused', () => {
    expect(() =>
      signUrl('/a.ts', { scheme: 'keycdn', secret: KEY, expires: EXP, ip: '1.2.3.4' }),
    ).toThrowError(/cannot be bound/);
    expect(() => signUrl('/a.ts', { scheme: 'gcore', secret: KEY, expires: EXP, ip: '1.2.3' })).toThrowError(
      /not an IP/,
    );
  });

  it('unicode paths are signed decoded and sent percent-encoded (README "Token rules")', () => {
    const url = signUrl('/vod/My Movie/épisode 1.m3u8', { scheme: 'gcore', secret: KEY, expires: EXP });
    expect(url.startsWith('/vod/My%20Movie/%C3%A9pisode%201.m3u8?md5=')).toBe(true);
    const check = verifyRequest(url, { scheme: 'gcore', secret: KEY, now: NOW });
    expect(check).toMatchObject({ ok: true, path: '/vod/My Movie/épisode 1.m3u8' });
    // The same file spelled with lower-case escapes is the same decoded path.
    expect(
      verifyRequest(url.replace('%C3%A9', '%c3%a9'), { scheme: 'gcore', secret: KEY, now: NOW }).ok,
    ).toBe(true);
  });

  it.each(['/a/../b.ts', '/a/%2e%2e/b.ts', '/a%2Fb.ts', '/a//b.ts'])(
    'an ambiguous path %s is not signed',
    (path) => {
      expect(() => signUrl(path, { scheme: 'gcore', secret: KEY, expires: EXP })).toThrowError(SignError);
    },
  );
});

describe('CLI: bad arguments get a clear message and exit 2', () => {
  const cli = new URL('../../bin/streamgate.js', import.meta.url).pathname;
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync('node', [cli, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });

  it.each([
    [['sign', '/a.ts', '--secret', 'k', '--ttl', '60'], /--scheme is required/],
    [['sign', '/a.ts', '--scheme', 'fastly', '--secret', 'k', '--ttl', '60'], /unknown --scheme "fastly"/],
    [['sign', '/a.ts', '--scheme', 'gcore', '--ttl', '60'], /a secret is required/],
    [['sign', '/a.ts', '--scheme', 'gcore', '--secret', 'k'], /exactly one of --ttl and --expires/],
    [
      ['sign', '/a.ts', '--scheme', 'gcore', '--secret', 'k', '--ttl', '60', '--expires', '5'],
      /exactly one of/,
    ],
    [['sign', '/a.ts', '--scheme', 'gcore', '--secret', 'k', '--ttl', '0'], /--ttl must be/],
    [['sign', '/a.ts', '--scheme', 'gcore', '--secret', 'k', '--expires', 'soon'], /--expires must be/],
    [
      ['sign', '/a.ts', '--scheme', 'keycdn', '--secret', 'k', '--ttl', '60', '--ip', '1.2.3.4'],
      /cannot be bound/,
    ],
    [['sign', '/a/../b.ts', '--scheme', 'gcore', '--secret', 'k', '--ttl', '60'], /cannot sign this path/],
    [
      ['sign', '/a.ts', '--scheme', 'gcore', '--secret', 'k', '--ttl', '60', '--bogus'],
      /Unknown option '--bogus'/,
    ],
    [['sign', '--scheme', 'gcore', '--secret', 'k', '--ttl', '60'], /exactly one PATH_OR_URL/],
    [['verify', '/a.ts', '--scheme', 'gcore'], /a secret is required/],
    [['verify', '/a.ts', '--scheme', 'gcore', '--secret', 'k', '--now', 'x'], /--now must be/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ])('%j', (args, message) => {
    const result = run(args as string[]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('takes the secret from STREAMGATE_SECRET or --secret-file, never needing it on the command line', () => {
    const expected = '/images/1.jpg?md5=vHEnxR8VaxpEDgyNzJuWwA&expires=2147483647\n';
    const args = ['sign', '/images/1.jpg', '--scheme', 'gcore', '--expires', '2147483647'];
    expect(run(args, { STREAMGATE_SECRET: 'secret_key' }).stdout).toBe(expected);
    const dir = mkdtempSync(join(tmpdir(), 'sg-'));
    writeFileSync(join(dir, 'key'), 'secret_key\n');
    expect(run([...args, '--secret-file', join(dir, 'key')]).stdout).toBe(expected);
  });

  it('sign --path-token embeds the directory token, and verify accepts the subtree', () => {
    const url = execFileSync(
      'node',
      [
        cli,
        'sign',
        '/videos/video-1/master.m3u8',
        '--scheme',
        'gcore',
        '--secret',
        KEY,
        '--expires',
        String(EXP),
        '--path-token',
      ],
      { encoding: 'utf8' },
    ).trim();
    // md5("2147483647/videos/video-1/ secret_key"), Gcore's directory vector.
    expect(url).toBe('/videos/video-1/~Jnj5pfQgzPHKnKIStMHFdA~2147483647/master.m3u8');
    const deeper = url.replace('master.m3u8', '360p/seg-1.ts');
    const out = run(['verify', deeper, '--scheme', 'gcore', '--secret', KEY, '--now', String(NOW), '--json']);
    expect(JSON.parse(out.stdout)).toMatchObject({
      verdict: 'valid',
      status: 200,
      scope: 'path',
      path: '/videos/video-1/360p/seg-1.ts',
    });
    const sibling = url.replace('/video-1/', '/video-2/');
    expect(run(['verify', sibling, '--scheme', 'gcore', '--secret', KEY, '--now', String(NOW)]).status).toBe(
      1,
    );
  });

  it('--help prints usage and exits 0', () => {
    for (const command of ['sign', 'verify']) {
      const result = run([command, '--help']);
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^Usage: streamgate /);
    }
  });
});
