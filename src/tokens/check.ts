import { canonicalIp } from './ip.js';
import { canonicalRequestPath, encodePath } from './path.js';
import { decodeValue, parseQuery, withoutParams, type QueryPair } from './query.js';
import type { PresentedToken, TokenScheme } from './scheme.js';
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
}

export interface CheckedRequest {
  readonly verdict: Verdict;
  /** The decoded path with any path token removed; undefined when the path was refused. */
  readonly path?: string;
  /** `path`, encoded canonically, for the upstream request. */
  readonly upstreamPath?: string;
  /** The raw query with the token parameters removed: every other pair byte for byte, in order. */
  readonly upstreamQuery: string;
}

/** A path segment holding an embedded token: `~{token}~{expires}` (SPEC §3; `~` is not base64url). */
const PATH_TOKEN = /^~([^~]*)~([^~]*)$/;

const paramNames = new WeakMap<TokenScheme, ReadonlySet<string>>();

function tokenParamNames(scheme: TokenScheme): ReadonlySet<string> {
  let names = paramNames.get(scheme);
  if (!names) {
    names = new Set([scheme.params.token, scheme.params.expires]);
    paramNames.set(scheme, names);
  }
  return names;
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
  const found = pairs.filter((pair) => pair.name === name);
  if (found.length > 1) return deny('malformed', `parameter ${name} given ${found.length} times`);
  return found[0];
}

function isDenial(value: unknown): value is Denial {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false;
}

function presentedFromQuery(
  pairs: readonly QueryPair[],
  scheme: TokenScheme,
): PresentedToken | Denial | undefined {
  const token = single(pairs, scheme.params.token);
  const expires = single(pairs, scheme.params.expires);
  if (isDenial(token)) return token;
  if (isDenial(expires)) return expires;
  if (token === undefined && expires === undefined) return undefined;
  if (token === undefined) return deny('malformed', `parameter ${scheme.params.token} missing`);
  if (expires === undefined) return deny('malformed', `parameter ${scheme.params.expires} missing`);
  const tokenValue = decodeValue(token.rawValue ?? '');
  const expiresValue = decodeValue(expires.rawValue ?? '');
  if (!tokenValue) return deny('malformed', `parameter ${scheme.params.token} empty or badly encoded`);
  if (!expiresValue) return deny('malformed', `parameter ${scheme.params.expires} empty or badly encoded`);
  return { token: tokenValue, expires: expiresValue };
}

/**
 * Checks one request target (`/path?query`, or an absolute URL) against a zone's scheme and keys:
 * the path first (400), then the token's presence and form (403), signature (403) and expiry (410).
 * Never throws; every outcome is a verdict.
 */
export function checkRequest(target: string, options: CheckOptions): CheckedRequest {
  const { rawPath, rawQuery } = splitTarget(target);
  const pairs = parseQuery(rawQuery);
  const upstreamQuery = withoutParams(pairs, tokenParamNames(options.scheme));
  const canonical = canonicalRequestPath(rawPath);
  if (!canonical.ok) return { verdict: canonical, upstreamQuery };

  // `~` is rare in media paths; only a path holding one can carry an embedded token.
  const segments = canonical.path.includes('~') ? canonical.path.split('/') : [];
  const tokenSegments = segments.flatMap((segment, index) => (PATH_TOKEN.test(segment) ? [index] : []));
  let path = canonical.path;
  let presented: PresentedToken | Denial | undefined = presentedFromQuery(pairs, options.scheme);

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
  if (presented === undefined) return finish(deny('missing', 'no token'));
  if (isDenial(presented)) return finish(presented);

  let ip: string | undefined;
  if (options.bindIp) {
    ip = options.clientIp === undefined ? undefined : canonicalIp(options.clientIp);
    if (ip === undefined) return finish(deny('invalid', 'IP-bound zone and no usable client address'));
  }
  return finish(options.scheme.verify(presented, { path, keys: options.keys, now: options.now, ip }));
}
