import type { Verdict } from './verdict.js';

export type SchemeName = 'keycdn' | 'gcore';

/** What is being signed: a file, or a directory (a decoded path ending in `/`). */
export interface SignTarget {
  readonly path: string;
  /** Unix seconds; the token is valid while `now < expires`. */
  readonly expires: number;
  /** Canonical client IP (see canonicalIp) when the token is bound to an address. */
  readonly ip?: string;
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
}

/**
 * One CDN token format. Implementations are pure: the clock, the keys and the client address are
 * parameters, so every result is reproducible.
 */
export interface TokenScheme {
  readonly name: SchemeName;
  /** Query parameter names: the token and its expiry. Both are removed before the request is proxied. */
  readonly params: { readonly token: string; readonly expires: string };
  /** Whether the format can bind a token to the client's IP address. */
  readonly supportsIp: boolean;
  /** The exact bytes that are hashed (exposed for the CLI's --explain and for the vector tests). */
  stringToSign(target: SignTarget, key: string): string;
  /** The token value for `target` under `key`. */
  sign(target: SignTarget, key: string): string;
  /** Signature first, expiry second (SPEC §2): a forged token is 403 whatever its expiry. */
  verify(presented: PresentedToken, context: VerifyContext): Verdict;
}
