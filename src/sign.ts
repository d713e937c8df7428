/**
 * The signing side of streamgate alone — `import { signUrl, verifyRequest } from 'streamgate/sign'` — for
 * a website backend that hands out links and a server that checks them: pure functions over the token
 * formats, loading neither the gateway's HTTP stack (express, undici) nor its logging and metrics (pino,
 * prom-client). The main entry, `streamgate`, exports the same functions beside the gateway.
 */
import type { EctokenRules } from './tokens/ectoken.js';
import { signCookiesWith, signUrlWith, verifyWith } from './tokens/operations.js';
import type { RequestFacts, SchemeName } from './tokens/scheme.js';
import { verdictName, type DenialReason, type Verdict } from './tokens/verdict.js';

export type { SchemeName, TokenScheme } from './tokens/scheme.js';
export type { Verdict, Grant, Denial, DenialReason, TokenScope } from './tokens/verdict.js';
export { SignError } from './tokens/sign.js';
export { SCHEMES, SCHEME_NAMES, SCHEME_DEFINITIONS } from './tokens/registry.js';
export { canonicalIp } from './tokens/ip.js';
export {
  decryptEctoken,
  encryptEctoken,
  ectokenRules,
  type DecryptResult,
  type EctokenRules,
} from './tokens/ectoken.js';

export interface SignUrlOptions extends SchemeSignOptions {
  readonly scheme: SchemeName;
  /** The shared key (HMAC/MD5 schemes). CloudFront signs with `privateKey`, JWT with either. */
  readonly secret?: string;
  /** Expiry as Unix seconds. Give this or `ttl`. */
  readonly expires?: number;
  /** Lifetime in seconds from `now`. */
  readonly ttl?: number;
  /** Unix seconds; defaults to the clock. */
  readonly now?: number;
  /** Bind the token to the viewer's IP address (Gcore; ectoken writes it as `ec_clientip`). */
  readonly ip?: string;
  /**
   * Sign the directory that holds the path: the URL opens every file directly in that directory
   * (ectoken: `ec_url_allow` is that directory, so its whole subtree opens).
   */
  readonly dir?: boolean;
  /** Put a directory token in the path (`/dir/~token~expires/file`): the whole subtree opens. */
  readonly pathToken?: boolean;
}

/** Each scheme's own signing options; giving one to another scheme is an error, never ignored. */
export interface SchemeSignOptions {
  /** ectoken only: access rules written into the token (country, referrer, protocol, host, URL prefixes). */
  readonly rules?: EctokenRules;
  /**
   * ectoken: the query parameter that carries the token (the zone's; default `token`). akamai: the
   * token name (default `__token__`; `hdnts` for Segmented Media Protection).
   */
  readonly param?: string;
  /** akamai: ACL patterns the token opens (`/vod/movie-1/*`, `?` one character); joined by `!`. */
  readonly acl?: string | readonly string[];
  /** akamai: `st`, not valid before this Unix time. */
  readonly start?: number;
  /** akamai: `id`, a session id written into the token. */
  readonly sessionId?: string;
  /** akamai: `data`, a payload written into the token. */
  readonly data?: string;
  /** akamai: the property's salt (signed, never sent). */
  readonly salt?: string;
  /** akamai: sha256 (default), sha1 or md5. */
  readonly algorithm?: string;
  /** akamai: "Escape token input" (ip, id, data and url percent-encoded before signing). */
  readonly escapeEarly?: boolean;
  /** cloudfront: the PEM private key of the key pair (jwt: RS256/ES256/ES384 signing key). */
  readonly privateKey?: string;
  /** cloudfront: the key pair id CloudFront knows. */
  readonly keyPairId?: string;
  /** cloudfront: a custom policy Resource (`https://host/vod/movie-1/*`). */
  readonly policyResource?: string;
  /** cloudfront: an IpAddress CIDR range the viewer must come from. */
  readonly sourceIp?: string;
  /** bunny: token_path, the path prefix the token opens. */
  readonly tokenPath?: string;
  /** bunny: token_countries (ISO 3166 codes allowed). */
  readonly countries?: readonly string[];
  /** bunny: token_countries_blocked. */
  readonly countriesBlocked?: readonly string[];
  /** bunny: token_ignore_params (the URL's other parameters are not signed). */
  readonly ignoreParams?: boolean;
  /** bunny: limit, the download speed limit in kB/s that the gateway (or Bunny's edge) applies. */
  readonly limit?: number;
  /** jwt: extra claims (an object, or its JSON text). */
  readonly claims?: Readonly<Record<string, unknown>> | string;
  /** jwt: the kid header naming the signing key. */
  readonly kid?: string;
}

/**
 * Returns `url` with a token. Example (a website backend handing a player a 2-minute link):
 *
 * ```ts
 * import { signUrl } from 'streamgate';
 * const link = signUrl('https://cdn.example.com/videos/video-1/master.m3u8',
 *   { scheme: 'gcore', secret: process.env.STREAMGATE_SECRET!, ttl: 120, dir: true });
 * ```
 * @throws {SignError} for a bad secret, expiry, IP or path.
 */
export function signUrl(url: string, options: SignUrlOptions): string {
  return signUrlWith(url, options as unknown as Readonly<Record<string, unknown>>);
}

/**
 * The `Set-Cookie` values that carry a token for `url` (its directory with `dir`), for schemes whose
 * tokens travel in cookies (Akamai, CloudFront): HttpOnly, Path scoped like the token, Secure for
 * https URLs. A player then requests the plain URL with credentials.
 * @throws {SignError} for a scheme without cookies, or bad signing input.
 */
export function signCookies(url: string, options: SignUrlOptions): string[] {
  return signCookiesWith(url, options as unknown as Readonly<Record<string, unknown>>);
}

/** What verifyRequest accepts: a URL string, `{ url, ip }`, or a Node/express request. */
export type VerifiableRequest =
  | string
  | {
      readonly url: string;
      readonly ip?: string;
      /** Request headers (lower-case names): read for schemes whose tokens travel in cookies or headers. */
      readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
    }
  | {
      readonly url?: string;
      readonly socket?: { readonly remoteAddress?: string };
      readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
    };

export interface VerifyRequestOptions extends SchemeVerifyOptions {
  readonly scheme: SchemeName;
  /** The zone's key, or its keys for rotation (any of them opens). Public-key schemes take files instead. */
  readonly secret?: string | readonly string[];
  /** Unix seconds; defaults to the clock. */
  readonly now?: number;
  /**
   * The zone binds tokens to the client IP (taken from `request.ip` or the socket). Not for ectoken,
   * whose tokens carry their own `ec_clientip` rule, checked against that same address.
   */
  readonly bindIp?: boolean;
  /**
   * ectoken only: what its access rules are checked against. Nothing is read from the request's headers
   * (only the caller knows which proxies to trust); what is not given counts as unknown or absent.
   */
  readonly facts?: VerifyFacts;
}

/** Each scheme's own verifying options. */
export interface SchemeVerifyOptions {
  /** ectoken only: `ec_url_allow` compares without case (the zone's "ignore URL case"). */
  readonly ignoreUrlCase?: boolean;
  /** ectoken: the token's query parameter (default `token`; a bare `?<token>` too); akamai: the token name. */
  readonly param?: string;
  /** akamai: the property's salt. */
  readonly salt?: string;
  /** akamai: sha256 (default), sha1 or md5. */
  readonly algorithm?: string;
  /** akamai: "Escape token input". */
  readonly escapeEarly?: boolean;
  /** cloudfront: the key group's public keys, each under its key pair id. */
  readonly keyPairs?: ReadonlyArray<{ readonly id: string; readonly publicKey: string }>;
  /** cloudfront: one PEM public key (with keyPairId), instead of keyPairs. */
  readonly publicKey?: string | readonly string[];
  /** cloudfront: the id of publicKey. */
  readonly keyPairId?: string | readonly string[];
  /** bunny: also accept legacy SHA-256 tokens. */
  readonly legacy?: boolean;
  /** jwt: public keys (PEM text or JWK objects), each with an optional kid. */
  readonly publicKeys?: ReadonlyArray<{
    readonly kid?: string;
    readonly key: string | Record<string, unknown>;
  }>;
  /** jwt: a JWKS document's text. */
  readonly jwks?: string;
  /** jwt: seconds of clock skew allowed on exp and nbf (default 5). */
  readonly leeway?: number;
}

export interface VerifyFacts {
  /** The Referer header; absent or empty is a missing referrer. */
  readonly referer?: string;
  /** The protocol the viewer used (behind a trusted proxy, the forwarded one). */
  readonly proto?: 'http' | 'https';
  /** The host the request named, without port. */
  readonly host?: string;
  /** ISO 3166 code, or a lookup that runs only when a token has country rules. */
  readonly country?: string | (() => string | undefined);
}

function requestFacts(facts: VerifyFacts): Omit<RequestFacts, 'clientAddress'> {
  const { country, ...rest } = facts;
  if (country === undefined) return rest;
  return { ...rest, country: typeof country === 'function' ? country : () => country };
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly verdict: 'valid' | 'invalid' | 'expired' | 'bad_request';
  readonly status: 200 | 400 | 403 | 410;
  /** Why it was denied; absent when valid. */
  readonly reason?: DenialReason;
  readonly detail?: string;
  /** The full verdict, with the token's scope and expiry when valid. */
  readonly result: Verdict;
  /** The decoded path the request names (path token removed). */
  readonly path?: string;
  /** The query without the token parameters, as it should go to the origin. */
  readonly upstreamQuery: string;
}

/**
 * Checks a request's token. Example (an express route that serves protected files itself):
 *
 * ```ts
 * import { verifyRequest } from 'streamgate';
 * const check = verifyRequest(req, { scheme: 'gcore', secret: [current, previous] });
 * if (!check.ok) return res.status(check.status).send(check.reason);
 * ```
 * Never throws for a bad request: every outcome is a result.
 */
export function verifyRequest(request: VerifiableRequest, options: VerifyRequestOptions): VerifyResult {
  const url = typeof request === 'string' ? request : (request.url ?? '/');
  const clientIp =
    typeof request === 'string'
      ? undefined
      : 'ip' in request && request.ip !== undefined
        ? request.ip
        : 'socket' in request
          ? request.socket?.remoteAddress
          : undefined;
  const headers = typeof request === 'string' ? undefined : request.headers;
  const single = (name: string): string | undefined => {
    const value = headers?.[name];
    return typeof value === 'string' ? value : undefined;
  };
  const { facts, ...rest } = options;
  const checked = verifyWith(
    {
      url,
      ...(clientIp === undefined ? {} : { clientIp }),
      ...(headers === undefined ? {} : { cookies: single('cookie'), header: single }),
    },
    { ...rest, ...(facts === undefined ? {} : { facts: requestFacts(facts) }) },
    options.now,
  );
  const { verdict } = checked;
  return {
    ok: verdict.ok,
    verdict: verdictName(verdict),
    status: verdict.status,
    ...(verdict.ok ? {} : { reason: verdict.reason, detail: verdict.detail }),
    result: verdict,
    ...(checked.path === undefined ? {} : { path: checked.path }),
    upstreamQuery: checked.upstreamQuery,
  };
}
