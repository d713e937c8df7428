import type { PathGrant, SkippedUri, TokenGrant, UriTarget } from './types.js';

export type Resolution =
  { readonly ok: true; readonly url: URL } | { readonly ok: false; readonly reason: SkippedUri['reason'] };

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

/**
 * Resolves a URI as a player would (RFC 3986 §5 against the manifest's URL). Only http(s) targets can
 * carry a token: `data:` keys, `skd:` FairPlay key ids and Windows paths (`C:\…` parses as scheme `c:`)
 * are reported, never touched.
 */
export function resolveUri(raw: string, base: URL): Resolution {
  const trimmed = raw.trim();
  if (trimmed === '') return { ok: false, reason: 'unparseable' };
  const scheme = SCHEME.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === 'data') return { ok: false, reason: 'data-uri' };
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') {
    return { ok: false, reason: 'non-http-scheme' };
  }
  // rfc8216bis §4.3: a `{$name}` left here was not defined in this playlist (IMPORT from the
  // multivariant playlist); its host and scope are unknown.
  if (trimmed.includes('{$')) return { ok: false, reason: 'unresolved-variable' };
  try {
    const url = new URL(trimmed, base);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return { ok: false, reason: 'non-http-scheme' };
    return { ok: true, url };
  } catch {
    return { ok: false, reason: 'unparseable' };
  }
}

export interface SpliceSyntax {
  /** The text that separates query pairs in the document: `&`, or `&amp;` inside XML. */
  readonly amp: string;
  /** Escapes inserted text for its context, e.g. `$` → `$$` inside a DASH template. */
  readonly escape: (text: string) => string;
}

const PLAIN: SpliceSyntax = { amp: '&', escape: (text) => text };

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

function withQueryGrant(
  beforeQuery: string,
  query: string | undefined,
  params: ReadonlyArray<readonly [string, string]>,
  syntax: SpliceSyntax,
): string {
  // A grant without parameters only moves the URI (QueryGrant.rebaseTo): its query stays as it was.
  if (params.length === 0) return query === undefined ? beforeQuery : `${beforeQuery}?${query}`;
  const granted = new Set(params.map(([name]) => name));
  // Keep every other pair byte for byte and in order; a token already there is replaced, never doubled.
  const kept =
    query === undefined
      ? []
      : query.split(syntax.amp).filter((pair) => {
          const eq = pair.indexOf('=');
          return !granted.has(decodeName(eq === -1 ? pair : pair.slice(0, eq)));
        });
  const ours = params.map(([name, value]) => syntax.escape(`${name}=${value}`)).join(syntax.amp);
  const existing = kept.join(syntax.amp);
  if (existing === '') return `${beforeQuery}?${ours}`;
  if (existing.endsWith(syntax.amp)) return `${beforeQuery}?${existing}${ours}`;
  return `${beforeQuery}?${existing}${syntax.amp}${ours}`;
}

/** Index of the first character of the path in `uri` (after `scheme://authority` or `//authority`). */
function pathStart(uri: string): number {
  const scheme = SCHEME.exec(uri);
  const from = scheme ? scheme[0].length : 0;
  if (uri.startsWith('//', from)) {
    const slash = uri.indexOf('/', from + 2);
    return slash === -1 ? uri.length : slash;
  }
  return from;
}

function isAbsolute(uri: string): boolean {
  return SCHEME.test(uri) || uri.startsWith('//');
}

const PATH_TOKEN_SEGMENT = /^~[^/~]*~[^/~]*$/;
const DOT_DOT = /(?:^|\/)\.\.(?:\/|$)/;

function withPathGrant(path: string, afterPath: string, segment: string, syntax: SpliceSyntax): string {
  if (!path.startsWith('/')) return path;
  const depth = afterPath.split('/').length - 2;
  let slash = 0;
  for (let i = 0; i < depth; i += 1) {
    slash = path.indexOf('/', slash + 1);
    if (slash === -1) return path;
  }
  const insertAt = slash + 1;
  const nextSlash = path.indexOf('/', insertAt);
  const existing = nextSlash === -1 ? '' : path.slice(insertAt, nextSlash);
  const rest = PATH_TOKEN_SEGMENT.test(existing) ? path.slice(nextSlash + 1) : path.slice(insertAt);
  return `${path.slice(0, insertAt)}${syntax.escape(segment)}/${rest}`;
}

/**
 * A relative path reference with the grant's segment inserted where the resolved path has it: the
 * resolved path is the base directory's segments followed by the reference's own, so the reference
 * keeps its first (depth of `afterPath` − depth of the base) segments before the token. Its own text
 * is kept (a template's `$Number%05d$`, `{$variables}`); undefined when the token's directory is not
 * one the reference passes through.
 */
function withRelativePathGrant(path: string, grant: PathGrant, syntax: SpliceSyntax): string | undefined {
  const resolved = grant.resolvedPath;
  if (resolved === undefined || path.includes('\\') || /(?:^|\/)\.(?:\/|$)/.test(path)) return undefined;
  const own = path.split('/');
  const baseDepth = resolved.split('/').length - own.length;
  const skip = grant.afterPath.split('/').length - 1 - baseDepth;
  if (baseDepth < 1 || skip < 0 || skip >= own.length) return undefined;
  return [...own.slice(0, skip), syntax.escape(grant.segment), ...own.slice(skip)].join('/');
}

/**
 * Applies a grant to a URI as written in the manifest. Only the query (or, for path grants, the path)
 * changes: the fragment, `{$variables}`, odd characters and the existing query bytes are kept.
 */
export function applyGrant(raw: string, grant: TokenGrant, syntax: SpliceSyntax = PLAIN): string {
  const hash = raw.indexOf('#');
  const fragment = hash === -1 ? '' : raw.slice(hash);
  const noFragment = hash === -1 ? raw : raw.slice(0, hash);
  const question = noFragment.indexOf('?');
  let beforeQuery = question === -1 ? noFragment : noFragment.slice(0, question);
  const query = question === -1 ? undefined : noFragment.slice(question + 1);

  const start = pathStart(beforeQuery);
  let prefix = beforeQuery.slice(0, start);
  let path = beforeQuery.slice(start);
  if (grant.rebaseTo !== undefined && isAbsolute(beforeQuery)) prefix = grant.rebaseTo;

  if (grant.kind === 'path') {
    if (prefix === '' && !path.startsWith('/')) {
      // A relative reference that does not climb resolves below the manifest, inside the path token's
      // subtree: it inherits the token as it is (unless the token is this URI's own). One that climbs
      // is written root-relative from the resolved path (templates keep their own text:
      // `$Number%05d$` is not what that path holds).
      if (!DOT_DOT.test(path) && grant.insertIntoRelative) {
        const inserted = withRelativePathGrant(path, grant, syntax);
        return inserted === undefined
          ? raw
          : `${inserted}${query === undefined ? '' : `?${query}`}${fragment}`;
      }
      if (!DOT_DOT.test(path) || grant.resolvedPath === undefined || path.includes('$')) return raw;
      path = grant.resolvedPath;
    }
    path = withPathGrant(path, grant.afterPath, grant.segment, syntax);
    beforeQuery = prefix + path;
    return `${beforeQuery}${query === undefined ? '' : `?${query}`}${fragment}`;
  }
  beforeQuery = prefix + path;
  return withQueryGrant(beforeQuery, query, grant.params, syntax) + fragment;
}

/** A target whose URL object is known already. */
export function targetOf(
  site: string,
  resource: UriTarget['resource'],
  wildcard: boolean,
  url: URL,
): UriTarget {
  return { site, resource, wildcard, url, origin: url.origin, pathname: url.pathname };
}

class LazyTarget implements UriTarget {
  #url: URL | undefined;
  constructor(
    readonly site: string,
    readonly resource: UriTarget['resource'],
    readonly wildcard: boolean,
    readonly href: string,
    readonly origin: string,
    readonly pathname: string,
  ) {}

  get url(): URL {
    this.#url ??= new URL(this.href);
    return this.#url;
  }
}

/**
 * A target for `href`, whose origin and pathname the caller already knows to be exactly what WHATWG
 * URL would give: the URL object is built only if a tokenizer asks for it (a long playlist has
 * thousands of URIs, and building each URL is most of the cost of rewriting it).
 */
export function lazyTarget(
  site: string,
  resource: UriTarget['resource'],
  wildcard: boolean,
  href: string,
  origin: string,
  pathname: string,
): UriTarget {
  return new LazyTarget(site, resource, wildcard, href, origin, pathname);
}
