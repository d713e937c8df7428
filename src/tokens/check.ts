import { canonicalIp } from './ip.js';
import { canonicalRequestPath, encodePath } from './path.js';
import { decodeValue, parseQuery, withoutParams, type QueryPair } from './query.js';
import type { PresentedToken, RequestFacts, TokenScheme } from './scheme.js';
import { deny, type Denial, type Verdict } from './verdict.js';

export interface CheckOptions {
  readonly scheme: TokenScheme;
  /** Accepted keys; the first is the signing key. */
  readonly keys: readonly string[];
  /** Unix seconds. */
  readonly now: number;
  /** Whether tokens are bound to the client IP (the IP is part of the signed string). */
  readonly bindIp?: boolean;
  /** The client's address (socket, or forwarded by a trusted proxy). Required when bindIp is set. */
  readonly clientIp?: string;
  /** Referrer, protocol, host and country, for schemes whose tokens carry access rules (ectoken). */
  readonly facts?: Omit<RequestFacts, 'clientAddress'>;
  /** The Cookie header, read only when the scheme's tokens travel in cookies. */
  readonly cookies?: string;
  /** Request headers by lower-case name, read only when the scheme's tokens travel in headers. */
  readonly header?: (name: string) => string | undefined;
}

export interface CheckedRequest {
  readonly verdict: Verdict;
  /** The decoded path with any path token removed; undefined when the path was refused. */
  readonly path?: string;
  /** `path`, encoded canonically, for the upstream request. */
  readonly upstreamPath?: string;
  /** The raw query with the token parameters removed: every other pair byte for byte, in order. */
  readonly upstreamQuery: string;
  /** Where the token was found (the cookie strategy hands out a cookie only to a token that was not one). */
  readonly via?: 'query' | 'path' | 'cookie' | 'header';
}

/** A path segment holding an embedded token: `~{token}~{expires}` (README "Token rules"; `~` is not base64url). */
const PATH_TOKEN = /^~([^~]*)~([^~]*)$/;

/** Whether a decoded path segment has the shape of an embedded token (for log redaction). */
export function isPathTokenSegment(decodedSegment: string): boolean {
  return PATH_TOKEN.test(decodedSegment);
}

const paramNames = new WeakMap<TokenScheme, ReadonlySet<string>>();

export function tokenParamNames(scheme: TokenScheme): ReadonlySet<string> {
  let names = paramNames.get(scheme);
  if (!names) {
    names = new Set(scheme.transports.query);
    paramNames.set(scheme, names);
  }
  return names;
}

/** RFC 6265 §5.4 Cookie header: `name=value; name2=value2`; the first cookie of a name wins. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header === '') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    // RFC 6265 §4.1.1: a cookie-value may be wrapped in double quotes.
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

const noHeader = (): undefined => undefined;

/**
 * A first path segment holding a token (Bunny `/bcdn_token=…&token_path=%2Fdir%2F&expires=N/dir/f`)
 * is taken off before the path is judged: its `%2F` belong to the token, not to the path.
 */
export function peelPathPrefix(
  rawPath: string,
  prefix: string | undefined,
): { readonly rawPath: string; readonly segment?: string } {
  if (prefix === undefined || !rawPath.startsWith(`/${prefix}`)) return { rawPath };
  const next = rawPath.indexOf('/', 1);
  return next === -1
    ? { rawPath: '/', segment: rawPath.slice(1) }
    : { rawPath: rawPath.slice(next), segment: rawPath.slice(1, next) };
}

/** A query pair that is a whole token by itself (`/file.mp4?<token>`): base64 text, padding allowed. */
const BARE_TOKEN = /^[A-Za-z0-9_\-+/]{32,}={0,2}$/;

function bareToken(pair: QueryPair): string | undefined {
  if (pair.rawValue !== undefined && pair.rawValue.replace(/=/g, '') !== '') return undefined;
  const text = decodeValue(pair.raw);
  return text !== undefined && BARE_TOKEN.test(text) ? text : undefined;
}

/** Whether a query pair would be read as a bare token (`/file.mp4?<token>`), for log redaction. */
export function isBareToken(pair: QueryPair): boolean {
  return bareToken(pair) !== undefined;
}

function splitTarget(target: string): { rawPath: string; rawQuery: string } {
  // Absolute-form targets are cut to their path by hand: WHATWG URL would resolve `..` first and hide it.
  let rest = target;
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length) || '/';
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);
  const question = rest.indexOf('?');
  return question === -1
    ? { rawPath: rest, rawQuery: '' }
    : { rawPath: rest.slice(0, question), rawQuery: rest.slice(question + 1) };
}

function single(pairs: readonly QueryPair[], name: string): QueryPair | Denial | undefined {
  let found: QueryPair | undefined;
  let count = 0;
  for (const pair of pairs) {
    if (pair.name !== name) continue;
    found ??= pair;
    count += 1;
  }
  if (count > 1) return deny('malformed', `parameter ${name} given ${count} times`);
  return found;
}

function isDenial(value: unknown): value is Denial {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false;
}

interface FromQuery {
  readonly presented: PresentedToken | Denial | undefined;
  /** A bare-token pair to leave out of the upstream query. */
  readonly bare?: QueryPair;
}

function presentedFromQuery(pairs: readonly QueryPair[], scheme: TokenScheme): FromQuery {
  const names = scheme.params;
  const token = single(pairs, names.token);
  if (isDenial(token)) return { presented: token };
  if (names.expires === undefined) {
    // One-parameter formats: the named parameter or, without it, a bare token as (part of) the query.
    // With the named one present, other long pairs are the origin's own parameters.
    if (scheme.bareQueryToken && token === undefined) {
      let bare: { pair: QueryPair; text: string } | undefined;
      for (const pair of pairs) {
        const text = bareToken(pair);
        if (text === undefined) continue;
        if (bare !== undefined) {
          return { presented: deny('malformed', 'more than one bare token in the query') };
        }
        bare = { pair, text };
      }
      if (bare !== undefined) return { presented: { token: bare.text, expires: '' }, bare: bare.pair };
    }
    if (token === undefined) return { presented: undefined };
    const value = decodeValue(token.rawValue ?? '');
    if (!value) return { presented: deny('malformed', `parameter ${names.token} empty or badly encoded`) };
    return { presented: { token: value, expires: '' } };
  }
  const expires = single(pairs, names.expires);
  if (isDenial(expires)) return { presented: expires };
  if (token === undefined && expires === undefined) return { presented: undefined };
  if (token === undefined) return { presented: deny('malformed', `parameter ${names.token} missing`) };
  if (expires === undefined) return { presented: deny('malformed', `parameter ${names.expires} missing`) };
  const tokenValue = decodeValue(token.rawValue ?? '');
  const expiresValue = decodeValue(expires.rawValue ?? '');
  if (!tokenValue) return { presented: deny('malformed', `parameter ${names.token} empty or badly encoded`) };
  if (!expiresValue) {
    return { presented: deny('malformed', `parameter ${names.expires} empty or badly encoded`) };
  }
  return { presented: { token: tokenValue, expires: expiresValue } };
}

/**
 * Checks one request target (`/path?query`, or an absolute URL) against a zone's scheme and keys:
 * the path first (400), then the token's presence and form (403), signature (403) and expiry (410).
 * Never throws; every outcome is a verdict.
 */
export function checkRequest(target: string, options: CheckOptions): CheckedRequest {
  const split = splitTarget(target);
  const { rawQuery } = split;
  const { scheme } = options;
  const peeled = peelPathPrefix(split.rawPath, scheme.transports.pathPrefix);
  const rawPath = peeled.rawPath;
  const pairs = parseQuery(rawQuery);
  const fromQuery: FromQuery =
    scheme.present === undefined
      ? presentedFromQuery(pairs, scheme)
      : {
          presented: scheme.present({
            pairs,
            cookie: (name) => cookieValue(options.cookies, name),
            header: options.header ?? noHeader,
            ...(peeled.segment === undefined ? {} : { pathSegment: peeled.segment }),
          }),
        };
  const kept = fromQuery.bare === undefined ? pairs : pairs.filter((pair) => pair !== fromQuery.bare);
  const upstreamQuery = withoutParams(kept, tokenParamNames(scheme));
  const canonical = canonicalRequestPath(rawPath);
  if (!canonical.ok) return { verdict: canonical, upstreamQuery };

  // `~` is rare in media paths; only a path holding one can carry an embedded token.
  const segments = scheme.pathTokens && canonical.path.includes('~') ? canonical.path.split('/') : [];
  const tokenSegments = segments.flatMap((segment, index) => (PATH_TOKEN.test(segment) ? [index] : []));
  let path = canonical.path;
  let presented: PresentedToken | Denial | undefined = fromQuery.presented;

  const finish = (verdict: Verdict): CheckedRequest => ({
    verdict,
    path,
    upstreamPath: encodePath(path),
    upstreamQuery,
  });

  if (tokenSegments.length > 1) return finish(deny('malformed', 'more than one path token'));
  const tokenIndex = tokenSegments[0];
  if (tokenIndex !== undefined) {
    if (presented !== undefined) return finish(deny('malformed', 'both a path token and a query token'));
    const match = PATH_TOKEN.exec(segments[tokenIndex] ?? '');
    const directory = `${segments.slice(0, tokenIndex).join('/')}/`;
    path = directory + segments.slice(tokenIndex + 1).join('/');
    presented = { token: match?.[1] ?? '', expires: match?.[2] ?? '', pathTokenDirectory: directory };
  }
  if (presented === undefined) {
    // In a zone that reads no path tokens (pathTokens: false, or a scheme without them) `~…~…` is an
    // ordinary segment: the operator's log says why a link that looks signed is refused.
    const inert =
      !scheme.pathTokens &&
      canonical.path.includes('/~') &&
      canonical.path.split('/').some(isPathTokenSegment);
    return finish(
      deny(
        'missing',
        inert ? 'no token (this zone reads no ~token~expires path segment as a token)' : 'no token',
      ),
    );
  }
  if (isDenial(presented)) return finish(presented);
  // Formats that sign the rest of the URL (a CloudFront canned policy) need the query without the token.
  if (scheme.present !== undefined && upstreamQuery !== '')
    presented = { ...presented, otherQuery: upstreamQuery };

  let ip: string | undefined;
  if (options.bindIp) {
    ip = options.clientIp === undefined ? undefined : canonicalIp(options.clientIp);
    if (ip === undefined) return finish(deny('invalid', 'IP-bound zone and no usable client address'));
  }
  const facts: RequestFacts | undefined = scheme.readsRequestFacts
    ? { ...options.facts, clientAddress: options.clientIp }
    : undefined;
  const verdict = scheme.verify(presented, { path, keys: options.keys, now: options.now, ip, facts });
  return {
    ...finish(verdict),
    via: presented.via ?? (presented.pathTokenDirectory === undefined ? 'query' : 'path'),
  };
}
