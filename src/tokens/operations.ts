import { checkRequest, type CheckedRequest } from './check.js';
import type { SchemeDefinition, SchemeOptions } from './definition.js';
import { canonicalIp } from './ip.js';
import { definitionByName, SCHEME_DEFINITIONS, SCHEME_NAMES } from './registry.js';
import type { RequestFacts } from './scheme.js';
import { SignError, signTarget, signTargetParts, type SignScope } from './sign.js';

/**
 * Signing and verifying as the library and the CLI both do it: common options (secret, expiry, IP,
 * scope) here, each scheme's own options read by its definition. A scheme's option given with another
 * scheme is refused, never silently ignored, so a rule the user asked for is never missing.
 */

/** Options every scheme takes; the scheme's own (`acl`, `keyPairId`, `rules`, …) ride along. */
export const COMMON_SIGN_OPTIONS = new Set([
  'scheme',
  'secret',
  'expires',
  'ttl',
  'now',
  'ip',
  'dir',
  'pathToken',
]);
export const COMMON_VERIFY_OPTIONS = new Set(['scheme', 'secret', 'now', 'bindIp', 'facts']);

const clock = (): number => Math.floor(Date.now() / 1000);

export function requireDefinition(name: unknown): SchemeDefinition {
  const definition = typeof name === 'string' ? definitionByName(name) : undefined;
  if (definition === undefined) {
    throw new SignError('scheme', `unknown scheme "${String(name)}" (one of: ${SCHEME_NAMES.join(', ')})`);
  }
  return definition;
}

/** The library options a definition owns: its flags' top-level option names and its extra ones. */
function ownOptions(definition: SchemeDefinition): Map<string, string> {
  const owned = new Map<string, string>();
  for (const flag of definition.flags) {
    owned.set(flag.option.split('.')[0] ?? flag.option, flag.refusal ?? 'have no such option');
  }
  for (const [name, why] of Object.entries(definition.libraryOptions ?? {})) owned.set(name, why);
  return owned;
}

function refuseForeignOptions(
  definition: SchemeDefinition,
  options: SchemeOptions,
  common: ReadonlySet<string>,
): void {
  const own = ownOptions(definition);
  const given = Object.keys(options).filter(
    (key) => options[key] !== undefined && !common.has(key) && !own.has(key),
  );
  if (given.length === 0) return;
  const key = given[0] ?? '';
  const owners = SCHEME_DEFINITIONS.filter((other) => ownOptions(other).has(key));
  if (owners.length === 0) throw new SignError('scheme', `unknown option ${key}`);
  const why = ownOptions(owners[0] as SchemeDefinition).get(key) ?? 'have no such option';
  throw new SignError(
    'scheme',
    `${given.join(', ')}: ${owners.map((owner) => `${owner.name} only`).join(' or ')}; ${definition.name} tokens ${why}`,
  );
}

function secretsOf(secret: unknown, what: string): string[] {
  if (secret === undefined) return [];
  const list =
    typeof secret === 'string' ? [secret] : Array.isArray(secret) ? [...(secret as unknown[])] : [];
  if (list.length === 0 || list.some((key) => typeof key !== 'string' || key.length === 0)) {
    throw new SignError('secret', `${what} needs at least one non-empty secret`);
  }
  return list as string[];
}

function expiryOf(options: SchemeOptions, now: number): number {
  const expires = options.expires;
  if (expires !== undefined) return expires as number;
  const ttl = options.ttl;
  if (ttl === undefined) throw new SignError('expiry', 'give either expires or ttl');
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1) {
    throw new SignError('expiry', 'ttl must be a whole number of seconds ≥ 1');
  }
  return now + ttl;
}

interface PreparedSign {
  readonly definition: SchemeDefinition;
  readonly parts: Parameters<typeof signTarget>[1];
}

function prepareSign(options: SchemeOptions): PreparedSign {
  const definition = requireDefinition(options.scheme);
  refuseForeignOptions(definition, options, COMMON_SIGN_OPTIONS);
  const now = (options.now as number | undefined) ?? clock();
  const secrets = secretsOf(options.secret, 'signing');
  if (secrets.length === 0 && definition.secrets === 'required') {
    throw new SignError('secret', 'the secret is empty');
  }
  const expires = expiryOf(options, now);
  const scope: SignScope = options.pathToken ? 'path' : options.dir ? 'directory' : 'file';
  const ip = options.ip as string | undefined;
  const plan = definition.prepareSign(options, { secrets, now, scope, ...(ip === undefined ? {} : { ip }) });
  return {
    definition,
    parts: {
      scheme: plan.scheme,
      secret: plan.key,
      expires,
      ip: plan.ip,
      scope,
      ...(plan.rules === undefined ? {} : { rules: plan.rules }),
    },
  };
}

/** signUrl's work: the URL with the scheme's token in its query (or path). */
export function signUrlWith(url: string, options: SchemeOptions): string {
  return signTarget(url, prepareSign(options).parts);
}

/**
 * The Set-Cookie values that carry a token for `url`'s resource (a directory with `dir`), for
 * schemes whose tokens travel in cookies: Path is the signed directory (or the file), HttpOnly, and
 * Secure when the URL is https.
 */
export function signCookiesWith(url: string, options: SchemeOptions): string[] {
  const { definition, parts } = prepareSign(options);
  if (parts.scheme.cookieParams === undefined || definition.transports.cookies.length === 0) {
    throw new SignError('scheme', `${definition.name} tokens do not travel in cookies; sign a URL instead`);
  }
  const signed = signTargetParts(url, parts);
  const secure = /^https:/i.test(url);
  const maxAge = Math.max(0, parts.expires - ((options.now as number | undefined) ?? clock()));
  return parts.scheme
    .cookieParams(signed.token, parts.expires)
    .map(
      ([name, value]) =>
        `${name}=${value}; Path=${signed.cookiePath}; Max-Age=${maxAge}; HttpOnly${secure ? '; Secure; SameSite=None' : '; SameSite=Lax'}`,
    );
}

export interface VerifyInput {
  readonly url: string;
  readonly clientIp?: string;
  /** The Cookie header. */
  readonly cookies?: string;
  readonly header?: (name: string) => string | undefined;
}

/** verifyRequest's work: the scheme configured from the options, then the same check as the gateway. */
export function verifyWith(input: VerifyInput, options: SchemeOptions, now = clock()): CheckedRequest {
  const definition = requireDefinition(options.scheme);
  refuseForeignOptions(definition, options, COMMON_VERIFY_OPTIONS);
  if (options.facts !== undefined && !definition.capabilities.rules) {
    throw new SignError(
      'scheme',
      `facts: for schemes with rules only; ${definition.name} tokens carry no rules`,
    );
  }
  const secrets = secretsOf(options.secret, 'verifyRequest');
  if (secrets.length === 0 && definition.secrets === 'required') {
    throw new SignError('secret', 'verifyRequest needs at least one non-empty secret');
  }
  const plan = definition.prepareVerify(options, { secrets, bindIp: options.bindIp === true });
  // An absolute URL says how and where it was asked for (CloudFront signs whole URLs). Schemes whose
  // rules read those facts get them only from the caller, as before.
  const given = options.facts as Omit<RequestFacts, 'clientAddress'> | undefined;
  const url =
    !definition.capabilities.rules && /^https?:\/\//i.test(input.url) ? safeUrl(input.url) : undefined;
  const facts =
    url === undefined
      ? given
      : {
          proto: url.protocol === 'https:' ? ('https' as const) : ('http' as const),
          host: url.hostname,
          authority: url.host,
          ...given,
        };
  return checkRequest(input.url, {
    scheme: plan.scheme,
    keys: plan.keys,
    now,
    bindIp: plan.bindIp,
    clientIp: input.clientIp,
    ...(facts === undefined ? {} : { facts }),
    ...(input.cookies === undefined ? {} : { cookies: input.cookies }),
    ...(input.header === undefined ? {} : { header: input.header }),
  });
}

/** Whether `text` is an address a token can be bound to. */
export function isAddress(text: string): boolean {
  return canonicalIp(text) !== undefined;
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
