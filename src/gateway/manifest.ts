import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { isStaticManifest, rewriteManifest, type ManifestKind } from '../manifest/index.js';
import type { RewriteResult } from '../manifest/types.js';
import { directoryOf, encodePath } from '../tokens/path.js';
import { createTokenizer, resolutionBase } from '../tokens/strategy.js';
import { viewerResponseHeaders } from './headers.js';
import { redactTarget } from './log.js';
import type { GatewayRuntime, ViewerRequest, ZoneRuntime } from './runtime.js';

export type { ManifestKind } from '../manifest/index.js';

const CANONICAL_TYPE: Readonly<Record<ManifestKind, string>> = {
  hls: 'application/vnd.apple.mpegurl',
  dash: 'application/dash+xml',
};
const MANIFEST_TYPE =
  /^\s*(?:application\/vnd\.apple\.mpegurl|application\/x-mpegurl|audio\/(?:x-)?mpegurl|application\/dash\+xml)\s*(?:;|$)/i;

/** The manifest format a request path promises by its extension (used before the origin answers). */
export function manifestKindOfPath(path: string): ManifestKind | undefined {
  const dot = path.lastIndexOf('.');
  if (dot === -1) return undefined;
  const extension = path.slice(dot + 1).toLowerCase();
  if (extension === 'm3u8' || extension === 'm3u') return 'hls';
  if (extension === 'mpd') return 'dash';
  return undefined;
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

function seconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  return Number.isFinite(number) && number > 0 ? number : undefined;
}

/** ISO 8601 duration as used by DASH (`PT2S`, `PT1M30.5S`, `P0Y0M0DT0H0M2S`), in seconds. */
export function isoDurationSeconds(value: string): number | undefined {
  const match =
    /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      value.trim(),
    );
  if (!match || value.trim() === 'P' || value.trim().endsWith('T')) return undefined;
  const [, years, months, days, hours, minutes, secs] = match.map((part) =>
    part === undefined ? 0 : Number(part),
  );
  return (
    (years ?? 0) * 31_536_000 +
    (months ?? 0) * 2_592_000 +
    (days ?? 0) * 86_400 +
    (hours ?? 0) * 3600 +
    (minutes ?? 0) * 60 +
    (secs ?? 0)
  );
}

/**
 * How long a live manifest may be served from the cache: half the interval at which players reload it.
 * HLS reloads every target duration (RFC 8216 §6.3.4), LL-HLS every part target; DASH every
 * minimumUpdatePeriod (ISO/IEC 23009-1 §5.4). Unknown: one second.
 */
export function liveWindowMs(kind: ManifestKind, text: string): number {
  let interval: number | undefined;
  if (kind === 'hls') {
    interval =
      seconds(/^#EXT-X-PART-INF:.*?\bPART-TARGET=([0-9.]+)/m.exec(text)?.[1]) ??
      seconds(/^#EXT-X-TARGETDURATION:\s*([0-9.]+)/m.exec(text)?.[1]);
  } else {
    const period = /\bminimumUpdatePeriod\s*=\s*["']([^"']*)["']/.exec(text)?.[1];
    interval = period === undefined ? undefined : isoDurationSeconds(period);
    if (interval === 0) interval = undefined;
  }
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
      });
      result = rewriteManifest(manifest.kind, manifest.text, {
        manifestUrl: new URL(resolutionBase(view.target, view.grant), publicOrigin),
        tokenize,
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
      if (rt.debug && result.skipped.length > 0) {
        rt.logger.debug(
          { reqId: view.id, zone: config.name, target: redactTarget(view.target), skipped: result.skipped },
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
  if (outcome === 'rewritten' && (type === undefined || !MANIFEST_TYPE.test(type))) {
    type = CANONICAL_TYPE[manifest.kind];
  }
  if (type !== undefined) headers['content-type'] = type;
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  headers['content-length'] = length;
  headers['cache-control'] = 'private, no-store';
  if (config.tokens === 'cookie' && view.tokenVia !== 'cookie') {
    const cookies = sessionCookies(zone, view, publicOrigin);
    if (cookies.length > 0) headers['set-cookie'] = cookies;
  }
  res.writeHead(200, headers);
  res.end(view.head ? undefined : body);
  rt.metrics.request(config.name, 200, 'ok');
  if (!view.head) rt.metrics.bytesOut(config.name, length);
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
