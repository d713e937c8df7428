import { looksLikeDash, rewriteDash, type DashRewriteOptions } from './dash/index.js';
import { looksLikeHls, rewriteHls } from './hls/index.js';
import type { RewriteResult } from './types.js';

/** The manifest formats the gateway reads and gives tokens: one registry entry each. */
export type ManifestKind = 'hls' | 'dash' | 'dash-patch';

/**
 * Everything the gateway asks about one manifest format, in one place: how to recognise it (media
 * type, extension, first bytes), what to send it as, whether players reload it (live policy), and which
 * rewriter reads it.
 */
export interface ManifestFormat {
  readonly kind: ManifestKind;
  /** Media types without parameters, lower case; the first is the canonical one. */
  readonly mediaTypes: readonly string[];
  /** Request path extensions, lower case, without the dot. */
  readonly extensions: readonly string[];
  /** Whether a body starting with `head` (its first 2 KiB or so) is in this format. */
  readonly sniff: (head: string) => boolean;
  /** The player loads it once (VOD, a multivariant playlist, a static MPD): never worth caching. */
  readonly isStatic: (text: string) => boolean;
  /** How often players reload it, in seconds, when the document says; undefined when it does not. */
  readonly reloadSeconds: (text: string) => number | undefined;
  readonly rewrite: (text: string, options: DashRewriteOptions) => RewriteResult;
}

function positiveSeconds(value: string | undefined): number | undefined {
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

/** The start of the root element of an MPD or MPD Patch document (namespace prefix allowed). */
const DASH_ROOT = /<(?:[A-Za-z_][\w.-]*:)?(MPD|Patch)\b/;

/**
 * The root's name and start tag, up to the first `>`. The `>` is found with indexOf: a `[^>]*>` pattern,
 * retried at every `<MPD` of a document without `>`, takes time quadratic in its length.
 */
function dashRoot(text: string): { readonly name: 'MPD' | 'Patch'; readonly tag: string } | undefined {
  const match = DASH_ROOT.exec(text);
  if (match === null) return undefined;
  const close = text.indexOf('>', match.index);
  return { name: match[1] as 'MPD' | 'Patch', tag: close === -1 ? '' : text.slice(match.index, close + 1) };
}

const HLS: ManifestFormat = {
  kind: 'hls',
  // RFC 8216 §4: application/vnd.apple.mpegurl or audio/mpegurl; the x- forms are what servers send.
  mediaTypes: ['application/vnd.apple.mpegurl', 'application/x-mpegurl', 'audio/mpegurl', 'audio/x-mpegurl'],
  extensions: ['m3u8', 'm3u'],
  sniff: looksLikeHls,
  isStatic: (text) =>
    // A multivariant playlist is loaded once (RFC 8216 §6.3.4 reloads only media playlists).
    /^#EXT-X-STREAM-INF/m.test(text) ||
    /^#EXT-X-ENDLIST\b/m.test(text) ||
    /^#EXT-X-PLAYLIST-TYPE:\s*VOD\b/m.test(text),
  // RFC 8216 §6.3.4: reloaded every target duration; LL-HLS (RFC 8216bis §6.2.5) every part target.
  reloadSeconds: (text) =>
    positiveSeconds(/^#EXT-X-PART-INF:.*?\bPART-TARGET=([0-9.]+)/m.exec(text)?.[1]) ??
    positiveSeconds(/^#EXT-X-TARGETDURATION:\s*([0-9.]+)/m.exec(text)?.[1]),
  rewrite: rewriteHls,
};

const DASH: ManifestFormat = {
  kind: 'dash',
  // ISO/IEC 23009-1 Annex C.
  mediaTypes: ['application/dash+xml'],
  extensions: ['mpd'],
  sniff: (head) => looksLikeDash(head) && dashRoot(head)?.name === 'MPD',
  isStatic: (text) => {
    const root = dashRoot(text);
    // A patch sent under the MPD's type is still one: it only exists for a dynamic MPD.
    if (root?.name === 'Patch') return false;
    return !/\btype\s*=\s*["']dynamic["']/.test(root?.tag ?? '');
  },
  // ISO/IEC 23009-1 §5.4: a dynamic MPD is reloaded every minimumUpdatePeriod.
  reloadSeconds: (text) => {
    const period = /\bminimumUpdatePeriod\s*=\s*["']([^"']*)["']/.exec(text)?.[1];
    const seconds = period === undefined ? undefined : isoDurationSeconds(period);
    return seconds === 0 ? undefined : seconds;
  },
  rewrite: rewriteDash,
};

const DASH_PATCH: ManifestFormat = {
  kind: 'dash-patch',
  // ISO/IEC 23009-1 §5.15 (MPD patch) and its media type registration.
  mediaTypes: ['application/dash-patch+xml'],
  extensions: ['mpp'],
  sniff: (head) => looksLikeDash(head) && dashRoot(head)?.name === 'Patch',
  // A patch only exists for a dynamic MPD, and the player fetches one per MPD update.
  isStatic: () => false,
  // The patch does not say; the MPD it patches does (its minimumUpdatePeriod).
  reloadSeconds: () => undefined,
  rewrite: rewriteDash,
};

/** Every format, in the order a body is sniffed. */
export const MANIFEST_FORMATS: Readonly<Record<ManifestKind, ManifestFormat>> = {
  hls: HLS,
  'dash-patch': DASH_PATCH,
  dash: DASH,
};

const FORMAT_LIST: readonly ManifestFormat[] = Object.values(MANIFEST_FORMATS);

const BY_MEDIA_TYPE = new Map<string, ManifestFormat>(
  FORMAT_LIST.flatMap((format) => format.mediaTypes.map((type) => [type, format] as const)),
);
const BY_EXTENSION = new Map<string, ManifestFormat>(
  FORMAT_LIST.flatMap((format) => format.extensions.map((extension) => [extension, format] as const)),
);

/** The media type of a Content-Type value: parameters dropped, lower case. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The format a Content-Type names, if it names one. */
export function formatOfMediaType(contentType: string | undefined): ManifestFormat | undefined {
  return BY_MEDIA_TYPE.get(mediaTypeOf(contentType));
}

/** The format a request path promises by its extension (`/live/index.m3u8` → hls). */
export function formatOfPath(path: string): ManifestFormat | undefined {
  const dot = path.lastIndexOf('.');
  if (dot === -1 || dot < path.lastIndexOf('/')) return undefined;
  return BY_EXTENSION.get(path.slice(dot + 1).toLowerCase());
}

/** The format whose first bytes `head` are. */
export function sniffFormat(head: string): ManifestFormat | undefined {
  return FORMAT_LIST.find((format) => format.sniff(head));
}
