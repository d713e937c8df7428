import { isIPv4, isIPv6 } from 'node:net';

/**
 * The one text form of an address that both the signer and the verifier hash. IPv6 is written in
 * RFC 5952 form (lower case, longest zero run compressed), so `2001:0DB8::1` signs like the
 * `2001:db8::1` that a socket reports; an IPv4-mapped IPv6 socket address (`::ffff:203.0.113.7`, what a
 * dual-stack listener reports for IPv4 clients) is the IPv4 address.
 * Returns undefined for anything that is not an IP address.
 */
export function canonicalIp(text: string): string | undefined {
  const trimmed = text.trim();
  if (isIPv4(trimmed)) return trimmed;
  const unbracketed = trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
  // A zone index (fe80::1%eth0) names an interface of this host, not a client identity.
  if (!isIPv6(unbracketed) || unbracketed.includes('%')) return undefined;
  const host = new URL(`http://[${unbracketed}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped?.[1] !== undefined && mapped[2] !== undefined) {
    const high = parseInt(mapped[1], 16);
    const low = parseInt(mapped[2], 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return host;
}

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
