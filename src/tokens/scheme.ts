import type { QueryPair } from './query.js';
import type { SCHEME_DEFINITIONS } from './registry.js';
import type { Denial, Grant, Verdict } from './verdict.js';

/** The names of the schemes in src/tokens/registry.ts, the one list every layer reads. */
export type SchemeName = (typeof SCHEME_DEFINITIONS)[number]['name'];

/**
 * Where a scheme's token travels. The gateway looks in each place the scheme names, removes the
 * token before proxying, and log redaction hides every one of them.
 */
export interface Transports {
  /** Query parameters the token owns (token, expiry, policy, …): all removed before proxying. */
  readonly query: readonly string[];
  /** The whole query may be the token (`/file.mp4?<token>`, Edgecast's own examples). */
  readonly bareQuery: boolean;
  /** The `/dir/~token~expires/file` segment (README "Token rules"). */
  readonly pathSegment: boolean;
  /** A first path segment starting with this text holds the token (Bunny `/bcdn_token=…/dir/file`). */
  readonly pathPrefix?: string;
  /** Cookies that may carry the token. */
  readonly cookies: readonly string[];
  /** Request headers that may carry the token (lower case). */
  readonly headers: readonly string[];
}

/** What a scheme can express; config, CLI and docs read these instead of naming schemes. */
export interface SchemeCapabilities {
  /**
   * IP binding: `zone` when the zone binds tokens to the viewer (bindIp, the address is signed),
   * `token` when the token itself says (ec_clientip, Akamai `ip=`, Bunny's IP flag, a CloudFront
   * IpAddress condition, a JWT claim), false when the format cannot bind.
   */
  readonly ip: 'zone' | 'token' | false;
  /** One token can open a directory (or a subtree): the forward strategy can copy it. */
  readonly directory: boolean;
  /** Tokens can travel in the path: the path strategy works. */
  readonly pathForm: boolean;
  /** Tokens carry access rules beyond path and expiry (country, referrer, IP ranges, …). */
  readonly rules: boolean;
}

/** Where check.ts looks for a token: the query as parsed, and (for cookie/header transports) the rest. */
export interface TokenSource {
  readonly pairs: readonly QueryPair[];
  /** A cookie's value (undecoded), or undefined. Only asked for names in transports.cookies. */
  readonly cookie: (name: string) => string | undefined;
  /** A request header's value, or undefined. Only asked for names in transports.headers. */
  readonly header: (name: string) => string | undefined;
  /** The first path segment when it starts with transports.pathPrefix (raw, without the slash). */
  readonly pathSegment?: string;
}

/** What is being signed: a file, or a directory (a decoded path ending in `/`). */
export interface SignTarget {
  readonly path: string;
  /** Unix seconds; the token is valid while `now < expires`. */
  readonly expires: number;
  /** Canonical client IP (see canonicalIp) when the token is bound to an address. */
  readonly ip?: string;
  /**
   * Access rules written into the token beside path and expiry (ectoken `ec_*` pairs: client IP,
   * country, referrer, protocol, host; an explicit `ec_url_allow`). Schemes without rules ignore them.
   */
  readonly rules?: ReadonlyArray<readonly [string, string]>;
  /**
   * `https://host[:port]` the URL is for, where the format signs whole URLs (CloudFront); undefined
   * when only a path is known.
   */
  readonly origin?: string;
  /**
   * The URL's other query parameters (raw, in order), where the format signs them too (CloudFront's
   * canned policy signs the whole URL, Bunny signs every parameter).
   */
  readonly query?: string;
}

/**
 * What the gateway knows of a request beyond its path, for schemes whose tokens carry access rules.
 * The country is looked up only when a token asks for it.
 */
export interface RequestFacts {
  /** The client's address as seen (socket, or forwarded by a trusted proxy); canonicalised by the user. */
  readonly clientAddress?: string;
  readonly country?: () => string | undefined;
  /** The Referer header, undefined when absent. */
  readonly referer?: string;
  readonly proto?: 'http' | 'https';
  /** The Host the client asked for, without port. */
  readonly host?: string;
  /** The Host as sent, port included (formats that sign whole URLs: CloudFront). */
  readonly authority?: string;
}

/** A token as it arrived, taken out of the query string or the path, values decoded. */
export interface PresentedToken {
  readonly token: string;
  readonly expires: string;
  /**
   * For a path-embedded token, the directory the token stands after (README "Token rules"): it opens that whole
   * subtree. For a query token, undefined: the token signs the file or the directory holding it.
   */
  readonly pathTokenDirectory?: string;
  /** Every field the format sends apart (CloudFront Policy, Key-Pair-Id, …), values decoded. */
  readonly fields?: ReadonlyMap<string, string>;
  /** Where it was found; a cookie token is never copied into a URL. */
  readonly via?: 'query' | 'path' | 'cookie' | 'header';
  /** The query without the token's own parameters (raw), for formats that sign the rest of it. */
  readonly otherQuery?: string;
}

export interface VerifyContext {
  /** The decoded, canonical request path (path token removed). */
  readonly path: string;
  /** Accepted keys, signing key first (rotation: any of them opens). */
  readonly keys: readonly string[];
  /** Unix seconds. */
  readonly now: number;
  /** Canonical client IP when the zone binds tokens to IPs; undefined otherwise. */
  readonly ip?: string;
  /** The rest of the request, for rule-carrying tokens. */
  readonly facts?: RequestFacts;
}

/**
 * One CDN token format. Implementations are pure: the clock, the keys and the client address are
 * parameters, so every result is reproducible.
 */
export interface TokenScheme {
  readonly name: string;
  /**
   * Query parameter names: the token and, for formats that send it apart, its expiry. Both are removed
   * before the request is proxied.
   */
  readonly params: { readonly token: string; readonly expires?: string };
  /** The whole query may be the token (`/file.mp4?<token>`, Edgecast's own examples). */
  readonly bareQueryToken: boolean;
  /** The token may travel in the path (`/dir/~token~expires/file`, README "Token rules"). */
  readonly pathTokens: boolean;
  /**
   * What a token signed for a directory (`/dir/`) opens: `files` directly in it and no subdirectory
   * (Gcore "Query String Forwarding"; only the path form opens the subtree, README "Token rules").
   * Undefined: everything below it (ectoken `ec_url_allow`, Akamai and CloudFront wildcards, Bunny
   * `token_path`, a JWT prefix claim).
   */
  readonly directoryScope?: 'files';
  /** The longest token a verifier accepts; a signer never hands out a longer one. */
  readonly maxTokenLength: number;
  /** Tokens carry rules about the request beyond its path (referrer, country, …): VerifyContext.facts. */
  readonly readsRequestFacts: boolean;
  /** Whether the format can bind a token to the client's IP address. */
  readonly supportsIp: boolean;
  /** Why a key cannot be used to sign with this format (Azure: alphanumeric, ≤ 250), or undefined. */
  keyProblem?(key: string): string | undefined;
  /** The exact bytes that are hashed (exposed for the CLI's --explain and for the vector tests). */
  stringToSign(target: SignTarget, key: string): string;
  /** The token value for `target` under `key`. */
  sign(target: SignTarget, key: string): string;
  /** Signature first, expiry second (README "Token rules"): a forged token is 403 whatever its expiry. */
  verify(presented: PresentedToken, context: VerifyContext): Verdict;
  /** Whether the token behind `grant` opens `path` too (the `forward` strategy copies it only then). */
  covers(grant: Grant, path: string): boolean;
  /**
   * Whether the token opens every file directly in `directory` (true), none of them (false), or
   * depends on the name (undefined): lets a long playlist's coverage be judged once.
   */
  coversDirectory?(grant: Grant, directory: string): boolean | undefined;
  /** The query parameters that carry `token` (and its expiry, where the format sends it apart). */
  queryParams(token: string, expires: number): ReadonlyArray<readonly [string, string]>;
  /** Where the token travels (query, path, cookie, header). */
  readonly transports: Transports;
  readonly capabilities: SchemeCapabilities;
  /**
   * Reads a presented token from the request, for formats whose token is more than the
   * `params.token`/`params.expires` pair (several fields, cookies, headers). Undefined: no token.
   */
  present?(source: TokenSource): PresentedToken | Denial | undefined;
  /** Cookie names and values that carry `token` (the cookie strategy and `sign --cookie`). */
  cookieParams?(token: string, expires: number): ReadonlyArray<readonly [string, string]>;
  /**
   * Signing is costly (RSA): the mint strategy signs each URI's directory once per manifest and
   * hands that grant to every file in it.
   */
  readonly mintPerDirectory?: boolean;
  /** The scheme holds its own signing key (a private key): `sign` ignores the shared secret. */
  readonly ownsSigningKey?: boolean;
  /**
   * Where a path token of this format stands, when not as `~token~expires` after the signed directory
   * (README "Token rules"): Bunny's `bcdn_token=…&expires=N` is the first segment.
   */
  pathForm?(token: string, expires: number): { readonly after: string; readonly segment: string };
}
