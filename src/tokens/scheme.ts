import type { Grant, Verdict } from './verdict.js';

export type SchemeName = 'keycdn' | 'gcore' | 'ectoken';

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
}

/** A token as it arrived, taken out of the query string or the path, values decoded. */
export interface PresentedToken {
  readonly token: string;
  readonly expires: string;
  /**
   * For a path-embedded token, the directory the token stands after (SPEC §3): it opens that whole
   * subtree. For a query token, undefined: the token signs the file or the directory holding it.
   */
  readonly pathTokenDirectory?: string;
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
  readonly name: SchemeName;
  /**
   * Query parameter names: the token and, for formats that send it apart, its expiry. Both are removed
   * before the request is proxied.
   */
  readonly params: { readonly token: string; readonly expires?: string };
  /** The whole query may be the token (`/file.mp4?<token>`, Edgecast's own examples). */
  readonly bareQueryToken: boolean;
  /** The token may travel in the path (`/dir/~token~expires/file`, SPEC §3). */
  readonly pathTokens: boolean;
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
  /** Signature first, expiry second (SPEC §2): a forged token is 403 whatever its expiry. */
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
}
