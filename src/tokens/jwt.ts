import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  sign as signBytes,
  timingSafeEqual,
  verify as verifyBytes,
  type KeyObject,
} from 'node:crypto';
import { BlockList, isIPv4 } from 'node:net';
import { z } from 'zod';
import {
  FACT_FLAGS,
  optionInteger,
  optionString,
  optionStrings,
  readZoneFile,
  type ResolveContext,
  type ResolvedOptions,
  type SchemeDefinition,
  type SchemeOptions,
} from './definition.js';
import { canonicalIp, parseCidr } from './ip.js';
import { prefixesCoverDirectory } from './path.js';
import { decodeValue } from './query.js';
import type {
  PresentedToken,
  RequestFacts,
  SignTarget,
  TokenScheme,
  TokenSource,
  VerifyContext,
} from './scheme.js';
import { SignError } from './sign.js';
import { deny, type Denial, type Grant, type Verdict } from './verdict.js';

/**
 * JWT playback tokens (RFC 7519 over RFC 7515 compact JWS), the shape Mux, Cloudflare Stream and
 * Amazon IVS use for signed playback: HS256 under the zone's shared secret, RS256, ES256 or ES384 under
 * public keys (PEM or a JWKS, chosen by `kid`); `exp` required and `nbf` optional with a small leeway;
 * `path` (one file) or `prefix` (a subtree) says what it opens; optional `ip` (addresses or CIDR
 * ranges), `country_allow`/`country_deny` (ISO 3166) and `referrer_allow`/`referrer_deny` (hosts)
 * restrict who may use it. Verified with node:crypto synchronously: the token check decides before the
 * origin is contacted, inside a synchronous rewriter for minted tokens, and `verifyRequest` returns its
 * result directly (jose's API is Promise-only; the tests use jose as the reference both ways).
 */

export const JWT_ALGORITHMS = ['HS256', 'RS256', 'ES256', 'ES384'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const DIGEST: Readonly<Record<JwtAlgorithm, string>> = {
  HS256: 'sha256',
  RS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384',
};
/** RFC 7518 §3.4: the curve each ECDSA algorithm is defined on. */
const CURVE: Readonly<Partial<Record<JwtAlgorithm, string>>> = { ES256: 'prime256v1', ES384: 'secp384r1' };
const SEGMENT = /^[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 8192;
/** Claims streamgate reads; a signer may add any other. */
const RULE_CLAIMS = ['ip', 'country_allow', 'country_deny', 'referrer_allow', 'referrer_deny'] as const;

export interface JwtPublicKey {
  readonly kid?: string;
  /** PEM text, or a JWK (as parsed JSON). */
  readonly key: string | Record<string, unknown>;
}

export interface JwtOptions {
  /** The query parameter carrying the token (also read from `Authorization: Bearer`). */
  readonly param?: string;
  /** Public keys for RS256/ES256/ES384. */
  readonly publicKeys?: readonly JwtPublicKey[];
  /** Accepted algorithms; default every one the keys allow (HS256 with shared secrets). */
  readonly algorithms?: readonly JwtAlgorithm[];
  /** PEM private key that signs minted tokens (RS256, ES256, ES384); HS256 signs with the zone's secret. */
  readonly privateKey?: string;
  readonly signingAlgorithm?: JwtAlgorithm;
  /** The `kid` minted tokens name. */
  readonly kid?: string;
  /** Seconds of clock skew allowed on exp and nbf (default 5, at most 300). */
  readonly leeway?: number;
  readonly issuer?: string;
  readonly audience?: string;
}

interface LoadedKey {
  readonly kid?: string;
  readonly key: KeyObject;
  readonly type: 'rsa' | 'ec';
  readonly curve?: string;
}

function loadPublicKey(entry: JwtPublicKey): LoadedKey {
  const key =
    typeof entry.key === 'string'
      ? createPublicKey(entry.key)
      : createPublicKey({ key: entry.key as never, format: 'jwk' });
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec') throw new Error(`unsupported key type ${type ?? '?'}`);
  return {
    ...(entry.kid === undefined ? {} : { kid: entry.kid }),
    key,
    type,
    ...(key.asymmetricKeyDetails?.namedCurve === undefined
      ? {}
      : { curve: key.asymmetricKeyDetails.namedCurve }),
  };
}

/** Whether a key may check a signature of `alg` (RFC 8725 §3.1: the key decides, never the token). */
function fits(key: LoadedKey, alg: JwtAlgorithm): boolean {
  if (alg === 'RS256') return key.type === 'rsa';
  const curve = CURVE[alg];
  return curve !== undefined && key.type === 'ec' && key.curve === curve;
}

function b64json(part: string): Record<string, unknown> | undefined {
  if (!SEGMENT.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const strings = (value: unknown): string[] | undefined =>
  typeof value === 'string'
    ? [value]
    : Array.isArray(value) && value.every((v) => typeof v === 'string')
      ? value
      : undefined;

function inRanges(entries: readonly string[], address: string | undefined): boolean {
  const ip = address === undefined ? undefined : canonicalIp(address);
  if (ip === undefined) return false;
  const list = new BlockList();
  for (const entry of entries) {
    const range = parseCidr(entry);
    if (!range.ok) return false;
    list.addSubnet(range.address, range.prefix, range.family);
  }
  return list.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6');
}

function refererHost(referer: string | undefined): string | undefined {
  if (referer === undefined || referer === '') return undefined;
  try {
    return new URL(referer).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** `example.com` is that host; `*.example.com` any of its subdomains (not itself). */
function hostMatches(pattern: string, host: string): boolean {
  const entry = pattern.toLowerCase();
  return entry.startsWith('*.') ? host.endsWith(entry.slice(1)) : host === entry;
}

/** The rule claims of an authentic token against the request; the first that refuses is the reason. */
function checkRules(claims: Record<string, unknown>, facts: RequestFacts): string | undefined {
  const ip = strings(claims.ip);
  if (claims.ip !== undefined && (ip === undefined || !inRanges(ip, facts.clientAddress))) {
    return 'client address outside the ip claim';
  }
  const allow = strings(claims.country_allow);
  const denyList = strings(claims.country_deny);
  if (allow !== undefined || denyList !== undefined) {
    const country = facts.country?.()?.toUpperCase();
    if (
      allow !== undefined &&
      (country === undefined || !allow.map((c) => c.toUpperCase()).includes(country))
    ) {
      return country === undefined ? 'country unknown' : `country ${country} not allowed`;
    }
    if (country !== undefined && denyList?.map((c) => c.toUpperCase()).includes(country)) {
      return `country ${country} denied`;
    }
  }
  const refAllow = strings(claims.referrer_allow);
  const refDeny = strings(claims.referrer_deny);
  if (refAllow !== undefined || refDeny !== undefined) {
    const host = refererHost(facts.referer);
    if (
      refAllow !== undefined &&
      (host === undefined || !refAllow.some((entry) => hostMatches(entry, host)))
    ) {
      return host === undefined ? 'referrer missing' : 'referrer not allowed';
    }
    if (host !== undefined && refDeny?.some((entry) => hostMatches(entry, host))) return 'referrer denied';
  }
  return undefined;
}

export function createJwtScheme(options: JwtOptions = {}): TokenScheme {
  const param = options.param ?? 'token';
  const keys = (options.publicKeys ?? []).map(loadPublicKey);
  const privateKey = options.privateKey === undefined ? undefined : createPrivateKey(options.privateKey);
  const signingAlgorithm: JwtAlgorithm =
    options.signingAlgorithm ??
    (privateKey === undefined
      ? 'HS256'
      : privateKey.asymmetricKeyType === 'rsa'
        ? 'RS256'
        : privateKey.asymmetricKeyDetails?.namedCurve === 'secp384r1'
          ? 'ES384'
          : 'ES256');
  const algorithms = new Set<JwtAlgorithm>(options.algorithms ?? JWT_ALGORITHMS);
  const leeway = options.leeway ?? 5;

  const claimsFor = (target: SignTarget): Record<string, unknown> => {
    const claims: Record<string, unknown> = {};
    for (const [name, value] of target.rules ?? []) {
      if (name === 'claims') Object.assign(claims, JSON.parse(value) as Record<string, unknown>);
      else if (name === 'nbf') claims.nbf = Number(value);
      else if ((RULE_CLAIMS as readonly string[]).includes(name)) claims[name] = JSON.parse(value) as unknown;
    }
    if (target.ip !== undefined) claims.ip = target.ip;
    if (options.issuer !== undefined && claims.iss === undefined) claims.iss = options.issuer;
    if (options.audience !== undefined && claims.aud === undefined) claims.aud = options.audience;
    if (claims.path === undefined && claims.prefix === undefined) {
      if (target.path.endsWith('/')) claims.prefix = target.path;
      else claims.path = target.path;
    }
    claims.exp = target.expires;
    return claims;
  };

  const stringToSign = (target: SignTarget): string => {
    const header = {
      alg: signingAlgorithm,
      typ: 'JWT',
      ...(options.kid === undefined ? {} : { kid: options.kid }),
    };
    return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claimsFor(target))).toString('base64url')}`;
  };

  const sign = (target: SignTarget, key: string): string => {
    const input = stringToSign(target);
    let signature: Buffer;
    if (signingAlgorithm === 'HS256') {
      if (key === '') throw new SignError('secret', 'HS256 signing needs the shared secret');
      signature = createHmac('sha256', key).update(input).digest();
    } else {
      if (privateKey === undefined)
        throw new SignError('secret', `${signingAlgorithm} signing needs privateKey (PEM)`);
      signature = signBytes(DIGEST[signingAlgorithm], Buffer.from(input), {
        key: privateKey,
        ...(signingAlgorithm.startsWith('ES') ? { dsaEncoding: 'ieee-p1363' as const } : {}),
      });
    }
    return `${input}.${signature.toString('base64url')}`;
  };

  const authentic = (
    alg: JwtAlgorithm,
    kid: unknown,
    input: string,
    signature: Buffer,
    secrets: readonly string[],
  ): boolean => {
    if (alg === 'HS256') {
      let match = false;
      for (const secret of secrets) {
        const expected = createHmac('sha256', secret).update(input).digest();
        match = (expected.length === signature.length && timingSafeEqual(expected, signature)) || match;
      }
      return match;
    }
    const candidates = keys.filter(
      (key) => fits(key, alg) && (kid === undefined || key.kid === undefined || key.kid === kid),
    );
    return candidates.some((key) =>
      verifyBytes(
        DIGEST[alg],
        Buffer.from(input),
        { key: key.key, ...(alg.startsWith('ES') ? { dsaEncoding: 'ieee-p1363' as const } : {}) },
        signature,
      ),
    );
  };

  const verify = (presented: PresentedToken, context: VerifyContext): Verdict => {
    const token = presented.token;
    if (token.length > MAX_TOKEN_LENGTH) return deny('malformed', 'token too long');
    const parts = token.split('.');
    if (parts.length !== 3) return deny('malformed', 'not a compact JWS (three dot-separated parts)');
    const [headerPart = '', payloadPart = '', signaturePart = ''] = parts;
    const header = b64json(headerPart);
    if (header === undefined) return deny('malformed', 'header is not base64url JSON');
    const alg = header.alg;
    if (typeof alg !== 'string' || !(JWT_ALGORITHMS as readonly string[]).includes(alg)) {
      return deny('unsupported', `alg ${String(alg).slice(0, 16)} is not accepted`);
    }
    if (!algorithms.has(alg as JwtAlgorithm))
      return deny('unsupported', `alg ${alg} is not accepted by this zone`);
    // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
    if (header.crit !== undefined || header.b64 !== undefined)
      return deny('unsupported', 'crit/b64 headers are not supported');
    if (!SEGMENT.test(signaturePart)) return deny('malformed', 'signature is not base64url');
    const signature = Buffer.from(signaturePart, 'base64url');
    if (
      !authentic(alg as JwtAlgorithm, header.kid, `${headerPart}.${payloadPart}`, signature, context.keys)
    ) {
      return deny('invalid', 'signature mismatch');
    }
    const claims = b64json(payloadPart);
    if (claims === undefined) return deny('malformed', 'payload is not a JSON object');
    const exp = claims.exp;
    if (typeof exp !== 'number' || !Number.isFinite(exp))
      return deny('malformed', 'exp is required (NumericDate)');
    if (claims.nbf !== undefined && typeof claims.nbf !== 'number')
      return deny('malformed', 'nbf is not a NumericDate');
    if (options.issuer !== undefined && claims.iss !== options.issuer)
      return deny('invalid', "iss is not this zone's issuer");
    if (options.audience !== undefined) {
      const aud = strings(claims.aud);
      if (aud === undefined || !aud.includes(options.audience))
        return deny('invalid', 'aud does not name this zone');
    }
    const path = typeof claims.path === 'string' ? claims.path : undefined;
    const prefix = typeof claims.prefix === 'string' ? claims.prefix : undefined;
    if ((path === undefined) === (prefix === undefined))
      return deny('malformed', 'give exactly one of the path and prefix claims');
    if (path !== undefined && path !== context.path)
      return deny('invalid', 'the path claim names another path');
    if (prefix !== undefined && !context.path.startsWith(prefix))
      return deny('invalid', 'the prefix claim does not cover this path');
    const ruling = checkRules(claims, context.facts ?? {});
    if (ruling !== undefined) return deny('rule', ruling);
    if (typeof claims.nbf === 'number' && context.now + leeway < claims.nbf)
      return deny('invalid', `not valid before ${claims.nbf}`);
    // RFC 7519 §4.1.4: not accepted on or after exp (with the zone's leeway).
    const expires = Math.floor(exp) + leeway;
    if (!(context.now < expires)) return deny('expired', `expired at ${exp}`);
    const carried = RULE_CLAIMS.flatMap((name) =>
      claims[name] === undefined ? [] : [[name, JSON.stringify(claims[name])] as const],
    );
    const base = {
      ok: true as const,
      status: 200 as const,
      expires,
      token,
      ...(carried.length === 0 ? {} : { rules: carried }),
    };
    return prefix !== undefined
      ? { ...base, scope: 'prefix', signedPath: prefix, prefixes: [prefix] }
      : { ...base, scope: 'file', signedPath: path ?? context.path };
  };

  const present = (source: TokenSource): PresentedToken | Denial | undefined => {
    let found: string | undefined;
    for (const pair of source.pairs) {
      if (pair.name !== param) continue;
      if (found !== undefined) return deny('malformed', `parameter ${param} given twice`);
      found = decodeValue(pair.rawValue ?? '') ?? '';
    }
    if (found !== undefined) {
      return found === ''
        ? deny('malformed', `parameter ${param} empty`)
        : { token: found, expires: '', via: 'query' };
    }
    const authorization = source.header('authorization');
    const bearer =
      authorization === undefined ? undefined : /^Bearer +([A-Za-z0-9._-]+)$/i.exec(authorization)?.[1];
    return bearer === undefined ? undefined : { token: bearer, expires: '', via: 'header' };
  };

  return {
    name: 'jwt',
    params: { token: param },
    transports: {
      query: [param],
      bareQuery: false,
      pathSegment: false,
      cookies: [],
      headers: ['authorization'],
    },
    capabilities: JWT_CAPABILITIES,
    bareQueryToken: false,
    pathTokens: false,
    maxTokenLength: MAX_TOKEN_LENGTH,
    readsRequestFacts: true,
    supportsIp: true,
    mintPerDirectory: signingAlgorithm !== 'HS256',
    ownsSigningKey: signingAlgorithm !== 'HS256',
    stringToSign,
    sign,
    verify,
    present,
    covers: (grant: Grant, path: string) =>
      grant.scope === 'file'
        ? path === grant.signedPath
        : (grant.prefixes ?? []).some((p) => path.startsWith(p)),
    coversDirectory: (grant, directory) => {
      if (grant.scope === 'file') return undefined;
      return prefixesCoverDirectory(grant.prefixes ?? [], directory);
    },
    queryParams: (token) => [[param, token]],
  };
}

const JWT_CAPABILITIES = { ip: 'token', directory: true, pathForm: false, rules: true } as const;

export const jwt = createJwtScheme();

// ---------------------------------------------------------------------------------------------------
// The registry entry.

const zoneOptions = z.strictObject({
  param: z
    .string()
    .regex(/^[A-Za-z0-9_.~-]{1,64}$/, { error: 'must be a query parameter name, e.g. token' })
    .default('token'),
  /** A JWKS file (RFC 7517 §5) with the public keys, chosen by kid. */
  jwksFile: z.string().min(1).optional(),
  /** One PEM public key. */
  publicKeyFile: z.string().min(1).optional(),
  /** Signs minted tokens and cookies with RS256/ES256/ES384 (HS256 zones sign with their secret). */
  privateKeyFile: z.string().min(1).optional(),
  kid: z.string().min(1).optional(),
  algorithms: z
    .array(z.enum(JWT_ALGORITHMS, { error: `must be among ${JWT_ALGORITHMS.join(', ')}` }))
    .min(1)
    .optional(),
  /** Seconds of clock skew allowed on exp and nbf. */
  leeway: z.int().min(0).max(300).default(5),
  issuer: z.string().min(1).optional(),
  audience: z.string().min(1).optional(),
});

type ZoneBlock = z.output<typeof zoneOptions>;

/** The keys of a JWKS document (RFC 7517 §5): RSA and EC public keys, each with its kid. */
export function jwksKeys(text: string): JwtPublicKey[] | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const list = (json as { keys?: unknown }).keys;
  if (!Array.isArray(list) || list.length === 0) return 'needs a non-empty "keys" array (RFC 7517 §5)';
  const keys: JwtPublicKey[] = [];
  for (const jwk of list as Array<Record<string, unknown>>) {
    if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') continue;
    if (jwk.d !== undefined) return 'holds a private key; give the public JWKS only';
    keys.push({ ...(typeof jwk.kid === 'string' ? { kid: jwk.kid } : {}), key: jwk });
  }
  return keys.length === 0 ? 'holds no RSA or EC key' : keys;
}

function resolveZone(options: unknown, context: ResolveContext): ResolvedOptions {
  const block = (options ?? {}) as ZoneBlock;
  const problems: string[] = [];
  const publicKeys: JwtPublicKey[] = [];
  if (block.jwksFile !== undefined) {
    const text = readZoneFile(block.jwksFile, context, problems, 'jwksFile');
    if (text !== undefined) {
      const parsed = jwksKeys(text);
      if (typeof parsed === 'string') problems.push(`jwksFile: ${parsed}`);
      else publicKeys.push(...parsed);
    }
  }
  if (block.publicKeyFile !== undefined) {
    const pem = readZoneFile(block.publicKeyFile, context, problems, 'publicKeyFile');
    if (pem !== undefined) publicKeys.push({ key: pem });
  }
  let privateKey: string | undefined;
  if (block.privateKeyFile !== undefined)
    privateKey = readZoneFile(block.privateKeyFile, context, problems, 'privateKeyFile');
  if (problems.length > 0) return { ok: false, problems };
  if (publicKeys.length === 0 && context.keys.length === 0) {
    return { ok: false, problems: ['needs keys: secrets (HS256), or jwt.jwksFile / jwt.publicKeyFile'] };
  }
  const resolved: JwtOptions = {
    param: block.param,
    publicKeys,
    leeway: block.leeway,
    ...(block.algorithms === undefined
      ? {
          algorithms: [
            ...(context.keys.length > 0 ? ['HS256' as const] : []),
            ...(publicKeys.length > 0 ? (['RS256', 'ES256', 'ES384'] as const) : []),
          ],
        }
      : { algorithms: block.algorithms }),
    ...(privateKey === undefined ? {} : { privateKey }),
    ...(block.kid === undefined ? {} : { kid: block.kid }),
    ...(block.issuer === undefined ? {} : { issuer: block.issuer }),
    ...(block.audience === undefined ? {} : { audience: block.audience }),
  };
  try {
    createJwtScheme(resolved);
  } catch (error) {
    return {
      ok: false,
      problems: [`a key is not usable (${error instanceof Error ? error.message : String(error)})`],
    };
  }
  return { ok: true, options: resolved };
}

function withKeys<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof SignError) throw error;
    throw new SignError(
      'secret',
      `not a usable key (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

function claimsOption(options: SchemeOptions): Record<string, unknown> | undefined {
  const value = options.claims;
  if (value === undefined) return undefined;
  let claims: unknown = value;
  if (typeof value === 'string') {
    try {
      claims = JSON.parse(value);
    } catch {
      throw new SignError('rule', 'claims must be a JSON object, e.g. {"sub":"video-1"}');
    }
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new SignError('rule', 'claims must be a JSON object');
  }
  return claims as Record<string, unknown>;
}

function algorithmOption(options: SchemeOptions): JwtAlgorithm | undefined {
  const value = optionString(options, 'algorithm')?.toUpperCase();
  if (value === undefined) return undefined;
  if (!(JWT_ALGORITHMS as readonly string[]).includes(value)) {
    throw new SignError(
      'scheme',
      `algorithm must be one of ${JWT_ALGORITHMS.join(', ')} for jwt, got "${value}"`,
    );
  }
  return value as JwtAlgorithm;
}

export const jwtDefinition = {
  name: 'jwt',
  title: 'JWT playback tokens (HS256, RS256, ES256, ES384)',
  summary: '?token=<JWS> or Authorization: Bearer; exp/nbf, path or prefix claim, ip/country/referrer claims',
  capabilities: JWT_CAPABILITIES,
  transports: jwt.transports,
  zoneOptions,
  secrets: 'optional',
  zoneProblems: (zone) => {
    const block = zone.options as Partial<ZoneBlock> | undefined;
    const problems: Array<readonly [string, string]> = [];
    const hasPublic = block?.jwksFile !== undefined || block?.publicKeyFile !== undefined;
    if (!zone.hasSecrets && !hasPublic) {
      problems.push(['jwt', 'needs keys: secrets (HS256), or jwt.jwksFile / jwt.publicKeyFile']);
    }
    if (
      (zone.tokens === 'mint' || zone.tokens === 'cookie') &&
      !zone.hasSecrets &&
      block?.privateKeyFile === undefined
    ) {
      problems.push([
        'tokens',
        `tokens: ${zone.tokens} signs new JWTs: give secrets (HS256) or jwt.privateKeyFile, or use tokens: forward`,
      ]);
    }
    return problems;
  },
  resolveZone,
  create: (options?: unknown) => createJwtScheme((options ?? {}) as JwtOptions),
  flags: [
    {
      flag: 'claims',
      type: 'string',
      option: 'claims',
      commands: ['sign'],
      help: 'extra claims as a JSON object ({"sub":"video-1"})',
    },
    {
      flag: 'kid',
      type: 'string',
      option: 'kid',
      commands: ['sign'],
      help: 'the kid header naming the signing key',
    },
    {
      flag: 'jwks-file',
      type: 'string',
      file: true,
      option: 'jwks',
      commands: ['verify'],
      help: 'a JWKS file with the public keys (chosen by kid)',
    },
    {
      flag: 'leeway',
      type: 'string',
      integer: true,
      option: 'leeway',
      commands: ['verify'],
      help: 'seconds of clock skew allowed on exp and nbf (default 5)',
    },
    {
      flag: 'start',
      type: 'string',
      integer: true,
      option: 'start',
      commands: ['sign'],
      help: 'nbf: not valid before this Unix time',
    },
    {
      flag: 'algorithm',
      type: 'string',
      option: 'algorithm',
      commands: ['sign', 'verify'],
      help: 'HS256 (with --secret), RS256, ES256 or ES384',
    },
    {
      flag: 'private-key-file',
      type: 'string',
      file: true,
      option: 'privateKey',
      commands: ['sign'],
      help: 'the PEM private key (RS256, ES256, ES384)',
    },
    {
      flag: 'public-key-file',
      type: 'string',
      multiple: true,
      file: true,
      option: 'publicKey',
      commands: ['verify'],
      help: 'a PEM public key (RS256, ES256, ES384)',
    },
    {
      flag: 'param',
      type: 'string',
      option: 'param',
      commands: ['sign', 'verify'],
      help: 'the query parameter carrying the token (default token)',
    },
    ...FACT_FLAGS.filter((flag) => flag.flag === 'country' || flag.flag === 'referer'),
  ],
  libraryOptions: { publicKeys: 'have no public keys', jwks: 'have no JWKS' },
  prepareSign: (options, common) => {
    const privateKey = optionString(options, 'privateKey');
    const algorithm = algorithmOption(options) ?? (privateKey === undefined ? 'HS256' : undefined);
    const kid = optionString(options, 'kid');
    const param = optionString(options, 'param');
    if (algorithm === 'HS256' && (common.secrets[0] ?? '') === '')
      throw new SignError('secret', 'HS256 needs the shared secret');
    const scheme = withKeys(() =>
      createJwtScheme({
        ...(privateKey === undefined ? {} : { privateKey }),
        ...(algorithm === undefined ? {} : { signingAlgorithm: algorithm }),
        ...(kid === undefined ? {} : { kid }),
        ...(param === undefined ? {} : { param }),
      }),
    );
    const rules: Array<readonly [string, string]> = [];
    const claims = claimsOption(options);
    if (claims !== undefined) {
      if (claims.exp !== undefined) throw new SignError('rule', 'claims: exp comes from expires/ttl');
      rules.push(['claims', JSON.stringify(claims)]);
    }
    const start = optionInteger(options, 'start');
    if (start !== undefined) rules.push(['nbf', String(start)]);
    return {
      scheme,
      key: common.secrets[0] ?? '',
      ...(common.ip === undefined ? {} : { ip: common.ip }),
      ...(rules.length === 0 ? {} : { rules }),
    };
  },
  prepareVerify: (options, common) => {
    if (common.bindIp)
      throw new SignError('scheme', 'a JWT says itself which addresses it opens (ip claim); drop bindIp');
    const publicKeys: JwtPublicKey[] = [...((options.publicKeys as JwtPublicKey[] | undefined) ?? [])];
    for (const pem of optionStrings(options, 'publicKey') ?? []) publicKeys.push({ key: pem });
    const jwks = optionString(options, 'jwks');
    if (jwks !== undefined) {
      const parsed = jwksKeys(jwks);
      if (typeof parsed === 'string') throw new SignError('secret', `jwks: ${parsed}`);
      publicKeys.push(...parsed);
    }
    if (publicKeys.length === 0 && common.secrets.length === 0) {
      throw new SignError('secret', 'jwt verifying needs secret (HS256), publicKey or jwks');
    }
    const algorithm = algorithmOption(options);
    const leeway = optionInteger(options, 'leeway');
    const param = optionString(options, 'param');
    return {
      scheme: withKeys(() =>
        createJwtScheme({
          publicKeys,
          algorithms:
            algorithm !== undefined
              ? [algorithm]
              : [
                  ...(common.secrets.length > 0 ? ['HS256' as const] : []),
                  ...(publicKeys.length > 0 ? (['RS256', 'ES256', 'ES384'] as const) : []),
                ],
          ...(leeway === undefined ? {} : { leeway: Math.min(leeway, 300) }),
          ...(param === undefined ? {} : { param }),
        }),
      ),
      keys: common.secrets,
      bindIp: false,
    };
  },
} as const satisfies SchemeDefinition;
