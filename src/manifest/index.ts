import type { DashRewriteOptions } from './dash/index.js';
import {
  formatOfMediaType,
  formatOfPath,
  MANIFEST_FORMATS,
  mediaTypeOf,
  sniffFormat,
  type ManifestKind,
} from './formats.js';
import type { RewriteResult } from './types.js';

export {
  formatOfPath,
  isoDurationSeconds,
  MANIFEST_FORMATS,
  mediaTypeOf,
  type ManifestFormat,
  type ManifestKind,
} from './formats.js';

// Types an origin uses when it does not know better; the extension or the body decides.
const VAGUE_TYPES = new Set([
  '',
  'text/plain',
  'application/octet-stream',
  'binary/octet-stream',
  'text/xml',
  'application/xml',
]);

/**
 * Decides from the response headers alone whether a response may be a manifest: by content type
 * first, then (for vague types) by the request path's extension. `undefined` means not a manifest;
 * 'sniff' means the body must be looked at.
 */
export function manifestKindFromHeaders(
  contentType: string | undefined,
  path: string,
): ManifestKind | 'sniff' | undefined {
  const named = formatOfMediaType(contentType);
  if (named !== undefined) return named.kind;
  if (!VAGUE_TYPES.has(mediaTypeOf(contentType))) return undefined;
  return formatOfPath(path)?.kind ?? 'sniff';
}

/** Whether a Content-Type names a manifest format. */
export function isManifestMediaType(contentType: string | undefined): boolean {
  return formatOfMediaType(contentType) !== undefined;
}

/** Recognises a manifest by its first bytes (`#EXTM3U`, `<MPD`, an MPD `<Patch`). */
export function sniffManifest(text: string): ManifestKind | undefined {
  return sniffFormat(text)?.kind;
}

/**
 * A static manifest is loaded once by the player (HLS ENDLIST or VOD playlist type, a multivariant
 * playlist, DASH type="static"); a live one is reloaded and may be cached briefly.
 */
export function isStaticManifest(kind: ManifestKind, text: string): boolean {
  return MANIFEST_FORMATS[kind].isStatic(text);
}

export function rewriteManifest(
  kind: ManifestKind,
  text: string,
  options: DashRewriteOptions,
): RewriteResult {
  return MANIFEST_FORMATS[kind].rewrite(text, options);
}

export type { RewriteOptions, RewriteResult, Tokenizer, UriTarget, TokenGrant } from './types.js';
