import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

/**
 * The installed command (bin/streamgate.js over dist/) with the new schemes' stable forms: the exit
 * status scripts rely on (0 valid, 1 denied, 2 usage) and the --help texts listing every scheme.
 */

const cli = new URL('../../bin/streamgate.js', import.meta.url).pathname;
const run = (...args: string[]) => spawnSync('node', [cli, ...args], { encoding: 'utf8' });
const AKAMAI = JSON.parse(readFileSync(new URL('../vectors/akamai.json', import.meta.url), 'utf8')) as {
  vectors: Array<{ id: string; key: string; token: string }>;
};
const CLOUDFRONT = JSON.parse(
  readFileSync(new URL('../vectors/cloudfront.json', import.meta.url), 'utf8'),
) as {
  vectors: Array<{ id: string; signed: string }>;
};
const keys = new URL('../vectors/keys/', import.meta.url);

/** The same command in this process (what the binary runs), for the cases that need no new process. */
async function call(...argv: string[]): Promise<{ status: number; stdout: string }> {
  const lines: string[] = [];
  const status = await main(argv, { out: (line) => lines.push(line), err: () => {}, env: {} });
  return { status, stdout: lines.map((line) => `${line}\n`).join('') };
}

describe('streamgate sign/verify for akamai, cloudfront, bunny and jwt (the binary)', () => {
  it('verify exits 0 for a reference token, 1 for a denied one, 2 for a usage error', () => {
    const v = AKAMAI.vectors.find((vector) => vector.id === 'acl-directory')!;
    const url = `/vod/movie-1/master.m3u8?__token__=${v.token}`;
    const ok = run('verify', url, '--scheme', 'akamai', '--secret', v.key, '--now', '1850000000', '--json');
    expect([ok.status, JSON.parse(ok.stdout)]).toMatchObject([0, { verdict: 'valid', status: 200 }]);
    const denied = run(
      'verify',
      url.replace('movie-1/master', 'movie-2/master'),
      '--scheme',
      'akamai',
      '--secret',
      v.key,
    );
    expect(denied.status).toBe(1);
    expect(run('verify', url, '--scheme', 'akamai', '--secret', v.key, '--algorithm', 'sha3').status).toBe(2);

    const cf = CLOUDFRONT.vectors.find((vector) => vector.id === 'canned-sha1')!.signed;
    const pub = new URL('cloudfront-a.public.pem', keys).pathname;
    const checked = run(
      'verify',
      cf,
      '--scheme',
      'cloudfront',
      '--public-key-file',
      pub,
      '--key-pair-id',
      'KA1B2C3D4E5F6',
    );
    expect([checked.status, checked.stdout]).toEqual([0, expect.stringMatching(/^valid: file token/)]);
  });

  it('sign prints one URL (or Set-Cookie lines with --cookie) that verify accepts', async () => {
    const url = (
      await call(
        'sign',
        '/vod/a/master.m3u8',
        '--scheme',
        'bunny',
        '--secret',
        'k',
        '--ttl',
        '60',
        '--token-path',
        '/vod/a/',
      )
    ).stdout.trim();
    expect(url).toMatch(
      /^\/vod\/a\/master\.m3u8\?token=HS256-[A-Za-z0-9_-]{43}&token_path=%2Fvod%2Fa%2F&expires=\d+$/,
    );
    expect(
      run('verify', url.replace('master.m3u8', 'x/1.ts'), '--scheme', 'bunny', '--secret', 'k').status,
    ).toBe(0);
    const cookie = run(
      'sign',
      'https://h.example/vod/a/m.m3u8',
      '--scheme',
      'akamai',
      '--secret',
      'abcd',
      '--ttl',
      '60',
      '--dir',
      '--cookie',
    );
    expect(cookie.stdout).toMatch(
      /^__token__=exp=\d+~acl=\/vod\/a\/\*~hmac=[0-9a-f]{64}; Path=\/vod\/a\/; .*HttpOnly; Secure; SameSite=None\n$/,
    );
    const jwt = run(
      'sign',
      '/vod/a.ts',
      '--scheme',
      'jwt',
      '--private-key-file',
      new URL('jwt-rsa-1.private.pem', keys).pathname,
      '--ttl',
      '60',
    );
    expect(jwt.status).toBe(0);
    const token = jwt.stdout.trim();
    expect(
      run('verify', token, '--scheme', 'jwt', '--jwks-file', new URL('jwt.jwks.json', keys).pathname).status,
    ).toBe(0);
  });

  it('--help lists every scheme and its flags', async () => {
    const sign = (await call('sign', '--help')).stdout;
    for (const scheme of ['keycdn', 'gcore', 'ectoken', 'akamai', 'cloudfront', 'bunny', 'jwt'])
      expect(sign).toContain(scheme);
    for (const flag of [
      '--acl',
      '--private-key-file',
      '--key-pair-id',
      '--policy-resource',
      '--token-path',
      '--claims',
      '--cookie',
    ]) {
      expect(sign).toContain(flag);
    }
    const verify = (await call('verify', '--help')).stdout;
    for (const flag of [
      '--public-key-file',
      '--jwks-file',
      '--escape-early',
      '--salt',
      '--cookie',
      '--country',
    ])
      expect(verify).toContain(flag);
  });
});
