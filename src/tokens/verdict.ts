/**
 * The outcome of checking a request, as a value. Only gateway/ and cli/ turn it into an HTTP status or
 * an exit code; the reason class is safe to show to a viewer, the detail is for logs (it never holds the
 * expected token or a secret).
 */
export type DenialReason =
  /** The request path is ambiguous (dot segments, encoded `/`, NUL, …): 400, before any token check. */
  | 'path'
  /** No token parameters at all. */
  | 'missing'
  /** Token parameters present but not well-formed (duplicated, empty, non-numeric expiry, bad alphabet). */
  | 'malformed'
  /** Well-formed but the signature does not match this path (and IP, when bound) under any key. */
  | 'invalid'
  /** An authentic token whose access rules refuse this request (ectoken country, referrer, IP, …). */
  | 'rule'
  /** A token format the zone knows but refuses to accept (ectoken v2: unauthenticated Blowfish). */
  | 'unsupported'
  /** The signature is right and the expiry has passed: 410. */
  | 'expired';

export type DenialStatus = 400 | 403 | 410;

export interface Denial {
  readonly ok: false;
  readonly status: DenialStatus;
  readonly reason: DenialReason;
  readonly detail: string;
}

/** What a token opens: one file, the files of one directory, a path-token subtree, or path prefixes. */
export type TokenScope = 'file' | 'directory' | 'path' | 'prefix';

export interface Grant {
  readonly ok: true;
  readonly status: 200;
  /** Unix seconds; the request is valid while `now < expires`. Infinity for a token without expiry. */
  readonly expires: number;
  readonly scope: TokenScope;
  /** The decoded path the token signs: the file, or a directory ending in `/`. */
  readonly signedPath: string;
  /** The token value as presented (decoded), for the `forward` strategy to copy. */
  readonly token: string;
  /** The client IP the token is bound to, when the zone binds tokens to IPs. */
  readonly ip?: string;
  /** Scope `prefix`: the decoded path prefixes the token opens (ectoken `ec_url_allow`). */
  readonly prefixes?: readonly string[];
  /**
   * Wildcard patterns the token opens (`*` any run, `?` one character) where they are more than
   * prefixes (Akamai ACLs, CloudFront policy resources); `prefixes` is then empty.
   */
  readonly patterns?: readonly string[];
  /**
   * Scope `path` in a format whose path token is not `~token~expires` after `signedPath`: the raw
   * segment and the decoded prefix it follows (Bunny: `bcdn_token=…` after `/`).
   */
  readonly pathSegment?: { readonly after: string; readonly text: string };
  /** Access rules that tokens minted from this one inherit (see SignTarget.rules). */
  readonly rules?: ReadonlyArray<readonly [string, string]>;
  /**
   * The most bytes per second the response may be sent at, as the token says (Bunny `limit`);
   * undefined: as fast as the viewer takes it.
   */
  readonly rateLimit?: number;
}

export type Verdict = Grant | Denial;

const STATUS: Record<DenialReason, DenialStatus> = {
  path: 400,
  missing: 403,
  malformed: 403,
  invalid: 403,
  rule: 403,
  unsupported: 403,
  expired: 410,
};

export function deny(reason: DenialReason, detail: string): Denial {
  return { ok: false, status: STATUS[reason], reason, detail };
}

/** The word `verify --json` prints. */
export function verdictName(verdict: Verdict): 'valid' | 'invalid' | 'expired' | 'bad_request' {
  if (verdict.ok) return 'valid';
  if (verdict.reason === 'expired') return 'expired';
  if (verdict.reason === 'path') return 'bad_request';
  return 'invalid';
}
