import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkRequest } from '../../src/tokens/check.js';
import { createEctokenScheme, decryptEctoken, encryptEctoken } from '../../src/tokens/ectoken.js';

interface Source {
  repo: string;
  path: string;
  commit: string;
}
interface Vector {
  source: Source;
  key: string;
  token: string;
  plaintext: string;
  note?: string;
}
interface Layout {
  source: Source;
  token: string;
  iv: string;
  ciphertext: string;
  tag: string;
}
const vectors = JSON.parse(readFileSync(new URL('../vectors/ectoken.json', import.meta.url), 'utf8')) as {
  v3: Vector[];
  v2: Vector[];
  notV3: Vector[];
  layout: Layout[];
};

/*
 * The v3 format written out again from its description (test/vectors/README.md, Edgio/ectoken): the AES
 * key is SHA-256 of the key text, AES-256-GCM with a 12-byte IV and a 16-byte tag and no additional
 * data, token = base64url without padding of IV ‖ ciphertext ‖ tag. Only node:crypto, nothing of src/.
 */
const IV = 12;
const TAG = 16;

function referenceKey(keyText: string): Buffer {
  return createHash('sha256').update(Buffer.from(keyText, 'utf8')).digest();
}

function referenceEncrypt(plaintext: string | Buffer, keyText: string, iv: Buffer = randomBytes(IV)): string {
  const cipher = createCipheriv('aes-256-gcm', referenceKey(keyText), iv, { authTagLength: TAG });
  const body = Buffer.concat([
    cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext),
    cipher.final(),
  ]);
  return Buffer.concat([iv, body, cipher.getAuthTag()])
    .toString('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

function referenceSplit(token: string): { iv: Buffer; ciphertext: Buffer; tag: Buffer } {
  const bytes = Buffer.from(token.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return {
    iv: bytes.subarray(0, IV),
    ciphertext: bytes.subarray(IV, bytes.length - TAG),
    tag: bytes.subarray(bytes.length - TAG),
  };
}

function referenceDecrypt(token: string, keyText: string): string | undefined {
  const { iv, ciphertext, tag } = referenceSplit(token);
  const decipher = createDecipheriv('aes-256-gcm', referenceKey(keyText), iv, { authTagLength: TAG });
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

function toStandardBase64(token: string): string {
  return token.replace(/-/g, '+').replace(/_/g, '/');
}

function padded(token: string): string {
  return token + '='.repeat((4 - (token.length % 4)) % 4);
}

/** Flips one bit of the decoded token and writes it back in base64url, so every byte stays canonical. */
function flipBit(token: string, byteIndex: number, bit = 0): string {
  const bytes = Buffer.from(token, 'base64url');
  const at = byteIndex < 0 ? bytes.length + byteIndex : byteIndex;
  bytes[at] = (bytes[at] ?? 0) ^ (1 << bit);
  return bytes.toString('base64url');
}

const sourceName = (v: { source: Source }): string => `${v.source.repo} ${v.source.path}`;

describe('published vectors (Edgio/ectoken and its ports) decrypt to their parameters', () => {
  it('the file holds the vectors the brief names, and more', () => {
    expect(vectors.v3.length).toBeGreaterThanOrEqual(9);
    const tokens = vectors.v3.map((v) => v.token);
    expect(tokens).toContain('fVSYBBTynMkvQECGV-Kdfp333R-MGY2fsrrpVyuqd7OiuAUsQ8ITrL0');
    expect(tokens).toContain('26oBaqCbdLyJD5RjsHBYGsIDQGOehPo2rZfGwGey-ubhciakzPwRIdQ');
    expect(vectors.v2.length).toBe(1);
  });

  it.each(vectors.v3.map((v) => [`${sourceName(v)}: ${v.token.slice(0, 12)}…`, v] as const))(
    '%s opens with decryptEctoken',
    (_name, v) => {
      const result = decryptEctoken(v.token, [v.key]);
      expect(result).toEqual({ ok: true, plaintext: v.plaintext, keyIndex: 0 });
    },
  );

  it.each(vectors.v3.map((v) => [`${sourceName(v)}: ${v.token.slice(0, 12)}…`, v] as const))(
    '%s opens with the reference decryptor written in this test (the oracle agrees with the vendor)',
    (_name, v) => {
      expect(referenceDecrypt(v.token, v.key)).toBe(v.plaintext);
    },
  );

  it.each(vectors.v3.map((v) => [`${sourceName(v)}: ${v.token.slice(0, 12)}…`, v] as const))(
    '%s is refused under another key',
    (_name, v) => {
      expect(decryptEctoken(v.token, [`${v.key}x`])).toMatchObject({ ok: false, reason: 'invalid' });
    },
  );

  it.each(vectors.layout.map((v) => [sourceName(v), v] as const))(
    '%s: IV is the first 12 bytes, the tag the last 16, the ciphertext between (and it is not authentic)',
    (_name, v) => {
      const split = referenceSplit(v.token);
      expect(split.iv.toString('latin1')).toBe(v.iv);
      expect(split.ciphertext.toString('latin1')).toBe(v.ciphertext);
      expect(split.tag.toString('latin1')).toBe(v.tag);
      expect(decryptEctoken(v.token, ['beef', 'MY_SECRET_KEY'])).toMatchObject({
        ok: false,
        reason: 'invalid',
      });
    },
  );

  it.each(vectors.notV3.map((v) => [sourceName(v), v] as const))(
    '%s: a token of the older Java tool is not v3 and is refused as invalid',
    (_name, v) => {
      expect(referenceDecrypt(v.token, v.key)).toBeUndefined();
      expect(decryptEctoken(v.token, [v.key])).toMatchObject({ ok: false, reason: 'invalid' });
    },
  );

  it('Edgio/js-ectoken test/test.js: its ec_expire/ec_clientip token is checked end to end by checkRequest', () => {
    const v = vectors.v3.find((x) => x.source.repo === 'Edgio/js-ectoken');
    expect(v?.plaintext).toBe('ec_expire=12345678&ec_clientip=1.2.3.4');
    const check = (now: number, clientIp: string) =>
      checkRequest(`/any/file.ts?token=${v?.token}`, {
        scheme: createEctokenScheme(),
        keys: [v?.key ?? ''],
        now,
        clientIp,
      }).verdict;
    expect(check(12_345_677, '1.2.3.4')).toMatchObject({ ok: true, status: 200, expires: 12_345_678 });
    expect(check(12_345_677, '::ffff:1.2.3.4')).toMatchObject({ ok: true, status: 200 });
    expect(check(12_345_677, '1.2.3.5')).toMatchObject({ ok: false, status: 403, reason: 'rule' });
    expect(check(12_345_678, '1.2.3.4')).toMatchObject({ ok: false, status: 410, reason: 'expired' });
  });
});

describe('v2 tokens (Blowfish, hex) are refused with their own reason', () => {
  it.each(vectors.v2.map((v) => [sourceName(v), v] as const))('%s → unsupported', (_name, v) => {
    expect(decryptEctoken(v.token, [v.key])).toMatchObject({ ok: false, reason: 'unsupported' });
  });

  it.each(vectors.v2.map((v) => [sourceName(v), v] as const))(
    '%s through checkRequest, as the token parameter and as the bare query → 403 unsupported',
    (_name, v) => {
      for (const target of [`/v/a.ts?token=${v.token}`, `/v/a.ts?${v.token}`]) {
        const { verdict } = checkRequest(target, { scheme: createEctokenScheme(), keys: [v.key], now: 0 });
        expect(verdict).toMatchObject({ ok: false, status: 403, reason: 'unsupported' });
      }
    },
  );
});

const KEY = 'k8Hq2LmZ0pRt5vWx';
const BACKUP = 'Backup9Key7Text3';

describe('tokens we produce open with the reference decryptor, and the reverse', () => {
  const keyText = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9]{1,250}$/),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 64 }),
  );
  // 356 bytes of plaintext make a 512-character token, the longest accepted.
  const plaintext = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 120 })
    .filter((text) => Buffer.byteLength(text, 'utf8') <= 356);

  it('encryptEctoken output opens with the reference decryptor (300 random keys and plaintexts)', () => {
    fc.assert(
      fc.property(keyText, plaintext, (key, text) => {
        const token = encryptEctoken(text, key);
        expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(token.length).toBe(Math.ceil(((Buffer.byteLength(text, 'utf8') + IV + TAG) * 4) / 3));
        expect(referenceDecrypt(token, key)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('reference-encrypted tokens open with decryptEctoken (300 random keys and plaintexts)', () => {
    fc.assert(
      fc.property(keyText, plaintext, (key, text) => {
        expect(decryptEctoken(referenceEncrypt(text, key), [key])).toEqual({
          ok: true,
          plaintext: text,
          keyIndex: 0,
        });
      }),
      { numRuns: 300 },
    );
  });

  it('with a fixed IV, encryptEctoken is byte for byte the reference encryptor', () => {
    fc.assert(
      fc.property(
        keyText,
        plaintext,
        fc.uint8Array({ minLength: IV, maxLength: IV }),
        (key, text, ivBytes) => {
          const iv = Buffer.from(ivBytes);
          const ours = encryptEctoken(text, key, iv);
          expect(ours).toBe(referenceEncrypt(text, key, iv));
          expect(encryptEctoken(text, key, iv)).toBe(ours);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a zero IV gives the same token every time, and the IV is its first 16 characters', () => {
    const iv = Buffer.alloc(IV);
    const token = encryptEctoken('ec_expire=1700000000', KEY, iv);
    expect(encryptEctoken('ec_expire=1700000000', KEY, iv)).toBe(token);
    expect(token.startsWith('AAAAAAAAAAAAAAAA')).toBe(true);
    expect(referenceDecrypt(token, KEY)).toBe('ec_expire=1700000000');
  });

  it('without an IV, two tokens for the same plaintext differ (a random IV per token)', () => {
    expect(encryptEctoken('ec_expire=1700000000', KEY)).not.toBe(encryptEctoken('ec_expire=1700000000', KEY));
  });

  it('createEctokenScheme().sign writes ec_expire, ec_url_allow and ec_clientip in EC-JS order', () => {
    const token = createEctokenScheme().sign(
      { path: '/live/index.m3u8', expires: 1_700_003_600, ip: '203.0.113.7' },
      KEY,
    );
    expect(referenceDecrypt(token, KEY)).toBe(
      'ec_expire=1700003600&ec_url_allow=/live/index.m3u8&ec_clientip=203.0.113.7',
    );
  });

  it('createEctokenScheme().sign carries rules: known ones in EC-JS order, unknown ones after them', () => {
    const token = createEctokenScheme().sign(
      {
        path: '/vod/a/',
        expires: 1_700_003_600,
        rules: [
          ['r', 'x7Yq'],
          ['ec_proto_allow', 'https'],
          ['ec_country_allow', 'US,FR'],
          ['ec_ref_allow', '*.example.com,missing'],
        ],
      },
      KEY,
    );
    expect(referenceDecrypt(token, KEY)).toBe(
      'ec_expire=1700003600&ec_country_allow=US,FR&ec_url_allow=/vod/a/&ec_ref_allow=*.example.com,missing' +
        '&ec_proto_allow=https&r=x7Yq',
    );
  });

  it('an explicit ec_url_allow rule replaces the signed path', () => {
    const token = createEctokenScheme().sign(
      { path: '/vod/a/index.m3u8', expires: 1_700_003_600, rules: [['ec_url_allow', '/vod/']] },
      KEY,
    );
    expect(referenceDecrypt(token, KEY)).toBe('ec_expire=1700003600&ec_url_allow=/vod/');
  });
});

describe('token text: both base64 alphabets and padding, the 512-character limit', () => {
  const published = vectors.v3[0]!;

  it('the published token has characters that differ between the alphabets (the test means something)', () => {
    expect(published.token).toMatch(/[-_]/);
    expect(published.token.length % 4).not.toBe(0);
  });

  it('standard base64 (+ and /) is accepted', () => {
    expect(decryptEctoken(toStandardBase64(published.token), [published.key])).toMatchObject({
      ok: true,
      plaintext: published.plaintext,
    });
  });

  it('padded base64url and padded standard base64 are accepted', () => {
    for (const text of [padded(published.token), padded(toStandardBase64(published.token))]) {
      expect(text.endsWith('=')).toBe(true);
      expect(decryptEctoken(text, [published.key])).toMatchObject({
        ok: true,
        plaintext: published.plaintext,
      });
    }
  });

  it('through checkRequest: standard and padded forms, raw or percent-encoded, as parameter or bare query', () => {
    const std = padded(toStandardBase64(published.token));
    const targets = [
      `/v/a.ts?token=${std}`,
      `/v/a.ts?token=${encodeURIComponent(std)}`,
      `/v/a.ts?token=${padded(published.token)}`,
      `/v/a.ts?${std}`,
      `/v/a.ts?${padded(published.token)}`,
    ];
    for (const target of targets) {
      const { verdict } = checkRequest(target, {
        scheme: createEctokenScheme(),
        keys: [published.key],
        now: 0,
      });
      expect(verdict, target).toMatchObject({ ok: true, status: 200 });
    }
  });

  it('a 512-character token is accepted; 514 characters are refused as malformed', () => {
    const exactly = referenceEncrypt(`ec_expire=1800000000&r=${'a'.repeat(356 - 23)}`, KEY);
    expect(exactly.length).toBe(512);
    expect(decryptEctoken(exactly, [KEY])).toMatchObject({ ok: true });
    const over = referenceEncrypt(`ec_expire=1800000000&r=${'a'.repeat(357 - 23)}`, KEY);
    expect(over.length).toBe(514);
    expect(referenceDecrypt(over, KEY)).toBeDefined();
    expect(decryptEctoken(over, [KEY])).toMatchObject({ ok: false, reason: 'malformed' });
    const { verdict } = checkRequest(`/v/a.ts?token=${over}`, {
      scheme: createEctokenScheme(),
      keys: [KEY],
      now: 0,
    });
    expect(verdict).toMatchObject({ ok: false, status: 403, reason: 'malformed' });
  });

  it('a token with no plaintext (38 characters, as the C reference refuses) is malformed', () => {
    const empty = referenceEncrypt('', KEY);
    expect(empty.length).toBe(38);
    expect(decryptEctoken(empty, [KEY])).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('characters outside both alphabets are malformed', () => {
    const token = referenceEncrypt('ec_expire=1800000000', KEY);
    for (const bad of [
      `${token.slice(0, 10)}.${token.slice(11)}`,
      `${token.slice(0, 10)}%${token.slice(11)}`,
    ]) {
      expect(decryptEctoken(bad, [KEY])).toMatchObject({ ok: false, reason: 'malformed' });
    }
  });

  it('an authentic token whose plaintext is not UTF-8 is malformed', () => {
    const token = referenceEncrypt(Buffer.from([0x65, 0x63, 0xff, 0xfe]), KEY);
    expect(decryptEctoken(token, [KEY])).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

describe('GCM authenticates IV, ciphertext and tag: any change is refused', () => {
  const plaintext = 'ec_expire=1800000000&ec_url_allow=/v/';
  const token = referenceEncrypt(plaintext, KEY);
  const length = IV + plaintext.length + TAG;

  it('the untouched token opens (control)', () => {
    expect(decryptEctoken(token, [KEY])).toMatchObject({ ok: true, plaintext });
  });

  it.each([
    ['IV, first byte', 0],
    ['IV, last byte', IV - 1],
    ['ciphertext, first byte', IV],
    ['ciphertext, last byte', length - TAG - 1],
    ['tag, first byte', length - TAG],
    ['tag, last byte', length - 1],
  ])('one bit flipped in the %s → invalid', (_region, index) => {
    const tampered = flipBit(token, index);
    expect(tampered).not.toBe(token);
    expect(decryptEctoken(tampered, [KEY])).toMatchObject({ ok: false, reason: 'invalid' });
    const { verdict } = checkRequest(`/v/a.ts?token=${tampered}`, {
      scheme: createEctokenScheme(),
      keys: [KEY],
      now: 0,
    });
    expect(verdict).toMatchObject({ ok: false, status: 403, reason: 'invalid' });
  });

  it('any single bit flipped anywhere in random tokens → invalid (200 runs)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (text, position, bit) => {
          const original = referenceEncrypt(text, KEY);
          const bytes = IV + Buffer.byteLength(text, 'utf8') + TAG;
          expect(decryptEctoken(flipBit(original, position % bytes, bit), [KEY])).toMatchObject({
            ok: false,
            reason: 'invalid',
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a token cut short by one byte of tag → not authentic', () => {
    const bytes = Buffer.from(token, 'base64url');
    const cut = bytes.subarray(0, bytes.length - 1).toString('base64url');
    expect(decryptEctoken(cut, [KEY])).toMatchObject({ ok: false });
  });
});

describe('keys: a wrong key is refused; primary and backup both open', () => {
  const plaintext = 'ec_expire=1800000000';

  it('a wrong key → invalid', () => {
    expect(decryptEctoken(referenceEncrypt(plaintext, KEY), [BACKUP])).toMatchObject({
      ok: false,
      reason: 'invalid',
    });
  });

  it('the key text is hashed as text: a hex-looking key is not hex-decoded', () => {
    const hexKey = 'a'.repeat(64);
    const asBytes = createCipheriv('aes-256-gcm', Buffer.from(hexKey, 'hex'), Buffer.alloc(IV));
    const body = Buffer.concat([cipher(asBytes, plaintext), asBytes.getAuthTag()]);
    const hexDecoded = Buffer.concat([Buffer.alloc(IV), body]).toString('base64url');
    expect(decryptEctoken(hexDecoded, [hexKey])).toMatchObject({ ok: false, reason: 'invalid' });
    expect(decryptEctoken(referenceEncrypt(plaintext, hexKey), [hexKey])).toMatchObject({ ok: true });
  });

  it('a token from the primary key opens with [primary, backup] (key index 0)', () => {
    expect(decryptEctoken(referenceEncrypt(plaintext, KEY), [KEY, BACKUP])).toEqual({
      ok: true,
      plaintext,
      keyIndex: 0,
    });
  });

  it('a token from the backup key opens with [primary, backup] (key index 1)', () => {
    expect(decryptEctoken(referenceEncrypt(plaintext, BACKUP), [KEY, BACKUP])).toEqual({
      ok: true,
      plaintext,
      keyIndex: 1,
    });
  });

  it('through checkRequest: the backup key opens, a third key does not', () => {
    const check = (signKey: string) =>
      checkRequest(`/v/a.ts?token=${referenceEncrypt(plaintext, signKey)}`, {
        scheme: createEctokenScheme(),
        keys: [KEY, BACKUP],
        now: 1_700_000_000,
      }).verdict;
    expect(check(BACKUP)).toMatchObject({ ok: true, status: 200 });
    expect(check('SomeOtherKey1')).toMatchObject({ ok: false, status: 403, reason: 'invalid' });
  });

  it('a forged token is 403 whatever its expiry (signature first, expiry second: README "Token rules")', () => {
    const forged = referenceEncrypt('ec_expire=1000', 'SomeOtherKey1');
    const { verdict } = checkRequest(`/v/a.ts?token=${forged}`, {
      scheme: createEctokenScheme(),
      keys: [KEY],
      now: 1_700_000_000,
    });
    expect(verdict).toMatchObject({ ok: false, status: 403, reason: 'invalid' });
  });
});

function cipher(c: ReturnType<typeof createCipheriv>, text: string): Buffer {
  return Buffer.concat([c.update(text, 'utf8'), c.final()]);
}
