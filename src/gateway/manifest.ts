import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import {
  formatOfPath,
  isStaticManifest,
  MANIFEST_FORMATS,
  mediaTypeOf,
  type ManifestKind,
} from '../manifest/index.js';
import { DEFAULT_MANIFEST_LIMITS, type LimitExceeded, type ManifestLimits } from '../manifest/limits.js';
import { directoryOf, encodePath } from '../tokens/path.js';
import { resolutionBase } from '../tokens/strategy.js';
import { countAnswer, noteBytes } from './access.js';
import { refuseOverBudget } from './body-budget.js';
import { viewerResponseHeaders } from './headers.js';
import { redactTarget } from './log.js';
import { runRewriteJob } from './rewrite-job.js';
import { INLINE_REWRITE_CHARS, type RewriteJob, type RewriteOutcome } from './rewrite-pool.js';
import { sendText, type GatewayRuntime, type ViewerRequest, type ZoneRuntime } from './runtime.js';

export { isoDurationSeconds, type ManifestKind } from '../manifest/index.js';

/** The manifest format a request path promises by its extension (used before the origin answers). */
export function manifestKindOfPath(path: string): ManifestKind | undefined {
  return formatOfPath(path)?.kind;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export type DecodedBody =
  | { readonly ok: true; readonly text: string | undefined; readonly bytes: Buffer }
  | { readonly ok: false; readonly reason: 'too_large' | 'undecodable' };

/**
 * Undoes the origin's Content-Encoding (RFC 9110 §8.4) within the size limit. `text` is undefined when
 * the bytes are not UTF-8 (RFC 8216 §4.1 requires it): such a body can only be passed through.
 */
export function decodeBody(
  body: Buffer,
  encoding: string | string[] | undefined,
  limit: number,
): DecodedBody {
  let bytes = body;
  const codings = (Array.isArray(encoding) ? encoding.join(',') : (encoding ?? ''))
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  try {
    // Codings are listed in the order they were applied; undo them last to first.
    for (let i = codings.length - 1; i >= 0; i -= 1) {
      const coding = codings[i];
      const options = { maxOutputLength: limit };
      if (coding === 'gzip' || coding === 'x-gzip') bytes = gunzipSync(bytes, options);
      else if (coding === 'deflate') bytes = inflateSync(bytes, options);
      else if (coding === 'br') bytes = brotliDecompressSync(bytes, options);
      else return { ok: false, reason: 'undecodable' };
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    return { ok: false, reason: code === 'ERR_BUFFER_TOO_LARGE' ? 'too_large' : 'undecodable' };
  }
  if (bytes.length > limit) return { ok: false, reason: 'too_large' };
  let text: string | undefined;
  try {
    text = utf8.decode(bytes);
  } catch {
    text = undefined;
  }
  return { ok: true, text, bytes };
}

/**
 * How long a live manifest may be served from the cache: half the interval at which players reload it.
 * HLS reloads every target duration (RFC 8216 §6.3.4), LL-HLS every part target; DASH every
 * minimumUpdatePeriod (ISO/IEC 23009-1 §5.4). Unknown: one second.
 */
export function liveWindowMs(kind: ManifestKind, text: string): number {
  const interval = MANIFEST_FORMATS[kind].reloadSeconds(text);
  return interval === undefined ? 1000 : Math.max(100, Math.round((interval * 1000) / 2));
}

export interface SharePolicy {
  readonly shareable: boolean;
  /** The origin's own freshness limit for shared caches, in ms, if it gave one. */
  readonly maxAgeMs?: number;
}

/**
 * RFC 9111 §5.2.2: a response marked no-store, no-cache or private (or max-age=0, or carrying a cookie,
 * or varying on anything but encoding) is one viewer's: never given to another. Nimble marks its
 * playlists that carry a per-viewer nimblesessionid this way.
 */
export function sharePolicy(headers: IncomingHttpHeaders): SharePolicy {
  if (headers['set-cookie'] !== undefined) return { shareable: false };
  const pragma = headers.pragma;
  if (typeof pragma === 'string' && /no-cache/i.test(pragma) && headers['cache-control'] === undefined) {
    return { shareable: false };
  }
  const vary = headers.vary;
  if (vary !== undefined) {
    const names = (Array.isArray(vary) ? vary.join(',') : vary).split(',').map((n) => n.trim().toLowerCase());
    if (names.some((name) => name !== '' && name !== 'accept-encoding' && name !== 'origin')) {
      return { shareable: false };
    }
  }
  const control = headers['cache-control'];
  if (control === undefined) return { shareable: true };
  let maxAge: number | undefined;
  let sharedMaxAge: number | undefined;
  for (const directive of (Array.isArray(control) ? control.join(',') : control).split(',')) {
    const [rawName, rawValue] = directive.split('=', 2);
    const name = (rawName ?? '').trim().toLowerCase();
    if (name === 'no-store' || name === 'no-cache' || name === 'private') return { shareable: false };
    const value = rawValue === undefined ? undefined : Number(rawValue.trim().replace(/^"|"$/g, ''));
    if (name === 'max-age' && value !== undefined && Number.isFinite(value)) maxAge = value;
    if (name === 's-maxage' && value !== undefined && Number.isFinite(value)) sharedMaxAge = value;
  }
  const limit = sharedMaxAge ?? maxAge;
  if (limit === undefined) return { shareable: true };
  if (limit <= 0) return { shareable: false };
  return { shareable: true, maxAgeMs: limit * 1000 };
}

/** A manifest body from the origin, decoded, ready to be given tokens for one viewer. */
export interface OriginManifest {
  readonly kind: ManifestKind;
  /** The decoded text; undefined when it is not UTF-8 (passed through as bytes). */
  readonly text: string | undefined;
  readonly bytes: Buffer;
  readonly headers: IncomingHttpHeaders;
  readonly isStatic: boolean;
}

export function toOriginManifest(
  kind: ManifestKind,
  decoded: DecodedBody & { ok: true },
  headers: IncomingHttpHeaders,
): OriginManifest {
  return {
    kind,
    text: decoded.text,
    bytes: decoded.bytes,
    headers,
    isStatic: decoded.text === undefined ? true : isStaticManifest(kind, decoded.text),
  };
}

/** The rewrite of one manifest for one viewer, as plain data (see RewriteJob). */
function rewriteJob(
  rt: GatewayRuntime,
  zone: ZoneRuntime,
  view: ViewerRequest,
  manifest: OriginManifest & { text: string },
): RewriteJob {
  const config = zone.config;
  const publicOrigin = config.publicOrigin ?? view.publicOrigin;
  const limits: ManifestLimits = {
    maxDepth: rt.config.limits.manifestMaxDepth,
    maxElements: rt.config.limits.manifestMaxElements,
    maxExpansion: DEFAULT_MANIFEST_LIMITS.maxExpansion,
  };
  return {
    kind: manifest.kind,
    text: manifest.text,
    manifestUrl: new URL(resolutionBase(view.target, view.grant), publicOrigin).href,
    context: {
      strategy: config.tokens,
      scheme: config.scheme,
      schemeOptions: config.schemeOptions,
      pathTokens: config.pathTokens,
      signingKey: config.keys[0] ?? '',
      incoming: view.grant,
      now: view.now,
      playlistTtl: config.playlistTtl,
      segmentTtl: config.segmentTtl,
      staticManifest: manifest.isStatic,
      publicOrigin,
      upstreamOrigin: config.origin,
      forwardUncovered: config.forwardUncovered,
      ...(view.tokenVia === undefined ? {} : { incomingVia: view.tokenVia }),
    },
    // Its own URL without the viewer's token: the Location a dynamic MPD without one gets.
    insertLocation:
      manifest.kind === 'dash' && config.dashLocation ? publicOrigin + view.upstreamTarget : undefined,
    urlParam:
      config.dashUrlParams &&
      config.tokens === 'forward' &&
      view.grant.scope !== 'path' &&
      view.tokenVia !== 'cookie' &&
      view.tokenVia !== 'header'
        ? { params: zone.scheme.queryParams(view.grant.token, view.grant.expires) }
        : undefined,
    limits,
    skippedWanted: rt.debug ? 1000 : 0,
  };
}

/** A rewrite on the event loop: for manifests short enough that a thread would cost more. */
function rewriteInline(zone: ZoneRuntime, job: RewriteJob): RewriteOutcome & { text?: string } {
  const { outcome, text } = runRewriteJob(job, zone.scheme);
  return text === undefined ? outcome : { ...outcome, text };
}

/** Bytes a pooled rewrite holds while it waits and runs: the text, its copy in the thread, the output. */
const REWRITE_HOLD_FACTOR = 4;

/**
 * Gives one viewer the manifest with their tokens (README "The token strategies") and sends it: the right type, an exact
 * Content-Length, `Cache-Control: private, no-store` (the body holds this viewer's tokens), no origin
 * validators (the bytes differ from the origin's). A manifest the rewriter cannot read is passed
 * through unmodified with a warning rather than dropped; one that exceeds a safety limit
 * (ManifestLimits) is answered 502: it is no manifest a player could use, and handing it on would
 * pass the attack to every player. Short manifests are rewritten at once, long ones (more than
 * INLINE_REWRITE_CHARS) in a rewrite thread, holding a share of the manifest memory budget meanwhile.
 */
export function serveManifest(
  rt: GatewayRuntime,
  zone: ZoneRuntime,
  view: ViewerRequest,
  res: ServerResponse,
  manifest: OriginManifest,
): void {
  if (res.destroyed || res.headersSent) return;
  const config = zone.config;
  if (manifest.text === undefined) {
    rt.logger.warn(
      { reqId: view.id, zone: config.name, target: redactTarget(view.target) },
      'manifest is not UTF-8; passed through unmodified',
    );
    sendManifest(rt, zone, view, res, manifest, manifest.bytes, 'passed');
    return;
  }
  let job: RewriteJob;
  try {
    job = rewriteJob(rt, zone, view, { ...manifest, text: manifest.text });
  } catch (error) {
    finishRewrite(rt, zone, view, res, manifest, undefined, error, undefined);
    return;
  }
  if (manifest.text.length <= INLINE_REWRITE_CHARS) {
    let outcome: (RewriteOutcome & { text?: string }) | undefined;
    let failure: unknown;
    try {
      outcome = rewriteInline(zone, job);
    } catch (error) {
      failure = error;
    }
    finishRewrite(rt, zone, view, res, manifest, outcome, failure, outcome?.text);
    return;
  }
  const held = manifest.bytes.length * REWRITE_HOLD_FACTOR;
  if (!rt.manifestMemory.take(held)) {
    refuseOverBudget(rt, config.name, view, res, 'rewrite');
    return;
  }
  rt.rewritePool.run(job).then(
    (outcome) => {
      rt.manifestMemory.release(held);
      finishRewrite(rt, zone, view, res, manifest, outcome, undefined, outcome.body);
    },
    (error: unknown) => {
      rt.manifestMemory.release(held);
      finishRewrite(rt, zone, view, res, manifest, undefined, error, undefined);
    },
  );
}

function finishRewrite(
  rt: GatewayRuntime,
  zone: ZoneRuntime,
  view: ViewerRequest,
  res: ServerResponse,
  manifest: OriginManifest,
  outcome: RewriteOutcome | undefined,
  failure: unknown,
  body: string | Uint8Array | undefined,
): void {
  if (res.destroyed || res.headersSent) return;
  const config = zone.config;
  const fields = { reqId: view.id, zone: config.name, target: redactTarget(view.target) };
  if (outcome?.limit !== undefined || isOutOfMemory(failure)) {
    refuseOverLimit(rt, zone, view, res, manifest, outcome?.limit);
    return;
  }
  if (outcome !== undefined && outcome.malformed === undefined && body !== undefined) {
    if (outcome.uncovered > 0) {
      rt.logger.warn(
        { ...fields, uncovered: outcome.uncovered, first: outcome.firstUncovered },
        config.tokens === 'forward'
          ? "forward: URIs the viewer's token does not open were left without a token (players get 403); set forwardUncovered: path or mint, or sign a token that covers them"
          : 'mint: templates naming one directory per Representation were left without a token (players get 403): only a path token opens them, and this zone takes none; set pathTokens: true, or package each Representation with its own SegmentTemplate',
      );
    }
    if (rt.debug && outcome.skippedCount > 0) {
      rt.logger.debug(
        {
          ...fields,
          skipped: outcome.skipped.map((skip) => ({ ...skip, uri: redactTarget(skip.uri) })),
          skippedCount: outcome.skippedCount,
        },
        'manifest URIs left without a token',
      );
    }
    sendManifest(rt, zone, view, res, manifest, body, 'rewritten');
    return;
  }
  rt.logger.warn(
    { ...fields, reason: outcome?.malformed ?? String(failure) },
    'manifest not rewritten (malformed); passed through unmodified',
  );
  sendManifest(rt, zone, view, res, manifest, manifest.bytes, 'malformed');
}

/** A rewrite thread that ran past its heap (see RewritePool) was ended: the manifest is refused. */
function isOutOfMemory(failure: unknown): boolean {
  return (failure as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
}

function refuseOverLimit(
  rt: GatewayRuntime,
  zone: ZoneRuntime,
  view: ViewerRequest,
  res: ServerResponse,
  manifest: OriginManifest,
  limit: LimitExceeded | undefined,
): void {
  const name = zone.config.name;
  rt.logger.warn(
    {
      reqId: view.id,
      zone: name,
      target: redactTarget(view.target),
      status: 502,
      format: manifest.kind,
      bytes: manifest.bytes.length,
      limit: limit?.limit ?? 'memory',
      max: limit?.max,
      detail: limit?.detail ?? 'the rewrite thread ran out of memory',
    },
    'manifest exceeds a safety limit; refused',
  );
  rt.metrics.manifest(name, manifest.kind, 'limit');
  countAnswer(rt.metrics, res, name, 502, 'manifest_limit', limit?.limit ?? 'memory');
  sendText(res, 502, 'manifest exceeds a safety limit');
}

function sendManifest(
  rt: GatewayRuntime,
  zone: ZoneRuntime,
  view: ViewerRequest,
  res: ServerResponse,
  manifest: OriginManifest,
  body: string | Uint8Array,
  outcome: 'rewritten' | 'passed' | 'malformed',
): void {
  const config = zone.config;
  rt.metrics.manifest(config.name, manifest.kind, outcome);
  const headers: OutgoingHttpHeaders = viewerResponseHeaders(manifest.headers, true, rt.cors.vary);
  const originType = manifest.headers['content-type'];
  let type = typeof originType === 'string' ? originType : undefined;
  // A rewritten manifest is announced as what it is, e.g. when the origin said text/plain.
  const format = MANIFEST_FORMATS[manifest.kind];
  if (outcome === 'rewritten' && !format.mediaTypes.includes(mediaTypeOf(type))) {
    type = format.mediaTypes[0];
  }
  if (type !== undefined) headers['content-type'] = type;
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  headers['content-length'] = length;
  headers['cache-control'] = 'private, no-store';
  if (config.tokens === 'cookie' && view.tokenVia !== 'cookie') {
    const cookies = sessionCookies(zone, view, config.publicOrigin ?? view.publicOrigin);
    if (cookies.length > 0) headers['set-cookie'] = cookies;
  }
  res.writeHead(200, headers);
  res.end(view.head ? undefined : body);
  countAnswer(rt.metrics, res, config.name, 200, 'ok');
  if (!view.head) {
    rt.metrics.bytesOut(config.name, length);
    noteBytes(res, length);
  }
}

/**
 * The cookie strategy: the entry manifest's answer hands the viewer a session token for the stream's
 * directory in cookies (Akamai's hdntl, CloudFront's signed cookies), so nested requests need no token
 * in their URLs. HttpOnly (page scripts never see it), Path scoped to the directory, Secure and
 * SameSite=None over TLS (a player page on another site may send it where third-party cookies are
 * allowed), SameSite=Lax otherwise (RFC 6265bis §5.4.7: None requires Secure).
 */
function sessionCookies(zone: ZoneRuntime, view: ViewerRequest, publicOrigin: string): string[] {
  const { scheme, config } = zone;
  if (scheme.cookieParams === undefined) return [];
  const question = view.upstreamTarget.indexOf('?');
  const path = decodeURIComponent(
    question === -1 ? view.upstreamTarget : view.upstreamTarget.slice(0, question),
  );
  const directory = directoryOf(path);
  const expires = view.now + config.playlistTtl;
  const { grant } = view;
  const token = scheme.sign(
    {
      path: directory,
      expires,
      ...(grant.ip === undefined ? {} : { ip: grant.ip }),
      ...(grant.rules === undefined ? {} : { rules: grant.rules }),
      origin: publicOrigin,
    },
    config.keys[0] ?? '',
  );
  const secure = publicOrigin.startsWith('https:');
  const attributes = `Path=${encodePath(directory)}; Max-Age=${config.playlistTtl}; HttpOnly; ${
    secure ? 'Secure; SameSite=None' : 'SameSite=Lax'
  }`;
  return scheme.cookieParams(token, expires).map(([name, value]) => `${name}=${value}; ${attributes}`);
}
