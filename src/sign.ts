/**
 * The signing side of streamgate alone — `import { signUrl, verifyRequest } from 'streamgate/sign'` — for
 * a website backend that hands out links and a server that checks them: pure functions over the token
 * formats, loading neither the gateway's HTTP stack (express, undici) nor its logging and metrics (pino,
 * prom-client). The main entry, `streamgate`, exports the same functions beside the gateway.
 */
import { checkRequest } from './tokens/check.js';
import {
  createEctokenScheme,
  ECTOKEN_PARAM_NAME,
  ectokenRules,
  type EctokenRules,
} from './tokens/ectoken.js';
import { schemeByName, SCHEME_NAMES } from './tokens/registry.js';
import type { RequestFacts, SchemeName, TokenScheme } from './tokens/scheme.js';
import { SignError, signTarget, type SignScope } from './tokens/sign.js';
import { verdictName, type DenialReason, type Verdict } from './tokens/verdict.js';

export type { SchemeName, TokenScheme } from './tokens/scheme.js';
export type { Verdict, Grant, Denial, DenialReason, TokenScope } from './tokens/verdict.js';
export { SignError } from './tokens/sign.js';
export { SCHEMES, SCHEME_NAMES } from './tokens/registry.js';
export { canonicalIp } from './tokens/ip.js';
export {
  decryptEctoken,
  encryptEctoken,
  ectokenRules,
  type DecryptResult,
  type EctokenRules,
} from './tokens/ectoken.js';

export interface SignUrlOptions {
  readonly scheme: SchemeName;
  readonly secret: string;
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
  /** ectoken only: access rules written into the token (country, referrer, protocol, host, URL prefixes). */
  readonly rules?: EctokenRules;
  /** ectoken only: the query parameter that carries the token (the zone's; default `token`). */
  readonly param?: string;
}

function resolveScheme(name: string): TokenScheme {
  const scheme = schemeByName(name);
  if (!scheme) throw new SignError('scheme', `unknown scheme "${name}" (one of: ${SCHEME_NAMES.join(', ')})`);
  return scheme;
}

/** The scheme with the per-zone ectoken settings, which the other schemes refuse rather than ignore. */
function schemeWith(
  name: string,
  options: { readonly param?: string; readonly ignoreUrlCase?: boolean },
  ectokenOnly: Readonly<Record<string, unknown>>,
): TokenScheme {
  const scheme = resolveScheme(name);
  if (scheme.name !== 'ectoken') {
    const given = Object.keys(ectokenOnly).filter((key) => ectokenOnly[key] !== undefined);
    if (given.length > 0) {
      throw new SignError(
        'scheme',
        `${given.join(', ')}: ectoken only; ${scheme.name} tokens carry no rules`,
      );
    }
    return scheme;
  }
  if (options.param !== undefined && !ECTOKEN_PARAM_NAME.test(options.param)) {
    throw new SignError('scheme', `param must be a query parameter name, got "${options.param}"`);
  }
  const key = `${options.param ?? 'token'}\n${options.ignoreUrlCase === true}`;
  let cached = ectokenSchemes.get(key);
  if (cached === undefined) {
    cached = createEctokenScheme(options);
    if (ectokenSchemes.size >= 32) ectokenSchemes.clear();
    ectokenSchemes.set(key, cached);
  }
  return cached;
}

// One scheme object per setting: checkRequest remembers each scheme's parameter names.
const ectokenSchemes = new Map<string, TokenScheme>();

const clock = (): number => Math.floor(Date.now() / 1000);

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
  const scheme = schemeWith(
    options.scheme,
    { ...(options.param === undefined ? {} : { param: options.param }) },
    { rules: options.rules, param: options.param },
  );
  let expires = options.expires;
  if (expires === undefined) {
    if (options.ttl === undefined) throw new SignError('expiry', 'give either expires or ttl');
    if (!Number.isInteger(options.ttl) || options.ttl < 1) {
      throw new SignError('expiry', 'ttl must be a whole number of seconds ≥ 1');
    }
    expires = (options.now ?? clock()) + options.ttl;
  }
  const scope: SignScope = options.pathToken ? 'path' : options.dir ? 'directory' : 'file';
  let rules: ReadonlyArray<readonly [string, string]> | undefined;
  if (options.rules !== undefined) {
    if (options.ip !== undefined && options.rules.clientIp !== undefined) {
      throw new SignError('rule', 'ip and rules.clientIp both set ec_clientip; give one of them');
    }
    if (options.dir && options.rules.urlAllow !== undefined) {
      throw new SignError('rule', 'rules.urlAllow names what the token opens; drop dir');
    }
    const built = ectokenRules(options.rules);
    if (!built.ok) throw new SignError('rule', built.problem);
    rules = built.pairs;
  }
  return signTarget(url, {
    scheme,
    secret: options.secret,
    expires,
    ip: options.ip,
    scope,
    ...(rules === undefined ? {} : { rules }),
  });
}

/** What verifyRequest accepts: a URL string, `{ url, ip }`, or a Node/express request. */
export type VerifiableRequest =
  | string
  | { readonly url: string; readonly ip?: string }
  | { readonly url?: string; readonly socket?: { readonly remoteAddress?: string } };

export interface VerifyRequestOptions {
  readonly scheme: SchemeName;
  /** The zone's key, or its keys for rotation (any of them opens). */
  readonly secret: string | readonly string[];
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
  /** ectoken only: `ec_url_allow` compares without case (the zone's "ignore URL case"). */
  readonly ignoreUrlCase?: boolean;
  /** ectoken only: the query parameter that carries the token (default `token`; a bare `?<token>` too). */
  readonly param?: string;
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
  const scheme = schemeWith(
    options.scheme,
    {
      ...(options.param === undefined ? {} : { param: options.param }),
      ...(options.ignoreUrlCase === undefined ? {} : { ignoreUrlCase: options.ignoreUrlCase }),
    },
    { facts: options.facts, ignoreUrlCase: options.ignoreUrlCase, param: options.param },
  );
  if (scheme.name === 'ectoken' && options.bindIp) {
    throw new SignError('scheme', 'an ectoken binds itself to addresses with ec_clientip; drop bindIp');
  }
  const keys = typeof options.secret === 'string' ? [options.secret] : [...options.secret];
  if (keys.length === 0 || keys.some((key) => key.length === 0)) {
    throw new SignError('secret', 'verifyRequest needs at least one non-empty secret');
  }
  const url = typeof request === 'string' ? request : (request.url ?? '/');
  const clientIp =
    typeof request === 'string'
      ? undefined
      : 'ip' in request && request.ip !== undefined
        ? request.ip
        : 'socket' in request
          ? request.socket?.remoteAddress
          : undefined;
  const checked = checkRequest(url, {
    scheme,
    keys,
    now: options.now ?? clock(),
    bindIp: options.bindIp ?? false,
    clientIp,
    ...(options.facts === undefined ? {} : { facts: requestFacts(options.facts) }),
  });
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
