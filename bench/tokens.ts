import { hash } from 'node:crypto';
import { signUrl, verifyRequest } from '../src/index.js';
import { SCHEME_NAMES, SCHEMES } from '../src/tokens/registry.js';
import { rate, table } from './measure.js';

/** The same URL with one character of its token changed: what a forger sends. */
function forge(url: string, param: string): string {
  return url.replace(
    new RegExp(`([?&]${param}=[A-Za-z0-9_-]{10})(.)`),
    (_m, head: string, char: string) => `${head}${char === 'A' ? 'B' : 'A'}`,
  );
}

/**
 * Sign and verify throughput per scheme, against a bare MD5 of the same string length as the baseline.
 * ectoken is AES-256-GCM over an `ec_*` query string (one decryption per verify, a random IV per sign).
 */
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
    // One alphanumeric key for all three: Azure's rule for ectoken keys.
    const signed = signUrl(path, { scheme, secret: 'secretkey1', expires: now + 60, ip });
    const sign = rate(`${scheme} signUrl`, (i) =>
      signUrl(path, { scheme, secret: 'secretkey1', expires: now + 60 + (i & 1023), ip }),
    );
    const verify = rate(`${scheme} verifyRequest (valid)`, () =>
      verifyRequest({ url: signed, ip }, { scheme, secret: 'secretkey1', now, bindIp: ip !== undefined }),
    );
    const forged = forge(signed, SCHEMES[scheme].params.token);
    if (forged === signed) throw new Error(`could not forge a ${scheme} URL: ${signed}`);
    const deny = rate(`${scheme} verifyRequest (forged)`, () =>
      verifyRequest({ url: forged, ip }, { scheme, secret: 'secretkey1', now, bindIp: ip !== undefined }),
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
