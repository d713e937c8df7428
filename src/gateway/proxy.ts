import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkRequest } from '../tokens/check.js';
import type { Denial } from '../tokens/verdict.js';
import { countAnswer, noteBytes, noteCache, noteZone, traceOrigin } from './access.js';
import { clientAddress, type ParsedHost } from './client.js';
import { refuseOverBudget } from './body-budget.js';
import { ProxyExchange } from './exchange.js';
import { upstreamRequestHeaders, viewerResponseHeaders } from './headers.js';
import { sharedFetch, type SharedOutcome } from './live-cache.js';
import { redactTarget } from './log.js';
import { manifestKindOfPath, serveManifest } from './manifest.js';
import type { PolicyRefusal } from './policy.js';
import {
  sendDenial,
  sendText,
  type GatewayRuntime,
  type ViewerRequest,
  type ZoneRuntime,
} from './runtime.js';
import { redirectToSession } from './session.js';
import { chooseZone, type ZoneRouter } from './zones.js';

/** A request header's single value; a repeated one is no usable token. */
function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

const isTls = (req: IncomingMessage): boolean => (req.socket as { encrypted?: boolean }).encrypted === true;

/** LL-HLS blocking reloads (RFC 8216bis §6.2.5.2): held by the origin, never answered from a cache. */
const BLOCKING_PARAMS = /(?:^|&)_HLS_(?:msn|part|skip)(?:=|&|$)/;

const RESERVED = '/_streamgate/';

/** A request refused by the gateway: counted, and its reason and detail noted for the access line. */
export function logDenial(
  rt: GatewayRuntime,
  res: ServerResponse,
  zone: string,
  status: number,
  reason: string,
  detail: string,
): void {
  countAnswer(rt.metrics, res, zone, status, reason, detail);
}

function deny(rt: GatewayRuntime, res: ServerResponse, zone: ZoneRuntime | undefined, denial: Denial): void {
  const status = sendDenial(res, zone?.config, denial);
  logDenial(rt, res, zone?.config.name ?? '-', status, denial.reason, denial.detail);
}

/** A request a zone's policy refuses: 403 with its reason, or 429 with Retry-After. */
function refuse(rt: GatewayRuntime, res: ServerResponse, zone: string, refusal: PolicyRefusal): void {
  const extra = refusal.retryAfter === undefined ? undefined : { 'retry-after': String(refusal.retryAfter) };
  sendText(res, refusal.status, refusal.reason, extra);
  logDenial(rt, res, zone, refusal.status, refusal.reason, refusal.detail);
}

/** Answers after `ms` (a slowed denial), or not at all if the viewer leaves first. */
function later(res: ServerResponse, ms: number, answer: () => void): void {
  const timer = setTimeout(answer, ms);
  res.once('close', () => clearTimeout(timer));
}

/**
 * A GET or HEAD in origin form with a sane Host: pick the zone, check the path and the token (README, "Token rules"),
 * and only then contact the origin — through the live manifest cache when the path names a manifest.
 */
export function proxyRequest(
  rt: GatewayRuntime,
  router: ZoneRouter<ZoneRuntime>,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
  host: ParsedHost,
  started: number,
): void {
  const target = req.url ?? '/';
  const zone = chooseZone(router, host.hostname, target);
  if (zone === undefined) {
    sendText(res, 404, 'no zone');
    logDenial(rt, res, '-', 404, 'no_zone', 'no zone for this host and path');
    return;
  }
  if ('ok' in zone) {
    deny(rt, res, undefined, zone);
    return;
  }

  const config = zone.config;
  noteZone(res, config.name);
  const client = clientAddress(req, rt.trusted);
  const clock = Date.now();
  const now = Math.floor(clock / 1000);
  const policy = zone.policy;
  const refusal = policy?.check(req, client, rt.geo, clock);
  if (refusal !== undefined) {
    refuse(rt, res, config.name, refusal);
    return;
  }
  const forwardedProto = client.viaTrustedProxy ? req.headers['x-forwarded-proto'] : undefined;
  const proto = forwardedProto === 'https' || (forwardedProto === undefined && isTls(req)) ? 'https' : 'http';
  const { transports } = zone.scheme;
  const checked = checkRequest(target, {
    scheme: zone.scheme,
    keys: config.keys,
    now,
    bindIp: config.bindIp,
    clientIp: client.ip,
    ...(zone.scheme.readsRequestFacts
      ? {
          facts: {
            referer: req.headers.referer,
            proto,
            host: host.hostname,
            authority: host.authority,
            country: () => rt.geo.country(client.ip, req.headers, client.viaTrustedProxy),
          },
        }
      : {}),
    ...(transports.cookies.length > 0 ? { cookies: req.headers.cookie } : {}),
    ...(transports.headers.length > 0 ? { header: (name: string) => headerValue(req, name) } : {}),
  });
  const verdict = checked.verdict;
  if (!verdict.ok) {
    const hold = policy?.noteDenial(client.ip, verdict.reason, clock) ?? 0;
    if (hold > 0) later(res, hold, () => deny(rt, res, zone, verdict));
    else deny(rt, res, zone, verdict);
    return;
  }
  const path = checked.path ?? '/';
  if (path.startsWith(RESERVED)) {
    sendText(res, 404, 'reserved path');
    logDenial(rt, res, config.name, 404, 'reserved', 'reserved path');
    return;
  }
  const upstreamPath = checked.upstreamPath ?? '/';
  const query = checked.upstreamQuery;
  const upstreamTarget = query === '' ? upstreamPath : `${upstreamPath}?${query}`;

  const view: ViewerRequest = {
    id,
    target,
    head: req.method === 'HEAD',
    grant: verdict,
    publicOrigin: `${proto}://${host.authority}`,
    upstreamTarget,
    now,
    started,
    ...(checked.via === undefined ? {} : { tokenVia: checked.via }),
  };
  const xff = req.headers['x-forwarded-for'];
  const forwardedFor =
    client.viaTrustedProxy && typeof xff === 'string' && xff !== ''
      ? `${xff}, ${client.peer ?? ''}`
      : client.ip;

  const manifestKind = manifestKindOfPath(path);
  if (manifestKind === 'dash' && redirectToSession(rt, zone, view, res, path)) return;
  const headers = upstreamRequestHeaders(req.headers, {
    extra: config.forwardHeaders,
    manifest: manifestKind !== undefined,
    forwardedFor,
    requestId: id,
  });
  traceOrigin(res, rt.access.telemetry, headers);
  if (manifestKind !== undefined && rt.manifestMemory.exhausted) {
    refuseOverBudget(rt, config.name, view, res, 'request');
    return;
  }
  if (manifestKind !== undefined && zone.shareManifests && !BLOCKING_PARAMS.test(query)) {
    throughCache(rt, zone, res, view, headers);
    return;
  }
  if (manifestKind !== undefined) noteCache(res, 'bypass');
  // A HEAD of a manifest is answered from a GET: its length is that of the rewritten body.
  const method = manifestKind !== undefined || req.method === 'GET' ? 'GET' : 'HEAD';
  new ProxyExchange(rt, zone, res, view, method).start(headers);
}

function direct(
  rt: GatewayRuntime,
  zone: ZoneRuntime,
  res: ServerResponse,
  view: ViewerRequest,
  headers: Record<string, string>,
): void {
  new ProxyExchange(rt, zone, res, view, 'GET').start(headers);
}

/**
 * What selects the bytes of a shared manifest fetch: the zone (its origin pool and settings) and the
 * origin it goes to, then the target asked of it. Zones that send per-viewer headers upstream
 * (`forwardHeaders`) never share. Two zones that differ by Host or origin and serve the same path must
 * never answer each other's viewers.
 */
function liveCacheKey(zone: ZoneRuntime, upstreamTarget: string): string {
  return `${zone.config.name}\0${zone.config.origin}\0${upstreamTarget}`;
}

/**
 * Live manifests (docs/operations.md, "Live manifests"): a fresh cached copy is served at once; otherwise the viewer joins the
 * pending origin fetch for the same URL, or starts one. Only shareable answers are given to viewers
 * who did not ask for them; the others fetch their own.
 */
function throughCache(
  rt: GatewayRuntime,
  zone: ZoneRuntime,
  res: ServerResponse,
  view: ViewerRequest,
  headers: Record<string, string>,
): void {
  const key = liveCacheKey(zone, view.upstreamTarget);
  const name = zone.config.name;
  const cached = rt.cache.fresh(key);
  if (cached !== undefined) {
    rt.metrics.cache(name, 'hit');
    noteCache(res, 'hit');
    serveManifest(rt, zone, view, res, cached);
    return;
  }
  if (rt.cache.isPrivate(key)) {
    rt.metrics.cache(name, 'private');
    noteCache(res, 'private');
    direct(rt, zone, res, view, headers);
    return;
  }
  let pending = rt.cache.pending(key);
  const follower = pending !== undefined;
  rt.metrics.cache(name, follower ? 'coalesced' : 'miss');
  noteCache(res, follower ? 'coalesced' : 'miss');
  if (pending === undefined) {
    // The shared request carries nothing of one viewer's but what decides the bytes.
    const shared: Record<string, string> = { 'accept-encoding': 'identity', 'x-request-id': view.id };
    if (headers['user-agent'] !== undefined) shared['user-agent'] = headers['user-agent'];
    if (headers.accept !== undefined) shared.accept = headers.accept;
    pending = rt.cache.start(key, () =>
      sharedFetch(zone.pool, {
        path: view.upstreamTarget,
        headers: shared,
        limit: rt.config.limits.manifestMaxBytes,
        zone: name,
        metrics: rt.metrics,
        memory: rt.manifestMemory,
      }),
    );
  }
  rt.metrics.inFlight += 1;
  pending.then(
    (outcome) => {
      rt.metrics.inFlight -= 1;
      if (res.destroyed || res.writableEnded) return;
      deliver(rt, zone, res, view, headers, outcome, follower);
    },
    (error: unknown) => {
      rt.metrics.inFlight -= 1;
      rt.logger.error({ reqId: view.id, zone: name, err: error }, 'shared manifest fetch failed');
      countAnswer(rt.metrics, res, name, 502, 'broken');
      sendText(res, 502, 'origin broken');
    },
  );
}

function deliver(
  rt: GatewayRuntime,
  zone: ZoneRuntime,
  res: ServerResponse,
  view: ViewerRequest,
  headers: Record<string, string>,
  outcome: SharedOutcome,
  follower: boolean,
): void {
  const name = zone.config.name;
  switch (outcome.type) {
    case 'manifest':
      if (follower && !outcome.shareable) direct(rt, zone, res, view, headers);
      else serveManifest(rt, zone, view, res, outcome.manifest);
      return;
    case 'response': {
      if (follower) {
        direct(rt, zone, res, view, headers);
        return;
      }
      res.writeHead(outcome.status, viewerResponseHeaders(outcome.headers, false, rt.cors.vary));
      res.end(view.head ? undefined : outcome.body);
      countAnswer(rt.metrics, res, name, outcome.status, 'ok');
      if (!view.head) {
        rt.metrics.bytesOut(name, outcome.body.length);
        noteBytes(res, outcome.body.length);
      }
      return;
    }
    case 'failure': {
      const { failure } = outcome;
      if (failure.kind === 'memory') {
        refuseOverBudget(rt, name, view, res, 'shared fetch');
        return;
      }
      const status = failure.status ?? 502;
      countAnswer(rt.metrics, res, name, status, failure.kind);
      if (!follower) {
        rt.metrics.originError(name, failure.kind);
        rt.logger.warn(
          {
            reqId: view.id,
            zone: name,
            target: redactTarget(view.target),
            kind: failure.kind,
            code: failure.code,
            status,
          },
          failure.kind === 'too_large' ? 'manifest larger than limits.manifestMaxBytes' : 'origin failed',
        );
      }
      sendText(
        res,
        status,
        failure.kind === 'too_large' ? 'manifest too large' : `origin ${failure.kind.replace('_', ' ')}`,
      );
      return;
    }
  }
}
