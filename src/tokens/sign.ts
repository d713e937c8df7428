import { canonicalIp } from './ip.js';
import { canonicalRequestPath, directoryOf, encodePath } from './path.js';
import { tokenParamNames } from './check.js';
import { parseQuery, withoutParams } from './query.js';
import type { SignTarget, TokenScheme } from './scheme.js';

export type SignErrorCode = 'secret' | 'expiry' | 'ip' | 'path' | 'scheme' | 'rule';

/** Raised for bad signing input (a programming or configuration error, never a viewer's request). */
export class SignError extends Error {
  override readonly name = 'SignError';
  constructor(
    readonly code: SignErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Longest accepted secret; vendor limits are lower (Gcore 6–32, Edgecast 250), this only bounds work. */
export const MAX_SECRET_LENGTH = 1024;
/** Largest expiry the verifiers accept (10 digits). */
export const MAX_EXPIRES = 9_999_999_999;

export type SignScope = 'file' | 'directory' | 'path';

export interface SignRequest {
  readonly scheme: TokenScheme;
  readonly secret: string;
  /** Unix seconds. */
  readonly expires: number;
  /** Bind the token to this client address (schemes that support it). */
  readonly ip?: string;
  /**
   * `file` signs the path itself; `directory` signs the directory holding it (valid for files directly
   * in it); `path` embeds a directory token in the path after that directory (README "Token rules").
   */
  readonly scope?: SignScope;
  /** Access rules for formats that carry them (ectoken `ec_*` pairs; see ectokenRules). */
  readonly rules?: ReadonlyArray<readonly [string, string]>;
}

export function validateSecret(secret: string): void {
  if (secret.length === 0) throw new SignError('secret', 'the secret is empty');
  if (secret.length > MAX_SECRET_LENGTH) {
    throw new SignError('secret', `the secret is longer than ${MAX_SECRET_LENGTH} characters`);
  }
}

export function validateExpires(expires: number): void {
  if (!Number.isInteger(expires) || expires < 1 || expires > MAX_EXPIRES) {
    throw new SignError('expiry', `expires must be a whole Unix time in seconds (1–${MAX_EXPIRES})`);
  }
}

const ABSOLUTE = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*)/;
// Characters a newcomer types into a path that are not legal in one yet (spaces, non-ASCII).
const NEEDS_ENCODING = /[^\x21-\x7e]/u;
const NEEDS_ENCODING_ALL = /[^\x21-\x7e]/gu;

/** A signed target taken apart: what signTarget writes as a URL, or a cookie strategy as cookies. */
export interface SignedParts {
  /** `https://host[:port]`, or '' for a bare path. */
  readonly origin: string;
  /** The decoded path that was signed (the file, or its directory). */
  readonly signedPath: string;
  /** The decoded request path. */
  readonly path: string;
  readonly token: string;
  /** Other query parameters, byte for byte. */
  readonly otherParams: string;
  readonly fragment: string;
  /** The cookie Path that scopes a cookie token like the token itself (the signed directory). */
  readonly cookiePath: string;
}

/**
 * Signs a URL or a path, keeping its host, its other query parameters (byte for byte) and its
 * fragment. A token already present is replaced.
 */
export function signTarget(url: string, request: SignRequest): string {
  const parts = signTargetParts(url, request);
  const { origin, signedPath, path, token, otherParams, fragment } = parts;
  const scheme = request.scheme;
  if ((request.scope ?? 'file') === 'path' && scheme.pathForm !== undefined) {
    const form = scheme.pathForm(token, request.expires);
    const rest = encodePath(path.slice(form.after.length));
    return `${origin}${encodePath(form.after)}${form.segment}/${rest}${otherParams === '' ? '' : `?${otherParams}`}${fragment}`;
  }
  if ((request.scope ?? 'file') === 'path') {
    const tokenised = `${encodePath(signedPath)}~${token}~${request.expires}/${encodePath(path.slice(signedPath.length))}`;
    return `${origin}${tokenised}${otherParams === '' ? '' : `?${otherParams}`}${fragment}`;
  }
  const tokenParams = scheme
    .queryParams(token, request.expires)
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const query = otherParams === '' ? tokenParams : `${otherParams}&${tokenParams}`;
  return `${origin}${encodePath(path)}?${query}${fragment}`;
}

/** signTarget's work without writing the URL. */
export function signTargetParts(url: string, request: SignRequest): SignedParts {
  const { scheme } = request;
  if (!scheme.ownsSigningKey) validateSecret(request.secret);
  validateExpires(request.expires);
  const keyProblem = scheme.keyProblem?.(request.secret);
  if (keyProblem !== undefined) throw new SignError('secret', keyProblem);
  if (request.scope === 'path' && !scheme.pathTokens && scheme.pathForm === undefined) {
    throw new SignError(
      'scheme',
      `${scheme.name} tokens do not travel in the path; sign the file or directory`,
    );
  }
  let ip: string | undefined;
  if (request.ip !== undefined) {
    if (!scheme.supportsIp)
      throw new SignError('ip', `${scheme.name} tokens cannot be bound to an IP address`);
    ip = canonicalIp(request.ip);
    if (ip === undefined) throw new SignError('ip', `not an IP address: ${request.ip}`);
  }

  const origin = ABSOLUTE.exec(url)?.[1] ?? '';
  let rest = url.slice(origin.length) || '/';
  const hash = rest.indexOf('#');
  const fragment = hash === -1 ? '' : rest.slice(hash);
  if (hash !== -1) rest = rest.slice(0, hash);
  const question = rest.indexOf('?');
  let rawPath = question === -1 ? rest : rest.slice(0, question);
  const rawQuery = question === -1 ? '' : rest.slice(question + 1);
  if (NEEDS_ENCODING.test(rawPath)) {
    try {
      rawPath = rawPath.replace(NEEDS_ENCODING_ALL, (char) => encodeURIComponent(char));
    } catch {
      throw new SignError('path', 'the path holds a lone UTF-16 surrogate');
    }
  }

  const canonical = canonicalRequestPath(rawPath);
  if (!canonical.ok) throw new SignError('path', `cannot sign this path: ${canonical.detail}`);
  const path = canonical.path;
  const scope = request.scope ?? 'file';
  const signedPath = scope === 'file' ? path : directoryOf(path);
  const target: SignTarget = {
    path: signedPath,
    expires: request.expires,
    ip,
    ...(request.rules ? { rules: request.rules } : {}),
    ...(origin === '' ? {} : { origin }),
    ...(rawQuery === '' ? {} : { query: withoutParams(parseQuery(rawQuery), tokenParamNames(scheme)) }),
  };
  const token = scheme.sign(target, request.secret);
  if (token.length > scheme.maxTokenLength) {
    throw new SignError(
      'rule',
      `the token would be ${token.length} characters; verifiers refuse over ${scheme.maxTokenLength}`,
    );
  }
  const otherParams = withoutParams(parseQuery(rawQuery), tokenParamNames(scheme));
  return {
    origin,
    signedPath,
    path,
    token,
    otherParams,
    fragment,
    cookiePath: encodePath(scope === 'file' ? path : signedPath),
  };
}
