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
  /** The signature is right and the expiry has passed: 410. */
  | 'expired';

export type DenialStatus = 400 | 403 | 410;

export interface Denial {
  readonly ok: false;
  readonly status: DenialStatus;
  readonly reason: DenialReason;
  readonly detail: string;
}

export type TokenScope = 'file' | 'directory' | 'path';

export interface Grant {
  readonly ok: true;
  readonly status: 200;
  /** Unix seconds; the request is valid while `now < expires`. */
  readonly expires: number;
  readonly scope: TokenScope;
  /** The decoded path the token signs: the file, or a directory ending in `/`. */
  readonly signedPath: string;
  /** The token value as presented (decoded), for the `forward` strategy to copy. */
  readonly token: string;
  /** The client IP the token is bound to, when the zone binds tokens to IPs. */
  readonly ip?: string;
}

export type Verdict = Grant | Denial;

const STATUS: Record<DenialReason, DenialStatus> = {
  path: 400,
  missing: 403,
  malformed: 403,
  invalid: 403,
  expired: 410,
};

export function deny(reason: DenialReason, detail: string): Denial {
  return { ok: false, status: STATUS[reason], reason, detail };
}

/** The word SPEC §5 `verify --json` prints. */
export function verdictName(verdict: Verdict): 'valid' | 'invalid' | 'expired' | 'bad_request' {
  if (verdict.ok) return 'valid';
  if (verdict.reason === 'expired') return 'expired';
  if (verdict.reason === 'path') return 'bad_request';
  return 'invalid';
}
