import fc from 'fast-check';
import { Reader, type CountryResponse } from 'maxmind';
import { describe, expect, it } from 'vitest';
import { writeCountryMmdb } from '../helpers/mmdb.js';

function reader(...args: Parameters<typeof writeCountryMmdb>): Reader<CountryResponse> {
  return new Reader<CountryResponse>(writeCountryMmdb(...args));
}

function countryOf(db: Reader<CountryResponse>, ip: string): string | null {
  const found = db.get(ip);
  return found === null ? null : (found.country?.iso_code ?? 'record without country');
}

describe('MaxMind DB writer (MaxMind DB File Format Specification 2.0)', () => {
  it('lays out search tree, 16-byte separator, data section and metadata marker as the spec describes', () => {
    const bytes = writeCountryMmdb([{ cidr: '128.0.0.0/1', country: 'FR' }], { ipVersion: 4 });
    const expected = Buffer.concat([
      // One node (the root): left record = node_count (1) = no data; right = 1 + 16 + data offset 0.
      Buffer.from([0x00, 0x00, 0x01, 0x00, 0x00, 0x11]),
      Buffer.alloc(16),
      // map(1) "country" → map(1) "iso_code" → "FR"
      Buffer.from([0xe1, 0x47]),
      Buffer.from('country'),
      Buffer.from([0xe1, 0x48]),
      Buffer.from('iso_code'),
      Buffer.from([0x42]),
      Buffer.from('FR'),
      Buffer.from([0xab, 0xcd, 0xef]),
      Buffer.from('MaxMind.com'),
    ]);
    expect(bytes.subarray(0, expected.length).equals(expected)).toBe(true);
    expect(countryOf(new Reader(bytes), '200.1.2.3')).toBe('FR');
    expect(countryOf(new Reader(bytes), '127.255.255.255')).toBeNull();
  });

  it('IPv4 addresses in an IPv6 tree: an IPv4 lookup finds IPv4 entries stored under ::/96', () => {
    const db = reader([{ cidr: '81.2.69.0/24', country: 'FR' }]);
    expect(countryOf(db, '81.2.69.160')).toBe('FR');
    expect(countryOf(db, '81.2.69.0')).toBe('FR');
    expect(countryOf(db, '81.2.69.255')).toBe('FR');
    expect(countryOf(db, '81.2.70.0')).toBeNull();
    expect(countryOf(db, '81.2.68.255')).toBeNull();
    // The same addresses written as IPv4-compatible IPv6 (::a.b.c.d) are the very same tree path.
    expect(countryOf(db, '::81.2.69.160')).toBe('FR');
  });

  it('IPv6 entries are found by IPv6 lookups, up to the last address of the prefix', () => {
    const db = reader([
      { cidr: '2001:db8::/32', country: 'DE' },
      { cidr: '2a02:c7f:1234::/48', country: 'GB' },
    ]);
    expect(countryOf(db, '2001:db8::1')).toBe('DE');
    expect(countryOf(db, '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')).toBe('DE');
    expect(countryOf(db, '2a02:c7f:1234:5::9')).toBe('GB');
    expect(countryOf(db, '2001:db9::')).toBeNull();
    expect(countryOf(db, '2a02:c7f:1235::')).toBeNull();
  });

  it('addresses outside every entry resolve to no data (a record equal to node_count)', () => {
    const db = reader([
      { cidr: '81.2.69.0/24', country: 'FR' },
      { cidr: '2001:db8::/32', country: 'DE' },
    ]);
    for (const ip of ['8.8.8.8', '0.0.0.0', '255.255.255.255', '::1', '2001:4860::8888', 'ffff::']) {
      expect(countryOf(db, ip), ip).toBeNull();
    }
    expect(countryOf(reader([]), '81.2.69.160')).toBeNull();
    expect(countryOf(reader([]), '2001:db8::1')).toBeNull();
  });

  it('nested prefixes resolve to the most specific entry, whatever the input order', () => {
    const entries = [
      { cidr: '81.2.69.160/32', country: 'US' },
      { cidr: '81.2.69.0/24', country: 'FR' },
      { cidr: '81.2.0.0/16', country: 'GB' },
      { cidr: '2001:db8:1::/48', country: 'NL' },
      { cidr: '2001:db8::/32', country: 'DE' },
    ];
    for (const db of [reader(entries), reader([...entries].reverse())]) {
      expect(countryOf(db, '81.2.69.160')).toBe('US');
      expect(countryOf(db, '81.2.69.161')).toBe('FR');
      expect(countryOf(db, '81.2.69.1')).toBe('FR');
      expect(countryOf(db, '81.2.68.255')).toBe('GB');
      expect(countryOf(db, '81.2.255.255')).toBe('GB');
      expect(countryOf(db, '81.3.0.0')).toBeNull();
      expect(countryOf(db, '2001:db8:1:2::3')).toBe('NL');
      expect(countryOf(db, '2001:db8:2::')).toBe('DE');
    }
  });

  it('a /0 entry is the default beneath more specific entries', () => {
    const db = reader(
      [
        { cidr: '0.0.0.0/0', country: 'AQ' },
        { cidr: '10.0.0.0/8', country: 'CA' },
      ],
      { ipVersion: 4 },
    );
    expect(countryOf(db, '10.1.2.3')).toBe('CA');
    expect(countryOf(db, '192.0.2.1')).toBe('AQ');
  });

  it('metadata carries the keys the spec requires, with the values written', () => {
    const before = Math.floor(Date.now() / 1000);
    const db = reader([{ cidr: '81.2.69.0/24', country: 'FR' }]);
    const after = Math.floor(Date.now() / 1000);
    const m = db.metadata;
    expect(m.binaryFormatMajorVersion).toBe(2);
    expect(m.binaryFormatMinorVersion).toBe(0);
    expect(m.databaseType).toBe('GeoIP2-Country');
    expect(m.languages).toEqual(['en']);
    expect(m.description).toEqual({ en: 'streamgate test country database' });
    expect(m.ipVersion).toBe(6);
    expect(m.recordSize).toBe(24);
    // 96 nodes down ::/96, then 24 for the /24 inside the IPv4 subtree: one node per prefix bit.
    expect(m.nodeCount).toBe(120);
    const epoch = m.buildEpoch.getTime() / 1000;
    expect(epoch).toBeGreaterThanOrEqual(before);
    expect(epoch).toBeLessThanOrEqual(after);
  });

  it('an ipVersion 4 database answers IPv4 lookups and says ip_version 4', () => {
    const db = reader(
      [
        { cidr: '81.2.69.0/24', country: 'FR' },
        { cidr: '81.2.0.0/16', country: 'GB' },
      ],
      { ipVersion: 4 },
    );
    expect(db.metadata.ipVersion).toBe(4);
    expect(db.metadata.nodeCount).toBe(24);
    expect(countryOf(db, '81.2.69.160')).toBe('FR');
    expect(countryOf(db, '81.2.1.1')).toBe('GB');
    expect(countryOf(db, '81.3.1.1')).toBeNull();
  });

  it('IPv4-mapped ::ffff:a.b.c.d is not aliased to the IPv4 subtree (GeoIP2 databases alias it)', () => {
    const db = reader([{ cidr: '81.2.69.0/24', country: 'FR' }]);
    expect(countryOf(db, '::ffff:81.2.69.160')).toBeNull();
    // An explicit entry for the mapped range is an ordinary IPv6 entry.
    const mapped = reader([{ cidr: '::ffff:81.2.69.0/120', country: 'FR' }]);
    expect(countryOf(mapped, '::ffff:81.2.69.160')).toBe('FR');
    expect(countryOf(mapped, '81.2.69.160')).toBeNull();
  });

  it('refuses entries a test did not mean: host bits set, bad prefix, IPv6 in an IPv4 tree', () => {
    expect(() => writeCountryMmdb([{ cidr: '81.2.69.1/24', country: 'FR' }])).toThrow(/host bits/);
    expect(() => writeCountryMmdb([{ cidr: '81.2.69.0/33', country: 'FR' }])).toThrow(/prefix/);
    expect(() => writeCountryMmdb([{ cidr: '81.2.69.0', country: 'FR' }])).toThrow(/prefix/);
    expect(() => writeCountryMmdb([{ cidr: '81.2.69/24', country: 'FR' }])).toThrow(/not an IP/);
    expect(() => writeCountryMmdb([{ cidr: '2001:db8::/32', country: 'DE' }], { ipVersion: 4 })).toThrow(
      /IPv6 entry/,
    );
  });

  it('agrees with a brute-force longest-prefix match on random IPv4 prefixes', () => {
    const prefix = fc
      .record({ net: fc.nat({ max: 0xffffffff }), length: fc.integer({ min: 1, max: 32 }) })
      .map(({ net, length }) => ({ net: (net & (0xffffffff << (32 - length))) >>> 0, length }));
    const toIp = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');
    fc.assert(
      fc.property(
        fc.uniqueArray(prefix, { minLength: 1, maxLength: 30, selector: (p) => `${p.net}/${p.length}` }),
        fc.array(fc.nat({ max: 0xffffffff }), { minLength: 1, maxLength: 20 }),
        fc.constantFrom<4 | 6>(4, 6),
        (prefixes, hosts, ipVersion) => {
          const entries = prefixes.map((p, i) => ({ ...p, country: `C${i}` }));
          const db = reader(
            entries.map((e) => ({ cidr: `${toIp(e.net)}/${e.length}`, country: e.country })),
            { ipVersion },
          );
          // Probe random addresses and addresses inside every entry.
          const inside = (e: { net: number; length: number }, host: number): number =>
            e.length === 32 ? e.net : (e.net | (host >>> e.length)) >>> 0;
          const probes = [...hosts, ...entries.map((e, i) => inside(e, hosts[i % hosts.length] ?? 0))];
          for (const address of probes) {
            let best: { length: number; country: string } | null = null;
            for (const e of entries) {
              const covers = address >>> (32 - e.length) === e.net >>> (32 - e.length);
              if (covers && (best === null || e.length > best.length)) best = e;
            }
            expect(countryOf(db, toIp(address))).toBe(best?.country ?? null);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

// Behaviour of maxmind 5 (mmdb-lib) that these databases make visible and the gateway must guard against.
describe('maxmind Reader quirks', () => {
  it('reports the prefix length of an IPv4 lookup in an IPv6 tree relative to the IPv4 subtree', () => {
    const db = reader([{ cidr: '81.2.69.0/24', country: 'FR' }]);
    expect(db.getWithPrefixLength('81.2.69.160')[1]).toBe(24);
    expect(db.getWithPrefixLength('::81.2.69.160')[1]).toBe(120);
  });

  it('does not validate its input: a non-address is looked up as 0.0.0.0', () => {
    const db = reader([{ cidr: '0.0.0.0/8', country: 'ZZ' }]);
    expect(countryOf(db, 'not-an-ip')).toBe('ZZ');
    expect(countryOf(db, '')).toBe('ZZ');
  });

  it('walks an ipVersion 4 tree with the first 32 bits of an IPv6 address', () => {
    const db = reader([{ cidr: '32.1.0.0/16', country: 'US' }], { ipVersion: 4 });
    expect(countryOf(db, '2001:db8::1')).toBe('US');
  });
});
