import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Pool } from 'undici';
import type { AddressSet, Config, ZoneConfig } from '../config/index.js';
import type { TokenScheme } from '../tokens/scheme.js';
import { noteBytes, type AccessLog } from './access.js';
import type { Denial, Grant } from '../tokens/verdict.js';
import type { ManifestMemory } from './body-budget.js';
import type { Cors } from './cors.js';
import type { CountryLookup } from './geo.js';
import type { LiveCache } from './live-cache.js';
import type { ZonePolicy } from './policy.js';
import type { Logger } from './log.js';
import type { GatewayMetrics } from './metrics.js';
import type { RewritePool } from './rewrite-pool.js';

export interface ZoneRuntime {
  readonly config: ZoneConfig;
  readonly scheme: TokenScheme;
  readonly pool: Pool;
  /** Live manifests of this zone may be shared between viewers (cache on, no per-viewer headers). */
  readonly shareManifests: boolean;
  /** The zone's `policy:` (address, country, Referer lists; denial limit), checked before the token. */
  readonly policy?: ZonePolicy;
}

/** Everything a request handler needs, built once per gateway. */
export interface GatewayRuntime {
  readonly config: Config;
  readonly logger: Logger;
  /** Debug logging enabled: per-request lines are built only then. */
  readonly debug: boolean;
  readonly metrics: GatewayMetrics;
  readonly cache: LiveCache;
  readonly cors: Cors;
  readonly trusted: AddressSet;
  readonly geo: CountryLookup;
  readonly access: AccessLog;
  /** Manifest bodies held at once (limits.manifestMemoryBytes). */
  readonly manifestMemory: ManifestMemory;
  /** Threads that rewrite the manifests too long to rewrite on the event loop. */
  readonly rewritePool: RewritePool;
}

/** One viewer request that passed the token check, as the proxy and the manifest code see it. */
export interface ViewerRequest {
  readonly id: string;
  /** The request target as sent (for logs, redacted; and for the manifest's own URL). */
  readonly target: string;
  readonly head: boolean;
  readonly grant: Grant;
  /** `http://host:port` as the viewer reached the gateway. */
  readonly publicOrigin: string;
  /** Checked path plus the query without token parameters: what the origin is asked for. */
  readonly upstreamTarget: string;
  /** Unix seconds at which the token was checked. */
  readonly now: number;
  /** Where the viewer's token came from: a cookie zone hands its cookie to a token that was not one. */
  readonly tokenVia?: 'query' | 'path' | 'cookie' | 'header';
  /** performance.now() when the request arrived. */
  readonly started: number;
}

const TEXT_HEADERS = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };

/** A short plain-text answer from the gateway itself (denials, refusals, origin failures). */
export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  extra?: Readonly<Record<string, string>>,
): void {
  if (res.headersSent || res.destroyed) return;
  const body = `${status} ${STATUS_CODES[status] ?? ''} (${text})\n`;
  const length = Buffer.byteLength(body);
  res.writeHead(status, { ...TEXT_HEADERS, ...extra, 'content-length': length });
  const head = res.req.method === 'HEAD';
  res.end(head ? undefined : body);
  if (!head) noteBytes(res, length);
}

/**
 * A denial names the reason class only, never the expected token (README, "Token rules"). Path refusals are 400 whatever the zone says; token
 * denials take the zone's status, or its redirect to a paywall page.
 */
export function sendDenial(res: ServerResponse, zone: ZoneConfig | undefined, denial: Denial): number {
  if (denial.reason === 'path' || zone === undefined) {
    sendText(res, denial.status, denial.reason);
    return denial.status;
  }
  const { redirect, redirectOn, redirectStatus, status } = zone.denial;
  if (redirect !== undefined && redirectOn.includes(denial.reason)) {
    sendText(res, redirectStatus, denial.reason, { location: redirect });
    return redirectStatus;
  }
  const code = status[denial.reason];
  sendText(res, code, denial.reason);
  return code;
}
