import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { signUrl, verifyRequest, type SchemeName } from '../../src/index.js';
import { SCHEMES } from '../../src/tokens/registry.js';

interface Vector {
  scheme: SchemeName;
  source: string;
  secret: string;
  path: string;
  expires: number;
  ip?: string | null;
  scope?: 'directory';
  string_to_sign: string;
  token: string;
  url?: string;
  also_valid_for?: string[];
  not_valid_for?: string[];
}

const { vectors } = JSON.parse(
  readFileSync(new URL('../vectors/seed-vectors.json', import.meta.url), 'utf8'),
) as {
  vectors: Vector[];
};
const cli = new URL('../../bin/streamgate.js', import.meta.url).pathname;
const NOW = 1_000_000_000; // before every vector's expiry

function expectedUrl(v: Vector): string {
  const { token, expires } = SCHEMES[v.scheme].params;
  return v.url ?? `${v.path}?${token}=${v.token}&${expires}=${v.expires}`;
}

describe('README "Token rules": every seed vector is reproduced byte for byte', () => {
  it('has vectors for both schemes', () => {
    expect(vectors.filter((v) => v.scheme === 'keycdn').length).toBeGreaterThan(3);
    expect(vectors.filter((v) => v.scheme === 'gcore').length).toBeGreaterThan(3);
  });

  for (const [index, v] of vectors.entries()) {
    const label = `#${index} ${v.scheme} ${v.path}${v.ip ? ` ip ${v.ip}` : ''}${v.scope ? ' (directory)' : ''}`;
    const dir = v.scope === 'directory';
    // The directory vector's URL names a file in the signed directory.
    const urlPath = dir ? (v.url ?? '').split('?')[0]! : v.path;

    it(`${label}: the string to sign is the vendor's`, () => {
      const signed = dir ? v.path : urlPath;
      expect(
        SCHEMES[v.scheme].stringToSign({ path: signed, expires: v.expires, ip: v.ip ?? undefined }, v.secret),
      ).toBe(v.string_to_sign);
    });

    it(`${label}: signUrl reproduces the token`, () => {
      const url = signUrl(urlPath, {
        scheme: v.scheme,
        secret: v.secret,
        expires: v.expires,
        ip: v.ip ?? undefined,
        dir,
      });
      expect(url).toBe(expectedUrl(v));
    });

    it(`${label}: streamgate sign reproduces it and verify accepts it`, () => {
      const args = [
        'sign',
        urlPath,
        '--scheme',
        v.scheme,
        '--secret',
        v.secret,
        '--expires',
        String(v.expires),
      ];
      if (v.ip) args.push('--ip', v.ip);
      if (dir) args.push('--dir');
      expect(execFileSync('node', [cli, ...args], { encoding: 'utf8' })).toBe(`${expectedUrl(v)}\n`);

      const verifyArgs = ['verify', expectedUrl(v), '--scheme', v.scheme, '--secret', v.secret];
      verifyArgs.push('--now', String(NOW), '--json');
      if (v.ip) verifyArgs.push('--ip', v.ip);
      const out = JSON.parse(execFileSync('node', [cli, ...verifyArgs], { encoding: 'utf8' })) as {
        verdict: string;
        status: number;
      };
      expect(out).toMatchObject({ verdict: 'valid', status: 200 });
    });

    it(`${label}: verifyRequest accepts it, and rejects it with another secret`, () => {
      const options = { scheme: v.scheme, now: NOW, bindIp: Boolean(v.ip) } as const;
      const request = { url: expectedUrl(v), ip: v.ip ?? '192.0.2.1' };
      expect(verifyRequest(request, { ...options, secret: v.secret })).toMatchObject({
        ok: true,
        status: 200,
      });
      expect(verifyRequest(request, { ...options, secret: `${v.secret}x` })).toMatchObject({
        ok: false,
        status: 403,
        reason: 'invalid',
      });
    });

    for (const other of v.also_valid_for ?? []) {
      it(`${label}: the directory token also opens ${other}`, () => {
        const url = `${other}?md5=${v.token}&expires=${v.expires}`;
        expect(verifyRequest(url, { scheme: v.scheme, secret: v.secret, now: NOW })).toMatchObject({
          ok: true,
          result: { scope: 'directory', signedPath: v.path },
        });
        const out = execFileSync(
          'node',
          [cli, 'verify', url, '--scheme', v.scheme, '--secret', v.secret, '--now', String(NOW)],
          {
            encoding: 'utf8',
          },
        );
        expect(out).toMatch(/^valid: directory token/);
      });
    }
    for (const other of v.not_valid_for ?? []) {
      it(`${label}: the directory token does not open ${other}`, () => {
        const url = `${other}?md5=${v.token}&expires=${v.expires}`;
        expect(verifyRequest(url, { scheme: v.scheme, secret: v.secret, now: NOW })).toMatchObject({
          ok: false,
          status: 403,
          reason: 'invalid',
        });
        let status = 0;
        try {
          execFileSync('node', [
            cli,
            'verify',
            url,
            '--scheme',
            v.scheme,
            '--secret',
            v.secret,
            '--now',
            String(NOW),
          ]);
        } catch (error) {
          status = (error as { status: number }).status;
        }
        expect(status).toBe(1);
      });
    }
  }
});
