import { hash } from 'node:crypto';
import { signUrl, verifyRequest } from '../src/index.js';
import { SCHEME_NAMES } from '../src/tokens/registry.js';
import { rate, table } from './measure.js';

/** Sign and verify throughput per scheme, against a bare MD5 of the same string length as the baseline. */
export function runTokenBench(): string {
  const now = 1_700_000_000;
  const path = '/live/133529_2/chunklist.m3u8';
  const baseline = rate('bare md5 (baseline)', (i) =>
    hash('md5', `${now + i}${path}203.0.113.7 secret_key`, 'base64url'),
  );
  const rows: Array<Record<string, string | number>> = [
    { operation: baseline.name, 'ops/s': baseline.opsPerSecond, 'ns/op': baseline.nsPerOp, 'vs baseline': 1 },
  ];
  for (const scheme of SCHEME_NAMES) {
    const ip = scheme === 'gcore' ? '203.0.113.7' : undefined;
    const signed = signUrl(path, { scheme, secret: 'secret_key', expires: now + 60, ip });
    const sign = rate(`${scheme} signUrl`, (i) =>
      signUrl(path, { scheme, secret: 'secret_key', expires: now + 60 + (i & 1023), ip }),
    );
    const verify = rate(`${scheme} verifyRequest (valid)`, () =>
      verifyRequest({ url: signed, ip }, { scheme, secret: 'secret_key', now, bindIp: ip !== undefined }),
    );
    const forged = signed.replace(/=[A-Za-z0-9_-]{22}/, '=AAAAAAAAAAAAAAAAAAAAAA');
    const deny = rate(`${scheme} verifyRequest (forged)`, () =>
      verifyRequest({ url: forged, ip }, { scheme, secret: 'secret_key', now, bindIp: ip !== undefined }),
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
