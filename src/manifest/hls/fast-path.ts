import type { ResourceClass, TokenGrant, UriTarget } from '../types.js';
import { lazyTarget } from '../uri.js';

/**
 * Shortcuts for the URIs that make up almost all of a long playlist: relative paths such as
 * `segment-42.ts` or `v1/seg:01.ts?x=1`. WHATWG URL resolves a base and a reference in one call about
 * five times slower than it parses one absolute URL (Node 20), and a 10,000-segment playlist pays that
 * per line. Both shortcuts give exactly what `resolveUri` and `applyGrant` give; the HLS tests check
 * that on arbitrary strings.
 */

/** The reference is not a plain relative path: resolve it the general way. */
export const NOT_PLAIN = 0;
/** A plain relative path with a `?` or `#` in it. */
export const PLAIN_WITH_QUERY = 1;
/** A plain relative path with neither `?` nor `#`. */
export const PLAIN_PATH = 2;

/**
 * Classifies a (trimmed) reference. Plain means: printable ASCII without space, `{` or `}`; no leading
 * `/`, `\`, `?` or `#` (RFC 3986 §4.2 relative-path reference); no `:` before the first `/`, `?` or `#`
 * (it would be a scheme); no dot segment in the path (`.`, `..`, or either spelled with `%2e`). For
 * such a reference, WHATWG URL parsing of `directory + reference` is the same as resolving the reference
 * against the base: the differences between the two lie in the leading character and in the stripping
 * of surrounding controls and spaces, which are all excluded. Dot segments are excluded because that is
 * where parsers go wrong: Node 20's keeps the last `.` of `https://h/c/.a/.`, while resolving `.a/.`
 * against `https://h/c/x` gives `https://h/c/.a/`, as the URL standard says.
 */
export function classifyReference(reference: string): number {
  const length = reference.length;
  if (length === 0) return NOT_PLAIN;
  const first = reference.charCodeAt(0);
  if (first === 0x2f || first === 0x5c || first === 0x3f || first === 0x23) return NOT_PLAIN;
  let inFirstSegment = true;
  let inPath = true;
  let segmentStart = 0;
  let shape = PLAIN_PATH;
  for (let i = 0; i < length; i += 1) {
    const code = reference.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f || code === 0x7b || code === 0x7d) return NOT_PLAIN;
    if (code === 0x3f || code === 0x23) {
      if (inPath && isDotSegment(reference, segmentStart, i)) return NOT_PLAIN;
      shape = PLAIN_WITH_QUERY;
      inFirstSegment = false;
      inPath = false;
    } else if (code === 0x2f || code === 0x5c) {
      if (inPath && isDotSegment(reference, segmentStart, i)) return NOT_PLAIN;
      segmentStart = i + 1;
      inFirstSegment = false;
    } else if (code === 0x3a && inFirstSegment) {
      return NOT_PLAIN;
    }
  }
  if (inPath && isDotSegment(reference, segmentStart, length)) return NOT_PLAIN;
  return shape;
}

/** `text[start, end)` is `.` or `..`, each dot possibly spelled `%2e` or `%2E` (WHATWG URL §4.4). */
function isDotSegment(text: string, start: number, end: number): boolean {
  let dots = 0;
  let i = start;
  while (i < end) {
    if (text.charCodeAt(i) === 0x2e) {
      i += 1;
    } else if (
      text.charCodeAt(i) === 0x25 &&
      text.charCodeAt(i + 1) === 0x32 &&
      (text.charCodeAt(i + 2) | 0x20) === 0x65 &&
      i + 3 <= end
    ) {
      i += 3;
    } else {
      return false;
    }
    dots += 1;
    if (dots > 2) return false;
  }
  return dots > 0;
}

/**
 * `scheme://authority/dir/` of an http(s) base (query, fragment and last path segment cut), or
 * `undefined` for other bases.
 */
export function baseDirectory(base: URL): string | undefined {
  if (base.protocol !== 'http:' && base.protocol !== 'https:') return undefined;
  const href = base.href;
  const query = href.indexOf('?');
  const hash = href.indexOf('#');
  const cut = query === -1 ? hash : hash === -1 ? query : Math.min(query, hash);
  const noQuery = cut === -1 ? href : href.slice(0, cut);
  return noQuery.slice(0, noQuery.lastIndexOf('/') + 1);
}

/**
 * What `applyGrant` appends to a plain path with no query and no fragment for a query grant that does
 * not rebase: `?name=value&…` (the path itself is kept). Undefined for every other case. The suffix is
 * built once per grant object (forward hands every URI the same one; mint a new one per URI).
 */
export function createQuerySuffixer(): (shape: number, grant: TokenGrant) => string | undefined {
  let lastGrant: TokenGrant | undefined;
  let lastSuffix = '';
  return (shape, grant) => {
    if (
      shape !== PLAIN_PATH ||
      grant.kind !== 'query' ||
      grant.rebaseTo !== undefined ||
      grant.params.length === 0
    ) {
      return undefined;
    }
    if (grant !== lastGrant) {
      let suffix = '';
      for (const [name, value] of grant.params) suffix += `${suffix === '' ? '?' : '&'}${name}=${value}`;
      lastSuffix = suffix;
      lastGrant = grant;
    }
    return lastSuffix;
  };
}

/** Index of the first `?` or `#` in a reference, or -1. */
export function queryOrFragment(reference: string): number {
  const query = reference.indexOf('?');
  const hash = reference.indexOf('#');
  if (query === -1) return hash;
  return hash === -1 ? query : Math.min(query, hash);
}

// RFC 3986 pchar and `/`: characters the WHATWG path state copies without change.
const VERBATIM_PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;

/** A relative path WHATWG URL would append to the base directory byte for byte (no dot segments). */
export function isVerbatimPath(path: string): boolean {
  return VERBATIM_PATH.test(path) && !DOT_SEGMENT.test(path);
}

/** The path of a base directory (`https://h/a/b/` → `/a/b/`), when it follows the origin verbatim. */
export function verbatimDirectoryPath(directory: string, origin: string): string | undefined {
  return directory.startsWith(`${origin}/`) ? directory.slice(origin.length) : undefined;
}

// RFC 3986 pchar without `%` and `:`: a name made of these is its own decoded form and no scheme.
const NAME_CHAR = new Uint8Array(128);
for (const char of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=@") {
  NAME_CHAR[char.charCodeAt(0)] = 1;
}

/** An http(s) base directory whose path follows its origin verbatim (see verbatimDirectoryPath). */
export interface PlainBase {
  /** `scheme://authority/dir/`. */
  readonly directory: string;
  readonly origin: string;
  /** `/dir/`, as it follows the origin in `directory`. */
  readonly path: string;
}

/**
 * The target of a plain relative reference (`shape` from classifyReference, not NOT_PLAIN) below
 * `base`, its URL built only if read; undefined when the URL parser would not copy the reference's
 * path verbatim, and the caller must resolve it another way.
 */
export function plainTarget(
  site: string,
  resource: ResourceClass,
  wildcard: boolean,
  reference: string,
  shape: number,
  base: PlainBase,
): UriTarget | undefined {
  const cut = shape === PLAIN_PATH ? -1 : queryOrFragment(reference);
  const pathPart = cut === -1 ? reference : reference.slice(0, cut);
  if (!isVerbatimPath(pathPart)) return undefined;
  return lazyTarget(site, resource, wildcard, base.directory + reference, base.origin, base.path + pathPart);
}

/** A file name next to the playlist (`seg-42.ts`): what a NameTokenizer takes. */
export function isPlainName(reference: string): boolean {
  const length = reference.length;
  if (length === 0 || reference === '.' || reference === '..') return false;
  for (let i = 0; i < length; i += 1) {
    const code = reference.charCodeAt(i);
    if (code >= 128 || NAME_CHAR[code] === 0) return false;
  }
  return true;
}
