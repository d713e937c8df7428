import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signUrl, verifyRequest, type SchemeName } from '../../src/index.js';

const NOW = 1_700_000_000;

/** The vendors' formulas written out again, independently of src/, as the oracle. */
function oracleToken(scheme: SchemeName, path: string, secret: string, expires: number, ip?: string): string {
  const text = scheme === 'keycdn' ? `${path}${secret}${expires}` : `${expires}${path}${ip ?? ''} ${secret}`;
  return createHash('md5')
    .update(text, 'utf8')
    .digest('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

const segment = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
  .filter(
    (s) =>
      !s.includes('/') &&
      s !== '.' &&
      s !== '..' &&
      ![...s].some((c) => c.charCodeAt(0) < 0x20 || c === '\u007f' || c === '\\' || c === '%' || c === '~') &&
      s.trim() === s &&
      s.length > 0,
  );
const decodedPath = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => `/${parts.join('/')}`);
const secret = fc.string({ minLength: 1, maxLength: 64 });
const expires = fc.integer({ min: NOW + 1, max: 9_999_999_999 });
const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6().filter((ip) => !ip.includes('.')); // mapped forms are folded to IPv4 by design
const ip = fc.oneof(ipv4, ipv6);

function encode(path: string): string {
  return path
    .split('/')
    .map((part) => encodeURIComponent(part))
    .join('/');
}

function tokenOf(url: string, name: string): string {
  return new URL(url, 'http://x').searchParams.get(name) ?? '';
}

function replaceChar(text: string, index: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const at = index % text.length;
  const current = text[at]!;
  const next = alphabet[(alphabet.indexOf(current) + 1 + (index % 63)) % 64]!;
  return text.slice(0, at) + next + text.slice(at + 1);
}

describe('round trip (README "Token rules"): what signUrl signs, verifyRequest accepts', () => {
  it('keycdn: arbitrary decoded paths, secrets and expiries', () => {
    fc.assert(
      fc.property(decodedPath, secret, expires, (path, key, exp) => {
        const url = signUrl(encode(path), { scheme: 'keycdn', secret: key, expires: exp });
        expect(tokenOf(url, 'token')).toBe(oracleToken('keycdn', path, key, exp));
        expect(verifyRequest(url, { scheme: 'keycdn', secret: key, now: NOW })).toMatchObject({
          ok: true,
          path,
        });
      }),
      { numRuns: 300 },
    );
  });

  it('gcore: arbitrary paths, secrets, expiries and IPv4/IPv6 bindings', () => {
    fc.assert(
      fc.property(decodedPath, secret, expires, ip, (path, key, exp, address) => {
        const url = signUrl(encode(path), { scheme: 'gcore', secret: key, expires: exp, ip: address });
        const canonical = new URL(
          `http://${address.includes(':') ? `[${address}]` : address}/`,
        ).hostname.replace(/^\[|\]$/g, '');
        expect(tokenOf(url, 'md5')).toBe(oracleToken('gcore', path, key, exp, canonical));
        expect(
          verifyRequest({ url, ip: address }, { scheme: 'gcore', secret: key, now: NOW, bindIp: true }),
        ).toMatchObject({ ok: true, path });
      }),
      { numRuns: 300 },
    );
  });
});

describe('Token rules: changing any one character is a denial', () => {
  for (const scheme of ['keycdn', 'gcore'] as const) {
    const tokenName = scheme === 'keycdn' ? 'token' : 'md5';
    const expiresName = scheme === 'keycdn' ? 'expire' : 'expires';

    it(`${scheme}: one character of the token`, () => {
      fc.assert(
        fc.property(decodedPath, secret, expires, fc.nat(), (path, key, exp, at) => {
          const url = signUrl(encode(path), { scheme, secret: key, expires: exp });
          const token = tokenOf(url, tokenName);
          const forged = url.replace(`${tokenName}=${token}`, `${tokenName}=${replaceChar(token, at)}`);
          const result = verifyRequest(forged, { scheme, secret: key, now: NOW });
          expect(result.ok).toBe(false);
          expect(result.status).toBe(403);
        }),
        { numRuns: 300 },
      );
    });

    it(`${scheme}: one character of the path`, () => {
      fc.assert(
        fc.property(decodedPath, secret, expires, fc.nat(), (path, key, exp, at) => {
          const url = signUrl(encode(path), { scheme, secret: key, expires: exp });
          const query = url.slice(url.indexOf('?'));
          const chars = [...path];
          const index = 1 + (at % (chars.length - 1));
          if (chars[index] === '/') return;
          chars[index] = chars[index] === 'a' ? 'b' : 'a';
          const result = verifyRequest(encode(chars.join('')) + query, { scheme, secret: key, now: NOW });
          expect(result).toMatchObject({ ok: false, status: 403 });
        }),
        { numRuns: 300 },
      );
    });

    it(`${scheme}: one digit of the expiry`, () => {
      fc.assert(
        fc.property(decodedPath, secret, expires, fc.nat(), (path, key, exp, at) => {
          const url = signUrl(encode(path), { scheme, secret: key, expires: exp });
          const digits = String(exp).split('');
          const index = at % digits.length;
          digits[index] = String((Number(digits[index]) + 1 + (at % 9)) % 10);
          const edited = digits.join('');
          if (edited === String(exp)) return;
          const forged = url.replace(`${expiresName}=${exp}`, `${expiresName}=${edited}`);
          expect(verifyRequest(forged, { scheme, secret: key, now: NOW })).toMatchObject({
            ok: false,
            status: 403,
          });
        }),
        { numRuns: 300 },
      );
    });
  }

  it('gcore: another client IP (v4 or v6)', () => {
    fc.assert(
      fc.property(decodedPath, secret, expires, ip, ip, (path, key, exp, signedFor, requestFrom) => {
        const url = signUrl(encode(path), { scheme: 'gcore', secret: key, expires: exp, ip: signedFor });
        const canon = (a: string) => new URL(`http://${a.includes(':') ? `[${a}]` : a}/`).hostname;
        const result = verifyRequest(
          { url, ip: requestFrom },
          { scheme: 'gcore', secret: key, now: NOW, bindIp: true },
        );
        // Two spellings of one address (2001:db8::1, 2001:DB8:0::1) are the same client.
        if (canon(signedFor) === canon(requestFrom)) expect(result.ok).toBe(true);
        else expect(result).toMatchObject({ ok: false, status: 403, reason: 'invalid' });
      }),
      { numRuns: 300 },
    );
  });
});

describe('Token rules: signature first, expiry second', () => {
  for (const scheme of ['keycdn', 'gcore'] as const) {
    it(`${scheme}: an expired token is 410 only when its signature is right`, () => {
      fc.assert(
        fc.property(decodedPath, secret, fc.integer({ min: 1, max: NOW }), fc.nat(), (path, key, exp, at) => {
          const url = signUrl(encode(path), { scheme, secret: key, expires: exp });
          expect(verifyRequest(url, { scheme, secret: key, now: NOW })).toMatchObject({
            ok: false,
            status: 410,
            reason: 'expired',
          });
          const tokenName = scheme === 'keycdn' ? 'token' : 'md5';
          const token = tokenOf(url, tokenName);
          const forgedToken = replaceChar(token, at);
          const forged = url.replace(`${tokenName}=${token}`, `${tokenName}=${forgedToken}`);
          // A last character outside A, Q, g, w is no spelling of any 16-byte digest: refused unread.
          const canonical = /[AQgw]$/.test(forgedToken);
          expect(verifyRequest(forged, { scheme, secret: key, now: NOW })).toMatchObject({
            ok: false,
            status: 403,
            reason: canonical ? 'invalid' : 'malformed',
          });
        }),
        { numRuns: 200 },
      );
    });
  }

  it('a second spelling of the same digest (last character with its 4 spare bits set) is refused', () => {
    const url = signUrl('/a.ts', { scheme: 'gcore', secret: 'secret_key', expires: NOW + 60 });
    const token = tokenOf(url, 'md5');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = token.slice(0, -1) + alphabet[alphabet.indexOf(token.slice(-1)) + 1];
    // Decoders drop the spare bits: both spellings are the same 16 bytes.
    expect(Buffer.from(twin, 'base64url').equals(Buffer.from(token, 'base64url'))).toBe(true);
    expect(verifyRequest(url, { scheme: 'gcore', secret: 'secret_key', now: NOW }).ok).toBe(true);
    expect(
      verifyRequest(url.replace(token, twin), { scheme: 'gcore', secret: 'secret_key', now: NOW }),
    ).toMatchObject({ ok: false, status: 403, reason: 'malformed' });
  });

  it('Gcore 18:40 rule: valid while now < expires, expired at expires', () => {
    const url = signUrl('/a.ts', { scheme: 'gcore', secret: 'secret_key', expires: NOW });
    expect(verifyRequest(url, { scheme: 'gcore', secret: 'secret_key', now: NOW - 1 }).ok).toBe(true);
    expect(verifyRequest(url, { scheme: 'gcore', secret: 'secret_key', now: NOW }).status).toBe(410);
  });

  it('key rotation: signed with any listed key opens, an unlisted key does not', () => {
    const url = signUrl('/a.ts', { scheme: 'keycdn', secret: 'previous-key', expires: NOW + 60 });
    expect(
      verifyRequest(url, { scheme: 'keycdn', secret: ['current-key', 'previous-key'], now: NOW }).ok,
    ).toBe(true);
    expect(verifyRequest(url, { scheme: 'keycdn', secret: ['current-key'], now: NOW }).status).toBe(403);
  });
});
