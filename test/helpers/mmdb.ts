/**
 * A minimal MaxMind DB writer for tests: GeoIP2-Country-shaped records (`{ country: { iso_code } }`) keyed
 * by CIDR, written from the MaxMind DB File Format Specification 2.0 with 24-bit records. Node built-ins
 * only. Entries are trusted test input: a malformed CIDR is a bug in the test, so it throws.
 */
import { isIP } from 'node:net';

export interface CountryEntry {
  cidr: string;
  country: string;
}

export interface MmdbOptions {
  /** 6 (default): IPv4 entries live at ::a.b.c.d, i.e. under ::/96 ("IPv4 addresses in an IPv6 tree"). */
  ipVersion?: 4 | 6;
}

interface TreeNode {
  records: [TreeRecord, TreeRecord];
}
type TreeRecord = TreeNode | { country: string } | null;

const RECORD_BITS = 24;
// "Data Section Separator": 16 zero bytes between the search tree and the data section.
const SEPARATOR = Buffer.alloc(16);
// "Database Metadata": the last occurrence of "\xab\xcd\xefMaxMind.com" starts the metadata map.
const METADATA_MARKER = Buffer.concat([Buffer.from([0xab, 0xcd, 0xef]), Buffer.from('MaxMind.com')]);

// "Output Data Section" → "Data Field Format": a control byte holds 3 type bits and 5 size bits; sizes of
// 29 and above continue in 1 or 2 following bytes ("Payload Size"). Types above 7 are "extended": the
// type bits are 0 and the byte after the control byte holds type - 7, before any size bytes.
function field(type: number, size: number, payload: Buffer): Buffer {
  const sizeBytes: number[] = [];
  let sizeBits = size;
  if (size >= 65_821) throw new Error(`mmdb: field of ${size} bytes is too large for this writer`);
  if (size >= 285) {
    sizeBits = 30;
    sizeBytes.push((size - 285) >> 8, (size - 285) & 0xff);
  } else if (size >= 29) {
    sizeBits = 29;
    sizeBytes.push(size - 29);
  }
  const head = type <= 7 ? [(type << 5) | sizeBits] : [sizeBits, type - 7];
  return Buffer.concat([Buffer.from([...head, ...sizeBytes]), payload]);
}

// "UTF-8 string - 2": size is the byte length.
function str(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return field(2, bytes.length, bytes);
}

// "unsigned 16-bit int - 5", "unsigned 32-bit int - 6", "unsigned 64-bit int - 9": big-endian, with
// leading zero bytes dropped (size 0 means the value 0).
function uint(type: 5 | 6 | 9, value: number): Buffer {
  const bytes: number[] = [];
  for (let v = BigInt(value); v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
  return field(type, bytes.length, Buffer.from(bytes));
}

// "Map - 7": size is the number of pairs; each key is a UTF-8 string field.
function map(entries: Readonly<Record<string, Buffer>>): Buffer {
  const parts = Object.entries(entries).flatMap(([key, value]) => [str(key), value]);
  return field(7, Object.keys(entries).length, Buffer.concat(parts));
}

// "Array - 11" (extended): size is the number of elements.
function array(items: readonly Buffer[]): Buffer {
  return field(11, items.length, Buffer.concat(items));
}

function parseAddress(address: string): Uint8Array {
  const version = isIP(address);
  if (version === 4) return Uint8Array.from(address.split('.').map(Number));
  if (version !== 6 || address.includes('%')) throw new Error(`mmdb: not an IP address: ${address}`);
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [
    ...groups(head),
    ...Array<string>(tail === undefined ? 0 : missing).fill('0'),
    ...groups(tail),
  ];
  return Uint8Array.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

const bitAt = (bytes: Uint8Array, i: number): 0 | 1 => (((bytes[i >> 3] ?? 0) >> (7 - (i & 7))) & 1) as 0 | 1;

/** The network bits of `cidr` as they sit in a tree of `ipVersion`, and the prefix length in that tree. */
function networkBits(cidr: string, ipVersion: 4 | 6): { bytes: Uint8Array; length: number } {
  const [address = '', prefixText = '', extra] = cidr.split('/');
  let bytes = parseAddress(address);
  const prefix = Number(prefixText);
  if (extra !== undefined || !/^\d+$/.test(prefixText) || prefix > bytes.length * 8) {
    throw new Error(`mmdb: bad prefix length in ${cidr}`);
  }
  for (let i = prefix; i < bytes.length * 8; i++) {
    if (bitAt(bytes, i)) throw new Error(`mmdb: ${cidr} has host bits set`);
  }
  if (bytes.length === 4 && ipVersion === 6) {
    // "IPv4 addresses in an IPv6 tree": stored as-is in the first 2**32 addresses, i.e. ::a.b.c.d.
    bytes = Uint8Array.from([...new Uint8Array(12), ...bytes]);
    return { bytes, length: prefix + 96 };
  }
  if (bytes.length === 16 && ipVersion === 4) throw new Error(`mmdb: IPv6 entry ${cidr} in an IPv4 tree`);
  return { bytes, length: prefix };
}

export function writeCountryMmdb(entries: ReadonlyArray<CountryEntry>, options: MmdbOptions = {}): Buffer {
  const ipVersion = options.ipVersion ?? 6;
  const root: TreeNode = { records: [null, null] };
  const networks = entries.map((e) => ({ ...networkBits(e.cidr, ipVersion), country: e.country }));
  // Longest prefix wins: insert shorter prefixes first; a longer one splits the record it falls in,
  // both halves inheriting the shorter prefix's data, then overrides its own half.
  networks.sort((a, b) => a.length - b.length);
  for (const { bytes, length, country } of networks) {
    if (length === 0) {
      root.records = [{ country }, { country }];
      continue;
    }
    let node = root;
    for (let depth = 0; depth < length - 1; depth++) {
      const bit = bitAt(bytes, depth);
      const next = node.records[bit];
      if (next !== null && 'records' in next) {
        node = next;
      } else {
        node = node.records[bit] = { records: [next, next] };
      }
    }
    node.records[bitAt(bytes, length - 1)] = { country };
  }

  // "Binary Search Tree Section": node 0 is the root; numbering order is otherwise free (pre-order here).
  const nodes: TreeNode[] = [];
  const numbers = new Map<TreeNode, number>();
  const stack: TreeNode[] = [root];
  for (let node = stack.pop(); node; node = stack.pop()) {
    numbers.set(node, nodes.push(node) - 1);
    for (const r of [...node.records].reverse()) if (r !== null && 'records' in r) stack.push(r);
  }
  const nodeCount = nodes.length;

  // Each distinct country's record is written once; records point at its offset in the data section.
  const offsets = new Map<string, number>();
  const dataParts: Buffer[] = [];
  let dataSize = 0;
  for (const { country } of networks) {
    if (offsets.has(country)) continue;
    const record = map({ country: map({ iso_code: str(country) }) });
    offsets.set(country, dataSize);
    dataParts.push(record);
    dataSize += record.length;
  }

  // A record equal to node_count means "no data"; below it, a node number; above it, a data pointer:
  // data_section_offset = (record_value - node_count) - 16 (the separator is counted in).
  const recordValue = (r: TreeRecord): number => {
    if (r === null) return nodeCount;
    if ('records' in r) return numbers.get(r) ?? nodeCount;
    return nodeCount + 16 + (offsets.get(r.country) ?? 0);
  };
  const tree = Buffer.alloc(nodeCount * ((RECORD_BITS * 2) / 8));
  nodes.forEach((node, i) => {
    node.records.forEach((r, side) => {
      const value = recordValue(r);
      if (value >= 2 ** RECORD_BITS) throw new Error('mmdb: database too large for 24-bit records');
      tree.writeUIntBE(value, i * 6 + side * 3, 3);
    });
  });

  const metadata = map({
    node_count: uint(6, nodeCount),
    record_size: uint(5, RECORD_BITS),
    ip_version: uint(5, ipVersion),
    database_type: str('GeoIP2-Country'),
    languages: array([str('en')]),
    binary_format_major_version: uint(5, 2),
    binary_format_minor_version: uint(5, 0),
    build_epoch: uint(9, Math.floor(Date.now() / 1000)),
    description: map({ en: str('streamgate test country database') }),
  });
  return Buffer.concat([tree, SEPARATOR, ...dataParts, METADATA_MARKER, metadata]);
}
