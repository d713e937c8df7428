import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { countAnswer } from './access.js';
import { checkRequest } from '../tokens/check.js';
import { canonicalIp } from '../tokens/ip.js';
import type { Denial } from '../tokens/verdict.js';
import { clientAddress, parseHost, type ParsedHost } from './client.js';
import { redactTarget } from './log.js';
import { logDenial } from './proxy.js';
import type { GatewayRuntime, ZoneRuntime } from './runtime.js';
import { chooseZone, type ZoneRouter } from './zones.js';

/**
 * `/_streamgate/auth`: the token check alone, for a front proxy that moves the bytes itself and asks the
 * gateway only whether a request may pass — nginx `auth_request`, Traefik ForwardAuth, Caddy
 * `forward_auth`, Envoy's HTTP `ext_authz`. The original request comes in headers, believed only from a
 * peer in `trustedProxies`; the answer has no body:
 *
 * - 204 (200 for Envoy, whose HTTP authorization service allows only 200) — the request may pass;
 *   `X-Streamgate-Upstream` holds what the origin must be asked for (the checked path with the token
 *   removed, the other query parameters byte for byte), `X-Streamgate-Zone` the zone's name, and
 *   `X-Streamgate-Limit-Rate` the token's own speed limit in bytes per second, when it has one;
 * - 400 for an ambiguous path, 404 when no zone answers, 405 for a method other than GET, HEAD or
 *   OPTIONS, and a token denial with the zone's status (403, 410 expired, or what `denial` sets, with
 *   `Location` for a redirect); `X-Streamgate-Reason` names the reason class.
 *
 * Forward-auth proxies hand a denial to the viewer as it is. nginx passes only 401 and 403 on; the
 * configuration `streamgate nginx-config` writes reads the status and reason from these answers instead.
 */
export const AUTH_PATH = '/_streamgate/auth';

export function isAuthTarget(target: string): boolean {
  if (!target.startsWith(AUTH_PATH)) return false;
  const next = target.charCodeAt(AUTH_PATH.length);
  // End of target, `?`, or `/` (Envoy's path_prefix puts the original path after the prefix).
  return Number.isNaN(next) || next === 0x3f || next === 0x2f;
}

/** A header given exactly once (a repeated one is refused: which copy a proxy meant is unknowable). */
function single(req: IncomingMessage, name: string): string | undefined | null {
  const value = req.headers[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return null;
  // Node joins repeated fields with ", ", which a URI may hold too: count the raw list.
  let seen = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i];
    if (field !== undefined && field.length === name.length && field.toLowerCase() === name) seen += 1;
  }
  return seen === 1 ? value : null;
}

interface Original {
  readonly target: string;
  readonly method: string;
  /** Envoy: its HTTP authorization service counts only 200 as allowed. */
  readonly envoy: boolean;
}

/**
 * The original request: the target from `X-Original-URI` (nginx), `X-Forwarded-Uri` (Traefik, Caddy) or
 * the path after `/_streamgate/auth` (Envoy's `path_prefix`); the method from `X-Original-Method`,
 * `X-Forwarded-Method`, or the request's own (Envoy keeps it).
 */
function originalRequest(req: IncomingMessage, target: string): Original | string {
  const fromHeader = single(req, 'x-original-uri') ?? single(req, 'x-forwarded-uri');
  if (fromHeader === null) return 'repeated X-Original-URI or X-Forwarded-Uri';
  const suffix = target.length > AUTH_PATH.length && target[AUTH_PATH.length] === '/';
  let original: string;
  if (fromHeader !== undefined) original = fromHeader;
  else if (suffix) original = target.slice(AUTH_PATH.length);
  else return 'no X-Original-URI, X-Forwarded-Uri or path after /_streamgate/auth';
  // The same rule as the front door (RFC 9112 §3.2.1): origin form only.
  if (original.charCodeAt(0) !== 0x2f || original.charCodeAt(1) === 0x2f || original.includes('#')) {
    return 'original URI not in origin form';
  }
  const method = single(req, 'x-original-method') ?? single(req, 'x-forwarded-method');
  if (method === null) return 'repeated X-Original-Method or X-Forwarded-Method';
  return {
    target: original,
    method: (method ?? req.method ?? 'GET').toUpperCase(),
    envoy: fromHeader === undefined,
  };
}

function answer(res: ServerResponse, status: number, headers: OutgoingHttpHeaders): void {
  if (res.headersSent || res.destroyed) return;
  headers['cache-control'] = 'no-store';
  // RFC 9110 §8.6: no Content-Length in a 204.
  if (status !== 204) headers['content-length'] = '0';
  res.writeHead(status, headers);
  res.end();
}

function refuse(
  rt: GatewayRuntime,
  res: ServerResponse,
  id: string,
  zone: ZoneRuntime | undefined,
  status: number,
  reason: string,
  detail: string,
  target: string,
  extra: OutgoingHttpHeaders = {},
): void {
  const headers: OutgoingHttpHeaders = { 'x-streamgate-reason': reason, ...extra };
  if (zone !== undefined) headers['x-streamgate-zone'] = zone.config.name;
  answer(res, status, headers);
  // The access line names the auth request itself; the original target goes in the detail, redacted.
  logDenial(
    rt,
    res,
    zone?.config.name ?? '-',
    status,
    reason,
    `auth: ${detail} (${redactTarget(target.slice(0, 2048))})`,
  );
}

/** A token denial answered as the zone's `denial` settings say (status, or a redirect with Location). */
function refuseToken(
  rt: GatewayRuntime,
  res: ServerResponse,
  id: string,
  zone: ZoneRuntime,
  denial: Denial,
  target: string,
): void {
  if (denial.reason === 'path') {
    refuse(rt, res, id, zone, 400, 'path', denial.detail, target);
    return;
  }
  const { redirect, redirectOn, redirectStatus, status } = zone.config.denial;
  if (redirect !== undefined && redirectOn.includes(denial.reason)) {
    refuse(rt, res, id, zone, redirectStatus, denial.reason, denial.detail, target, { location: redirect });
    return;
  }
  refuse(rt, res, id, zone, status[denial.reason], denial.reason, denial.detail, target);
}

function headerText(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

export function answerAuth(
  rt: GatewayRuntime,
  router: ZoneRouter<ZoneRuntime>,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
): void {
  const own = req.url ?? AUTH_PATH;
  const client = clientAddress(req, rt.trusted);
  if (!client.viaTrustedProxy) {
    // Whoever is not a listed proxy could claim any URI and address; its headers are not believed.
    refuse(
      rt,
      res,
      id,
      undefined,
      403,
      'untrusted',
      `peer ${client.peer ?? '?'} is not in trustedProxies`,
      own,
    );
    return;
  }
  const original = originalRequest(req, own);
  if (typeof original === 'string') {
    refuse(rt, res, id, undefined, 400, 'target', original, own);
    return;
  }
  const target = original.target;
  if (original.method === 'OPTIONS') {
    // A CORS preflight carries no credentials (Fetch §4.8); the gateway answers it without a token too.
    answer(res, original.envoy ? 200 : 204, {});
    return;
  }
  if (original.method !== 'GET' && original.method !== 'HEAD') {
    refuse(rt, res, id, undefined, 405, 'method', `method ${original.method}`, target, {
      allow: 'GET, HEAD, OPTIONS',
    });
    return;
  }
  const forwardedHost = single(req, 'x-forwarded-host');
  const host: ParsedHost | undefined =
    forwardedHost === null ? undefined : parseHost(forwardedHost ?? req.headers.host);
  if (host === undefined) {
    refuse(
      rt,
      res,
      id,
      undefined,
      400,
      'host',
      'missing, repeated or malformed X-Forwarded-Host or Host',
      target,
    );
    return;
  }

  const zone = chooseZone(router, host.hostname, target);
  if (zone === undefined) {
    refuse(rt, res, id, undefined, 404, 'no_zone', 'no zone for this host and path', target);
    return;
  }
  if ('ok' in zone) {
    refuse(rt, res, id, undefined, 400, 'path', zone.detail, target);
    return;
  }
  // Without X-Forwarded-For, a proxy's X-Real-IP names the viewer (nginx's usual header).
  const realIp = req.headers['x-forwarded-for'] === undefined ? single(req, 'x-real-ip') : undefined;
  const clientIp = typeof realIp === 'string' ? canonicalIp(realIp) : client.ip;
  const forwardedProto = req.headers['x-forwarded-proto'];
  const config = zone.config;
  // The zone's policy, as on the proxy path. Every refusal is a 403 here, a denial limit's too (with
  // Retry-After): nginx's auth_request passes only 401 and 403 on, any other status becomes a 500.
  const clock = Date.now();
  const refusal = zone.policy?.check(req, { ...client, ip: clientIp }, rt.geo, clock);
  if (refusal !== undefined) {
    const retry = refusal.retryAfter === undefined ? {} : { 'retry-after': String(refusal.retryAfter) };
    refuse(rt, res, id, zone, 403, refusal.reason, refusal.detail, target, retry);
    return;
  }
  const checked = checkRequest(target, {
    scheme: zone.scheme,
    keys: config.keys,
    now: Math.floor(Date.now() / 1000),
    bindIp: config.bindIp,
    clientIp,
    ...(zone.scheme.readsRequestFacts
      ? {
          facts: {
            referer: req.headers.referer,
            proto: forwardedProto === 'https' ? ('https' as const) : ('http' as const),
            host: host.hostname,
            authority: host.authority,
            country: () => rt.geo.country(clientIp, req.headers, true),
          },
        }
      : {}),
    // nginx's auth_request subrequest, ForwardAuth and ext_authz carry the original request's headers:
    // a token in a cookie or a header is read as the proxy path reads it.
    ...(zone.scheme.transports.cookies.length > 0 ? { cookies: headerText(req, 'cookie') } : {}),
    ...(zone.scheme.transports.headers.length > 0 ? { header: (name: string) => headerText(req, name) } : {}),
  });
  const verdict = checked.verdict;
  if (!verdict.ok) {
    const hold = zone.policy?.noteDenial(clientIp, verdict.reason, clock) ?? 0;
    if (hold > 0) {
      const timer = setTimeout(() => refuseToken(rt, res, id, zone, verdict, target), hold);
      res.once('close', () => clearTimeout(timer));
    } else refuseToken(rt, res, id, zone, verdict, target);
    return;
  }
  if ((checked.path ?? '/').startsWith('/_streamgate/')) {
    refuse(rt, res, id, zone, 404, 'reserved', 'reserved path', target);
    return;
  }
  const query = checked.upstreamQuery;
  const upstream = query === '' ? (checked.upstreamPath ?? '/') : `${checked.upstreamPath ?? '/'}?${query}`;
  countAnswer(rt.metrics, res, config.name, original.envoy ? 200 : 204, 'ok');
  answer(res, original.envoy ? 200 : 204, {
    'x-streamgate-zone': config.name,
    'x-streamgate-upstream': upstream,
    // The token's own speed limit, bytes per second, for the front to apply (nginx: limit_rate).
    ...(verdict.rateLimit === undefined ? {} : { 'x-streamgate-limit-rate': String(verdict.rateLimit) }),
  });
}
