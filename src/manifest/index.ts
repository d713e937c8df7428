import { looksLikeDash, rewriteDash, type DashRewriteOptions } from './dash/index.js';
import { looksLikeHls, rewriteHls } from './hls/index.js';
import type { RewriteResult } from './types.js';

export type ManifestKind = 'hls' | 'dash';

const HLS_TYPES = new Set([
  'application/vnd.apple.mpegurl',
  'application/x-mpegurl',
  'audio/mpegurl',
  'audio/x-mpegurl',
]);
const DASH_TYPES = new Set(['application/dash+xml', 'application/dash-patch+xml']);
// Types an origin uses when it does not know better; the body decides.
const VAGUE_TYPES = new Set([
  '',
  'text/plain',
  'application/octet-stream',
  'binary/octet-stream',
  'text/xml',
  'application/xml',
]);

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Decides from the response headers alone whether a response may be a manifest: by content type
 * first, then (for vague types) by the request path's extension. `undefined` means not a manifest;
 * 'sniff' means the body must be looked at.
 */
export function manifestKindFromHeaders(
  contentType: string | undefined,
  path: string,
): ManifestKind | 'sniff' | undefined {
  const type = mediaType(contentType);
  if (HLS_TYPES.has(type)) return 'hls';
  if (DASH_TYPES.has(type)) return 'dash';
  if (!VAGUE_TYPES.has(type)) return undefined;
  const lower = path.toLowerCase();
  if (lower.endsWith('.m3u8') || lower.endsWith('.m3u')) return 'hls';
  if (lower.endsWith('.mpd') || lower.endsWith('.mpp')) return 'dash';
  return 'sniff';
}

/** Recognises a manifest by its first bytes (`#EXTM3U`, `<MPD`). */
export function sniffManifest(text: string): ManifestKind | undefined {
  if (looksLikeHls(text)) return 'hls';
  if (looksLikeDash(text)) return 'dash';
  return undefined;
}

/**
 * A static manifest is loaded once by the player (HLS ENDLIST or VOD playlist type, DASH
 * type="static"); a live one is reloaded and may be cached briefly.
 */
export function isStaticManifest(kind: ManifestKind, text: string): boolean {
  if (kind === 'hls') {
    // A multivariant playlist is loaded once (RFC 8216 §6.3.4 reloads only media playlists).
    if (/^#EXT-X-STREAM-INF/m.test(text)) return true;
    return /^#EXT-X-ENDLIST\b/m.test(text) || /^#EXT-X-PLAYLIST-TYPE:\s*VOD\b/m.test(text);
  }
  // An MPD Patch (ISO/IEC 23009-1 Annex G) only exists for dynamic MPDs.
  // The root's start tag, up to the first `>`: found with indexOf, as a `[^>]*>` pattern retried at
  // every `<MPD` of a document without `>` takes time quadratic in its length.
  const start = /<(?:[A-Za-z_][\w.-]*:)?(?:MPD|Patch)\b/.exec(text)?.index;
  const close = start === undefined ? -1 : text.indexOf('>', start);
  const mpd = start === undefined || close === -1 ? '' : text.slice(start, close + 1);
  if (/^<(?:[A-Za-z_][\w.-]*:)?Patch\b/.test(mpd)) return false;
  return !/\btype\s*=\s*["']dynamic["']/.test(mpd);
}

export function rewriteManifest(
  kind: ManifestKind,
  text: string,
  options: DashRewriteOptions,
): RewriteResult {
  return kind === 'hls' ? rewriteHls(text, options) : rewriteDash(text, options);
}

export type { RewriteOptions, RewriteResult, Tokenizer, UriTarget, TokenGrant } from './types.js';
