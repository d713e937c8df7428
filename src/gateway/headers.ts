import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * RFC 9110 §7.6.1: hop-by-hop fields belong to one connection and are never forwarded, in either
 * direction, and neither are the fields a Connection header names.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request headers that reach the origin by default: the ones that decide which bytes come back.
 * Cookie and Authorization do not (the token is the credential; a zone can add them with
 * `forwardHeaders`).
 */
export const FORWARDED_REQUEST_HEADERS: readonly string[] = [
  'accept',
  'accept-encoding',
  'accept-language',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'range',
  'user-agent',
];

/** Validators and ranges: meaningless for a manifest whose body the gateway rewrites. */
const CONDITIONAL_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'range',
]);

/** Response fields the gateway owns: CORS is answered by the gateway, Alt-Svc would name the origin. */
const OWNED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-expose-headers',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-max-age',
  'alt-svc',
  'x-request-id',
]);

/** Fields that describe the origin's bytes, not the rewritten manifest the gateway sends. */
const MANIFEST_REPLACED_HEADERS: ReadonlySet<string> = new Set([
  'accept-ranges',
  'age',
  'cache-control',
  'content-encoding',
  'content-length',
  'content-md5',
  'content-range',
  'content-type',
  'digest',
  'etag',
  'expires',
  'last-modified',
  'repr-digest',
  'content-digest',
]);

/** Lower-case field names listed in a Connection header (RFC 9110 §7.6.1). */
export function connectionOptions(value: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const names = text
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && name !== 'close' && name !== 'keep-alive');
  return names.length === 0 ? undefined : new Set(names);
}

export interface UpstreamHeaderOptions {
  /** Extra names from the zone's `forwardHeaders` (lower case). */
  readonly extra: readonly string[];
  /** The response will be rewritten: ask for identity encoding, drop ranges and validators. */
  readonly manifest: boolean;
  readonly forwardedFor: string | undefined;
  readonly requestId: string;
}

const DECODABLE = new Set(['gzip', 'x-gzip', 'deflate', 'br', 'identity']);
const COMMON_ACCEPT_ENCODINGS = new Set([
  'gzip, deflate, br',
  'gzip, deflate',
  'gzip,deflate',
  'gzip',
  'br',
  'identity',
]);

/** An Accept-Encoding value (RFC 9110 §12.5.3) without the codings zlib cannot undo. */
export function decodableCodings(value: string): string {
  if (COMMON_ACCEPT_ENCODINGS.has(value)) return value;
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => DECODABLE.has((item.split(';')[0] ?? '').trim().toLowerCase()))
    .join(', ');
}

function copyHeader(
  headers: Record<string, string>,
  incoming: IncomingHttpHeaders,
  name: string,
  named: ReadonlySet<string> | undefined,
  manifest: boolean,
): void {
  const value = incoming[name];
  if (value === undefined || named?.has(name)) return;
  if (manifest && CONDITIONAL_REQUEST_HEADERS.has(name)) return;
  headers[name] = Array.isArray(value) ? value.join(', ') : value;
}

export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  options: UpstreamHeaderOptions,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const named = connectionOptions(incoming.connection);
  for (const name of FORWARDED_REQUEST_HEADERS) copyHeader(headers, incoming, name, named, options.manifest);
  for (const name of options.extra) copyHeader(headers, incoming, name, named, options.manifest);
  // Manifests are rewritten as text: asking for identity spares a decompression (compressed answers
  // are still handled). Elsewhere only codings the gateway can undo are offered, because a response
  // can turn out to be a manifest by its type (a zstd playlist could not be rewritten).
  if (options.manifest) headers['accept-encoding'] = 'identity';
  else if (headers['accept-encoding'] !== undefined) {
    const offered = decodableCodings(headers['accept-encoding']);
    if (offered === '') delete headers['accept-encoding'];
    else headers['accept-encoding'] = offered;
  }
  if (options.forwardedFor !== undefined) headers['x-forwarded-for'] = options.forwardedFor;
  headers['x-request-id'] = options.requestId;
  return headers;
}

/**
 * The origin's response fields that go to the viewer: hop-by-hop ones and those named in the origin's
 * Connection header dropped, the gateway's own (CORS, request id) left to the gateway, and for a
 * rewritten manifest everything describing the origin's bytes dropped too.
 */
export function viewerResponseHeaders(
  origin: IncomingHttpHeaders,
  manifest: boolean,
  vary: string | undefined,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const named = connectionOptions(origin.connection);
  for (const name of Object.keys(origin)) {
    if (HOP_BY_HOP.has(name) || OWNED_RESPONSE_HEADERS.has(name)) continue;
    if (named?.has(name)) continue;
    if (manifest && MANIFEST_REPLACED_HEADERS.has(name)) continue;
    const value = origin[name];
    if (value !== undefined) out[name] = value;
  }
  if (vary !== undefined) {
    const existing = out.vary;
    out.vary =
      existing === undefined ? vary : `${Array.isArray(existing) ? existing.join(', ') : existing}, ${vary}`;
  }
  return out;
}
