import type { IncomingMessage } from 'node:http';
import type { AddressSet } from '../config/index.js';
import { canonicalIp } from '../tokens/ip.js';

// RFC 9110 §7.2 / RFC 3986 §3.2.2: reg-name or IPv4, or an IPv6 literal in brackets, optional port.
// Deliberately narrower than the RFC (no userinfo, no percent escapes, no sub-delims): the host is
// used to route and to build the public URL of rewritten manifests, nothing odd gets that far.
const HOST =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?$/i;

export interface ParsedHost {
  /** Lower case, without port and without a trailing dot. */
  readonly hostname: string;
  /** As sent, lower case: `host[:port]`. */
  readonly authority: string;
}

/**
 * The request's Host, when it is one plain `host[:port]` (RFC 9112 §3.2: exactly one Host field).
 * Node keeps only the first of repeated Host fields, so the raw header list is counted.
 */
export function requestHost(req: IncomingMessage): ParsedHost | undefined {
  const value = req.headers.host;
  if (value === undefined) return undefined;
  const raw = req.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name !== undefined && name.length === 4 && name.toLowerCase() === 'host') seen += 1;
  }
  if (seen !== 1) return undefined;
  return parseHost(value);
}

/** One plain `host[:port]` value (a Host or X-Forwarded-Host field), or undefined. */
export function parseHost(value: string | undefined): ParsedHost | undefined {
  if (value === undefined || value.length > 260 || !HOST.test(value)) return undefined;
  const authority = value.toLowerCase();
  let hostname: string;
  if (authority.startsWith('[')) hostname = authority.slice(0, authority.indexOf(']') + 1);
  else {
    const colon = authority.indexOf(':');
    hostname = colon === -1 ? authority : authority.slice(0, colon);
  }
  if (hostname.endsWith('.')) hostname = hostname.slice(0, -1);
  return { hostname, authority };
}

export interface ClientAddress {
  /** Canonical address of the viewer (see canonicalIp); undefined if none could be read. */
  readonly ip: string | undefined;
  /** Canonical address of the socket peer (the viewer, or the proxy in front). */
  readonly peer: string | undefined;
  /** The immediate peer is a trusted proxy. */
  readonly viaTrustedProxy: boolean;
}

/**
 * The viewer's address: the socket peer, or — when the peer is a trusted proxy — the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy (entries to its left are client-supplied
 * and could be anything).
 */
export function clientAddress(req: IncomingMessage, trusted: AddressSet): ClientAddress {
  const peer = req.socket.remoteAddress === undefined ? undefined : canonicalIp(req.socket.remoteAddress);
  if (peer === undefined || trusted.size === 0 || !trusted.has(peer)) {
    return { ip: peer, peer, viaTrustedProxy: false };
  }
  const header = req.headers['x-forwarded-for'];
  if (header === undefined || header === '') return { ip: peer, peer, viaTrustedProxy: true };
  const hops = (Array.isArray(header) ? header.join(',') : header).split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i -= 1) {
    const hop = canonicalIp(hops[i] ?? '');
    // A malformed entry ends the chain: what lies left of it cannot be attributed.
    if (hop === undefined) break;
    client = hop;
    if (!trusted.has(hop)) break;
  }
  return { ip: client, peer, viaTrustedProxy: true };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// Start time and process id: workers of one cluster, started in the same millisecond, still differ.
const BOOT = Date.now().toString(36) + process.pid.toString(36);
let sequence = 0;

/** A caller's X-Request-Id when it is plain, otherwise a new one unique to this process. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && REQUEST_ID.test(given)) return given;
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return `${BOOT}-${sequence.toString(36)}`;
}
