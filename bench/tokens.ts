import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { signUrl, verifyRequest } from '../src/index.js';
import { SCHEME_NAMES, SCHEMES } from '../src/tokens/registry.js';
import { rate, table } from './measure.js';

/** The same URL with one character of its token changed (its last hex or base64url one): what a forger sends. */
function forge(url: string, param: string): string {
  const match = new RegExp(`[?&]${param}=([^&]*)`).exec(url);
  if (match === null) return url;
  const value = match[1]!;
  const at = value.length - 1;
  const changed = value.slice(0, at) + (value[at] === 'a' ? 'b' : 'a');
  const start = match.index + match[0].length - value.length;
  return url.slice(0, start) + changed + url.slice(start + value.length);
}

/**
 * Sign and verify throughput per scheme, against a bare MD5 of the same string length as the baseline.
 * ectoken is AES-256-GCM over an `ec_*` query string (one decryption per verify, a random IV per sign).
 */
const keys = new URL('../test/vectors/keys/', import.meta.url);
const pem = (name: string): string => readFileSync(new URL(name, keys), 'utf8');

/**
 * What each scheme signs and verifies with: one alphanumeric key for the MD5 schemes, ectoken (Azure's
 * rule for its keys), Bunny and JWT HS256; a hex key for Akamai; the test key pair for CloudFront
 * (RSA-SHA1: signing is a private-key operation, verifying a public-key one).
 */
function schemeKeys(scheme: string): { sign: Record<string, unknown>; verify: Record<string, unknown> } {
  switch (scheme) {
    case 'akamai':
      return {
        sign: { secret: 'aabbccddeeff00112233445566778899' },
        verify: { secret: 'aabbccddeeff00112233445566778899' },
      };
    case 'cloudfront':
      return {
        sign: { privateKey: pem('cloudfront-a.private.pem'), keyPairId: 'KA1B2C3D4E5F6' },
        verify: { keyPairs: [{ id: 'KA1B2C3D4E5F6', publicKey: pem('cloudfront-a.public.pem') }] },
      };
    default:
      return { sign: { secret: 'secretkey1' }, verify: { secret: 'secretkey1' } };
  }
}

export function runTokenBench(): string {
  const now = 1_700_000_000;
  const path = '/live/133529_2/chunklist.m3u8';
  const baseline = rate('bare md5 (baseline)', (i) =>
    hash('md5', `${now + i}${path}203.0.113.7 secretkey1`, 'base64url'),
  );
  const rows: Array<Record<string, string | number>> = [
    { operation: baseline.name, 'ops/s': baseline.opsPerSecond, 'ns/op': baseline.nsPerOp, 'vs baseline': 1 },
  ];
  for (const scheme of SCHEME_NAMES) {
    const ip = scheme === 'gcore' ? '203.0.113.7' : undefined;
    const { sign: signKeys, verify: verifyKeys } = schemeKeys(scheme);
    const signOptions = (expires: number) =>
      ({ scheme, ...signKeys, expires, ...(ip === undefined ? {} : { ip }) }) as Parameters<
        typeof signUrl
      >[1];
    const verifyOptions = { scheme, ...verifyKeys, now, bindIp: ip !== undefined } as Parameters<
      typeof verifyRequest
    >[1];
    // CloudFront signs whole URLs (its policy names the scheme and host).
    const target = scheme === 'cloudfront' ? `https://cdn.example.com${path}` : path;
    const signed = signUrl(target, signOptions(now + 60));
    const sign = rate(`${scheme} signUrl`, (i) => signUrl(target, signOptions(now + 60 + (i & 1023))));
    const verify = rate(`${scheme} verifyRequest (valid)`, () =>
      verifyRequest({ url: signed, ip }, verifyOptions),
    );
    if (!verifyRequest({ url: signed, ip }, verifyOptions).ok)
      throw new Error(`${scheme}: own token refused`);
    const forged = forge(signed, SCHEMES[scheme].params.token);
    if (forged === signed) throw new Error(`could not forge a ${scheme} URL: ${signed}`);
    const deny = rate(`${scheme} verifyRequest (forged)`, () =>
      verifyRequest({ url: forged, ip }, verifyOptions),
    );
    for (const r of [sign, verify, deny]) {
      rows.push({
        operation: r.name,
        'ops/s': r.opsPerSecond,
        'ns/op': r.nsPerOp,
        'vs baseline': r.opsPerSecond / baseline.opsPerSecond,
      });
    }
  }
  return table(rows);
}
