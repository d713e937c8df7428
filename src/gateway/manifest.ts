import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import {
  formatOfPath,
  isStaticManifest,
  MANIFEST_FORMATS,
  mediaTypeOf,
  rewriteManifest,
  type ManifestKind,
} from '../manifest/index.js';
import type { RewriteResult } from '../manifest/types.js';
import { createTokenizer, resolutionBase, type StrategyTokenizer } from '../tokens/strategy.js';
import { countAnswer, noteBytes } from './access.js';
import { viewerResponseHeaders } from './headers.js';
import { redactTarget } from './log.js';
import type { GatewayRuntime, ViewerRequest, ZoneRuntime } from './runtime.js';

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

/**
 * Gives one viewer the manifest with their tokens (SPEC §4) and sends it: the right type, an exact
 * Content-Length, `Cache-Control: private, no-store` (the body holds this viewer's tokens), no origin
 * validators (the bytes differ from the origin's). A manifest the rewriter cannot read is passed
 * through unmodified with a warning rather than dropped.
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
  const publicOrigin = config.publicOrigin ?? view.publicOrigin;
  let body: Buffer | string = manifest.bytes;
  let outcome = 'passed';
  if (manifest.text !== undefined) {
    let result: RewriteResult | undefined;
    let failure: unknown;
    let uncovered: StrategyTokenizer | undefined;
    try {
      const tokenize = createTokenizer({
        strategy: config.tokens,
        scheme: zone.scheme,
        signingKey: config.keys[0] ?? '',
        incoming: view.grant,
        now: view.now,
        playlistTtl: config.playlistTtl,
        segmentTtl: config.segmentTtl,
        staticManifest: manifest.isStatic,
        publicOrigin,
        upstreamOrigin: config.origin,
        forwardUncovered: config.forwardUncovered,
      });
      uncovered = tokenize;
      result = rewriteManifest(manifest.kind, manifest.text, {
        manifestUrl: new URL(resolutionBase(view.target, view.grant), publicOrigin),
        tokenize,
        // Its own URL without the viewer's token: the Location a dynamic MPD without one gets.
        ...(manifest.kind === 'dash' && config.dashLocation
          ? { insertLocation: publicOrigin + view.upstreamTarget }
          : {}),
        ...(config.dashUrlParams && config.tokens === 'forward' && view.grant.scope !== 'path'
          ? {
              urlParam: { params: zone.scheme.queryParams(view.grant.token, view.grant.expires) },
            }
          : {}),
      });
    } catch (error) {
      failure = error;
    }
    if (result !== undefined && result.malformed === undefined) {
      body = result.text;
      outcome = 'rewritten';
      if (uncovered !== undefined && uncovered.uncovered > 0) {
        rt.logger.warn(
          {
            reqId: view.id,
            zone: config.name,
            target: redactTarget(view.target),
            uncovered: uncovered.uncovered,
            first: uncovered.firstUncovered,
          },
          "forward: URIs the viewer's token does not open were left without a token (players get 403); set forwardUncovered: path or mint, or sign a token that covers them",
        );
      }
      if (rt.debug && result.skipped.length > 0) {
        rt.logger.debug(
          {
            reqId: view.id,
            zone: config.name,
            target: redactTarget(view.target),
            skipped: result.skipped.map((skip) => ({ ...skip, uri: redactTarget(skip.uri) })),
          },
          'manifest URIs left without a token',
        );
      }
    } else {
      rt.logger.warn(
        {
          reqId: view.id,
          zone: config.name,
          target: redactTarget(view.target),
          reason: result?.malformed ?? String(failure),
        },
        'manifest not rewritten (malformed); passed through unmodified',
      );
      outcome = 'malformed';
    }
  } else {
    rt.logger.warn(
      { reqId: view.id, zone: config.name, target: redactTarget(view.target) },
      'manifest is not UTF-8; passed through unmodified',
    );
  }
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
  res.writeHead(200, headers);
  res.end(view.head ? undefined : body);
  countAnswer(rt.metrics, res, config.name, 200, 'ok');
  if (!view.head) {
    rt.metrics.bytesOut(config.name, length);
    noteBytes(res, length);
  }
}
