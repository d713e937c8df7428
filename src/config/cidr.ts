import { BlockList, isIPv4 } from 'node:net';
import { canonicalIp } from '../tokens/ip.js';

export type CidrResult =
  | { readonly ok: true; readonly address: string; readonly prefix: number; readonly family: 'ipv4' | 'ipv6' }
  | { readonly ok: false; readonly reason: string };

/** Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128). */
export function parseCidr(text: string): CidrResult {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const address = canonicalIp(addressText);
  if (address === undefined || addressText.trim() !== addressText) {
    return { ok: false, reason: `"${addressText}" is not an IPv4 or IPv6 address` };
  }
  const family = isIPv4(address) ? 'ipv4' : 'ipv6';
  const max = family === 'ipv4' ? 32 : 128;
  if (slash === -1) return { ok: true, address, prefix: max, family };
  const prefixText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    return { ok: false, reason: `prefix length "${prefixText}" must be a number from 0 to ${max}` };
  }
  return { ok: true, address, prefix: Number(prefixText), family };
}

/** A set of networks; addresses are compared in canonical form (IPv4-mapped IPv6 is IPv4). */
export class AddressSet {
  readonly #list = new BlockList();
  readonly size: number;

  constructor(cidrs: readonly string[]) {
    let size = 0;
    for (const cidr of cidrs) {
      const parsed = parseCidr(cidr);
      if (!parsed.ok) throw new TypeError(`bad network ${cidr}: ${parsed.reason}`);
      this.#list.addSubnet(parsed.address, parsed.prefix, parsed.family);
      size += 1;
    }
    this.size = size;
  }

  /** `address` must already be canonical (see canonicalIp). */
  has(address: string): boolean {
    if (this.size === 0) return false;
    return this.#list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  }
}
