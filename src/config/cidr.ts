import { BlockList, isIPv4 } from 'node:net';
import { parseCidr } from '../tokens/ip.js';

export { parseCidr, type CidrResult } from '../tokens/ip.js';

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
