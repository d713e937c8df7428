import { createCipheriv, createDecipheriv, hash, randomBytes } from 'node:crypto';
import { BlockList, isIPv4 } from 'node:net';
import { z } from 'zod';
import {
  FACT_FLAGS,
  optionBoolean,
  optionString,
  type SchemeDefinition,
  type SchemeOptions,
} from './definition.js';
import { canonicalIp, parseCidr } from './ip.js';
import { prefixesCoverDirectory } from './path.js';
import { SignError } from './sign.js';
import type { PresentedToken, RequestFacts, SignTarget, TokenScheme, VerifyContext } from './scheme.js';
import { deny, type Grant, type Verdict } from './verdict.js';

/**
 * Edgecast / Azure CDN Premium "ectoken" v3 (Azure CDN documentation, "Securing Azure CDN assets with token authentication"; Edgio/ectoken `ectoken.c` and its ports):
 * AES-256-GCM under SHA-256 of the key *text*, a random 12-byte IV, no additional data, and the token is
 * base64url-nopad(IV ‖ ciphertext ‖ 16-byte tag) over an `ec_*` query string.
 */

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Azure: "the total length of a token is limited to 512 characters". */
export const ECTOKEN_MAX_LENGTH = 512;
/** A query parameter name a zone may give the token (Azure's "Token Auth Parameter"). */
export const ECTOKEN_PARAM_NAME = /^[A-Za-z0-9_.~-]{1,64}$/;
/** Azure: a key is alphanumeric, case-sensitive, at most 250 characters. */
export const ECTOKEN_KEY = /^[A-Za-z0-9]{1,250}$/;
/**
 * Every reference decoder accepts both base64 alphabets and `=` padding (the C table maps `+`/`-` to 62
 * and `/`/`_` to 63), so a token some backend wrote in standard base64 still opens.
 */
const TOKEN_TEXT = /^[A-Za-z0-9_\-+/]+={0,2}$/;
/** The shortest token that can hold one byte of plaintext: ceil((12 + 1 + 16) · 4 / 3). */
const MIN_TOKEN_LENGTH = 39;
/** v2 tokens are Blowfish-CFB written as lower-case hex: unauthenticated and malleable, never accepted. */
const V2_TOKEN = /^[0-9a-f]+$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

// A zone has one or two keys; deriving the AES key once per key text keeps verify at one GCM pass.
const derivedKeys = new Map<string, Buffer>();
function aesKey(keyText: string): Buffer {
  let key = derivedKeys.get(keyText);
  if (key === undefined) {
    key = hash('sha256', keyText, 'buffer');
    if (derivedKeys.size >= 64) derivedKeys.clear();
    derivedKeys.set(keyText, key);
  }
  return key;
}

/** Encrypts an `ec_*` query string. `iv` is for reproducible vectors only; leave it out otherwise. */
export function encryptEctoken(
  plaintext: string,
  keyText: string,
  iv: Buffer = randomBytes(IV_BYTES),
): string {
  if (iv.length !== IV_BYTES) throw new RangeError(`the IV must be ${IV_BYTES} bytes`);
  const cipher = createCipheriv('aes-256-gcm', aesKey(keyText), iv);
  const body = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return body.toString('base64url');
}

export type DecryptResult =
  | { readonly ok: true; readonly plaintext: string; readonly keyIndex: number }
  | { readonly ok: false; readonly reason: 'malformed' | 'unsupported' | 'invalid'; readonly detail: string };

/**
 * Decrypts a token with the first of `keys` whose GCM tag checks. Every key is tried whatever the
 * outcome, so timing does not say which key matched.
 */
export function decryptEctoken(token: string, keys: readonly string[]): DecryptResult {
  if (token.length > ECTOKEN_MAX_LENGTH) {
    return { ok: false, reason: 'malformed', detail: `token longer than ${ECTOKEN_MAX_LENGTH} characters` };
  }
  if (V2_TOKEN.test(token) && token.length % 2 === 0) {
    return { ok: false, reason: 'unsupported', detail: 'ectoken v2 (Blowfish, hex) is not accepted' };
  }
  if (!TOKEN_TEXT.test(token) || token.length < MIN_TOKEN_LENGTH) {
    return { ok: false, reason: 'malformed', detail: 'token is not base64 of IV, ciphertext and tag' };
  }
  const bytes = Buffer.from(token, 'base64');
  if (bytes.length <= IV_BYTES + TAG_BYTES) {
    return { ok: false, reason: 'malformed', detail: 'token too short to hold IV, ciphertext and tag' };
  }
  const iv = bytes.subarray(0, IV_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  const ciphertext = bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES);
  let found: { plaintext: Buffer; keyIndex: number } | undefined;
  keys.forEach((keyText, keyIndex) => {
    const decipher = createDecipheriv('aes-256-gcm', aesKey(keyText), iv);
    decipher.setAuthTag(tag);
    try {
      const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
      found ??= { plaintext, keyIndex };
    } catch {
      // Tag mismatch: not this key, or tampered.
    }
  });
  if (found === undefined) return { ok: false, reason: 'invalid', detail: 'no key decrypts the token' };
  try {
    return { ok: true, plaintext: utf8.decode(found.plaintext), keyIndex: found.keyIndex };
  } catch {
    return { ok: false, reason: 'malformed', detail: 'decrypted parameters are not UTF-8' };
  }
}

/** The `ec_*` parameters a token may hold, in the order EC-JS's helper writes them. */
export const EC_PARAMS = [
  'ec_expire',
  'ec_country_allow',
  'ec_country_deny',
  'ec_url_allow',
  'ec_host_allow',
  'ec_host_deny',
  'ec_ref_allow',
  'ec_ref_deny',
  'ec_clientip',
  'ec_proto_allow',
  'ec_proto_deny',
] as const;
export type EcParam = (typeof EC_PARAMS)[number];
const KNOWN = new Set<string>(EC_PARAMS);

/** The rules minted tokens inherit from the viewer's: who may use them, not what they open or how long. */
const CARRIED = new Set<string>(EC_PARAMS.filter((name) => name !== 'ec_expire' && name !== 'ec_url_allow'));

export type EcPair = readonly [name: string, value: string];

export interface EctokenClaims {
  /** Every pair in the plaintext, in order; unknown ones are carried, not checked. */
  readonly pairs: readonly EcPair[];
  readonly values: ReadonlyMap<EcParam, string>;
}

/**
 * Splits decrypted parameters. A known `ec_*` parameter given twice is ambiguous (which list wins?)
 * and refused; values are kept as written (the references do not URL-decode them).
 */
export function parseClaims(plaintext: string): EctokenClaims | { readonly error: string } {
  const pairs: EcPair[] = [];
  const values = new Map<EcParam, string>();
  for (const part of plaintext.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    pairs.push([name, value]);
    if (!KNOWN.has(name)) continue;
    if (values.has(name as EcParam)) return { error: `${name} given twice` };
    values.set(name as EcParam, value);
  }
  return { pairs, values };
}

const list = (value: string | undefined): string[] | undefined =>
  value === undefined ? undefined : value.split(',');

/**
 * Allow wins over deny (Azure's token authentication documentation: "If a country code is present in both …, ec_country_allow takes
 * precedence"). With an allow list, only what it names passes; with only a deny list, all but what it
 * names passes.
 */
function allowDeny(
  allow: readonly string[] | undefined,
  denyList: readonly string[] | undefined,
  matches: (entry: string) => boolean,
): 'allow' | 'deny' | 'pass' {
  if (allow !== undefined) return allow.some(matches) ? 'allow' : 'deny';
  if (denyList?.some(matches)) return 'deny';
  return 'pass';
}

function decodedPrefix(entry: string): string {
  if (!entry.includes('%')) return entry;
  try {
    return decodeURIComponent(entry);
  } catch {
    return entry;
  }
}

/** ec_url_allow entries as the path check compares them: decoded (the request path is), cased by zone. */
export function urlPrefixes(value: string | undefined, ignoreCase: boolean): string[] | undefined {
  const entries = list(value)
    ?.filter((entry) => entry !== '')
    .map(decodedPrefix);
  return ignoreCase ? entries?.map((entry) => entry.toLowerCase()) : entries;
}

/** Whether `path` starts with one of `prefixes` (a plain string prefix, as Edgecast compares). */
export function prefixCovers(prefixes: readonly string[], path: string, ignoreCase: boolean): boolean {
  const subject = ignoreCase ? path.toLowerCase() : path;
  return prefixes.some((prefix) => subject.startsWith(prefix));
}

/** The referrer's host and path (protocol, userinfo and port dropped); undefined when unreadable. */
export function refererParts(referer: string): { host: string; path: string } | undefined {
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(referer) ? referer : `http://${referer}`;
  try {
    const url = new URL(absolute);
    return { host: url.hostname, path: `${url.pathname}${url.search}` };
  } catch {
    return undefined;
  }
}

export const isMissingEntry = (entry: string): boolean => entry === '' || entry.toLowerCase() === 'missing';

/**
 * An `ec_ref_*` entry: a host, or host and path, that the referrer "starts with". The host must be the
 * referrer's whole host — `example.com` does not open `example.com.evil.org` or `example.community`,
 * which a plain string prefix would — and a path is a prefix of the referrer's path. A leading `*`
 * stands for any run of subdomain characters: `*.example.com` opens `a.b.example.com`, not `example.com`.
 */
export function refererMatches(entry: string, referer: { host: string; path: string }): boolean {
  if (isMissingEntry(entry) || entry.startsWith(' ')) return false;
  const slash = entry.indexOf('/');
  const hostPart = (slash === -1 ? entry : entry.slice(0, slash)).toLowerCase();
  const pathPart = slash === -1 ? '' : entry.slice(slash);
  const hostOk = hostPart.startsWith('*')
    ? referer.host.endsWith(hostPart.slice(1))
    : referer.host === hostPart;
  return hostOk && referer.path.startsWith(pathPart);
}

/** `*.example.com` opens any depth of subdomain but not `example.com` itself (Edgecast host rule). */
function hostMatches(entry: string, host: string): boolean {
  const normal = entry.toLowerCase();
  if (normal.startsWith('*.')) return host.endsWith(normal.slice(1));
  return host === normal;
}

// A viewer presents the same token (and minted ones carry the same ec_clientip) on every segment
// request: its ranges are parsed once, not per request.
const clientRanges = new Map<string, BlockList | null>();

/** The ranges of an `ec_clientip` value, or null when an entry is no address or CIDR range. */
function rangesOf(value: string): BlockList | null {
  let ranges = clientRanges.get(value);
  if (ranges === undefined) {
    ranges = new BlockList();
    for (const entry of value.split(',')) {
      const parsed = parseCidr(entry);
      if (!parsed.ok) {
        ranges = null;
        break;
      }
      ranges.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
    if (clientRanges.size >= 1024) clientRanges.clear();
    clientRanges.set(value, ranges);
  }
  return ranges;
}

/** Checks the access rules of an authentic token; the first rule that refuses is the reason. */
export function checkRules(
  values: ReadonlyMap<EcParam, string>,
  path: string,
  facts: RequestFacts,
  ignoreUrlCase: boolean,
): { readonly ok: true } | { readonly ok: false; readonly rule: EcParam; readonly detail: string } {
  const refuse = (rule: EcParam, detail: string) => ({ ok: false as const, rule, detail });

  const prefixes = urlPrefixes(values.get('ec_url_allow'), ignoreUrlCase);
  if (prefixes !== undefined && !prefixCovers(prefixes, path, ignoreUrlCase)) {
    return refuse('ec_url_allow', 'ec_url_allow does not cover this path');
  }

  const clientIp = values.get('ec_clientip');
  if (clientIp !== undefined) {
    const ranges = rangesOf(clientIp);
    if (ranges === null) return refuse('ec_clientip', 'ec_clientip is not an address or CIDR range');
    const address = facts.clientAddress === undefined ? undefined : canonicalIp(facts.clientAddress);
    if (address === undefined || !ranges.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')) {
      return refuse('ec_clientip', 'client address outside ec_clientip');
    }
  }

  const countryAllow = list(values.get('ec_country_allow'));
  const countryDeny = list(values.get('ec_country_deny'));
  if (countryAllow !== undefined || countryDeny !== undefined) {
    const country = facts.country?.()?.toUpperCase();
    const verdict = allowDeny(countryAllow, countryDeny, (entry) => entry.toUpperCase() === country);
    if (verdict === 'deny') {
      return refuse(
        countryAllow === undefined ? 'ec_country_deny' : 'ec_country_allow',
        country === undefined ? 'country unknown' : `country ${country} not allowed`,
      );
    }
  }

  const refAllow = list(values.get('ec_ref_allow'));
  const refDeny = list(values.get('ec_ref_deny'));
  if (refAllow !== undefined || refDeny !== undefined) {
    const missing = facts.referer === undefined || facts.referer === '';
    const referer = missing ? undefined : refererParts(facts.referer ?? '');
    const matches = (entry: string): boolean =>
      missing ? isMissingEntry(entry) : referer !== undefined && refererMatches(entry, referer);
    const verdict = allowDeny(refAllow, refDeny, matches);
    if (verdict === 'deny') {
      return refuse(
        refAllow === undefined ? 'ec_ref_deny' : 'ec_ref_allow',
        missing ? 'referrer missing' : 'referrer not allowed',
      );
    }
  }

  const protoAllow = list(values.get('ec_proto_allow'));
  const protoDeny = list(values.get('ec_proto_deny'));
  if (protoAllow !== undefined || protoDeny !== undefined) {
    const proto = facts.proto;
    const verdict = allowDeny(protoAllow, protoDeny, (entry) => entry.toLowerCase() === proto);
    if (verdict === 'deny') {
      return refuse(
        protoAllow === undefined ? 'ec_proto_deny' : 'ec_proto_allow',
        `protocol ${proto ?? 'unknown'} not allowed`,
      );
    }
  }

  const hostAllow = list(values.get('ec_host_allow'));
  const hostDeny = list(values.get('ec_host_deny'));
  if (hostAllow !== undefined || hostDeny !== undefined) {
    const host = facts.host?.toLowerCase();
    const verdict = allowDeny(hostAllow, hostDeny, (entry) => host !== undefined && hostMatches(entry, host));
    if (verdict === 'deny') {
      return refuse(hostAllow === undefined ? 'ec_host_deny' : 'ec_host_allow', 'host not allowed');
    }
  }
  return { ok: true };
}

/** Unix seconds without sign or fraction. */
const EXPIRY = /^[0-9]{1,10}$/;

export interface EctokenOptions {
  /** Query parameter carrying the token ("Token Auth Parameter"); the bare query is accepted too. */
  readonly param?: string;
  /** "Token Auth Ignore URL Case": ec_url_allow compares without case. */
  readonly ignoreUrlCase?: boolean;
}

const ECTOKEN_CAPABILITIES = { ip: 'token', directory: true, pathForm: false, rules: true } as const;

/** An ectoken scheme as one zone configures it. */
export function createEctokenScheme(options: EctokenOptions = {}): TokenScheme {
  const param = options.param ?? 'token';
  const ignoreUrlCase = options.ignoreUrlCase ?? false;

  const stringToSign = (target: SignTarget): string => {
    const given = new Map(target.rules ?? []);
    if (target.ip !== undefined) given.set('ec_clientip', target.ip);
    given.set('ec_expire', String(target.expires));
    if (!given.has('ec_url_allow')) given.set('ec_url_allow', target.path);
    const ordered: string[] = [];
    for (const name of EC_PARAMS) {
      const value = given.get(name);
      if (value !== undefined) ordered.push(`${name}=${value}`);
    }
    for (const [name, value] of target.rules ?? []) {
      if (!KNOWN.has(name)) ordered.push(`${name}=${value}`);
    }
    return ordered.join('&');
  };

  const verify = (presented: PresentedToken, context: VerifyContext): Verdict => {
    const decrypted = decryptEctoken(presented.token, context.keys);
    if (!decrypted.ok) return deny(decrypted.reason, decrypted.detail);
    const claims = parseClaims(decrypted.plaintext);
    if ('error' in claims) return deny('malformed', claims.error);
    const expireText = claims.values.get('ec_expire');
    if (expireText !== undefined && !EXPIRY.test(expireText)) {
      return deny('malformed', 'ec_expire is not a Unix time in seconds');
    }
    const ruling = checkRules(claims.values, context.path, context.facts ?? {}, ignoreUrlCase);
    if (!ruling.ok) return deny(ruling.rule === 'ec_url_allow' ? 'invalid' : 'rule', ruling.detail);
    // No ec_expire: no expiry (Edgecast). `ec_expire=0` is 1970, long gone.
    const expires = expireText === undefined ? Infinity : Number(expireText);
    // Edgecast denies requests "after the expiration time"; here `now == expires` is expired too (README, "Token rules").
    if (!(context.now < expires)) return deny('expired', `expired at ${expires}`);
    const prefixes = urlPrefixes(claims.values.get('ec_url_allow'), ignoreUrlCase) ?? ['/'];
    const grant: Grant = {
      ok: true,
      status: 200,
      expires,
      scope: 'prefix',
      signedPath: prefixes[0] ?? '/',
      token: presented.token,
      prefixes,
      rules: claims.pairs.filter(([name]) => CARRIED.has(name)),
    };
    return grant;
  };

  return {
    name: 'ectoken',
    params: { token: param },
    transports: { query: [param], bareQuery: true, pathSegment: false, cookies: [], headers: [] },
    capabilities: ECTOKEN_CAPABILITIES,
    bareQueryToken: true,
    pathTokens: false,
    maxTokenLength: ECTOKEN_MAX_LENGTH,
    readsRequestFacts: true,
    supportsIp: true,
    keyProblem: (key) =>
      ECTOKEN_KEY.test(key) ? undefined : 'an ectoken key is 1–250 letters and digits (Azure rule)',
    stringToSign,
    sign: (target, key) => encryptEctoken(stringToSign(target), key),
    verify,
    coversDirectory: (grant, directory) => {
      const subject = ignoreUrlCase ? directory.toLowerCase() : directory;
      return prefixesCoverDirectory(grant.prefixes ?? [], subject);
    },
    covers: (grant, path) =>
      grant.prefixes !== undefined && prefixCovers(grant.prefixes, path, ignoreUrlCase),
    queryParams: (token) => [[param, token]],
  };
}

export const ectoken = createEctokenScheme();

/** Access rules as a signer states them; each list becomes one comma-separated `ec_*` value. */
export interface EctokenRules {
  /** Path prefixes the token opens (default: the signed path). `/` opens everything. */
  readonly urlAllow?: readonly string[];
  readonly countryAllow?: readonly string[];
  readonly countryDeny?: readonly string[];
  /** Host or host+path without protocol, `*.example.com`, or `missing` / `` for no referrer. */
  readonly refAllow?: readonly string[];
  readonly refDeny?: readonly string[];
  readonly protoAllow?: readonly ('http' | 'https')[];
  readonly protoDeny?: readonly ('http' | 'https')[];
  readonly hostAllow?: readonly string[];
  readonly hostDeny?: readonly string[];
  /** An address or CIDR range, IPv4 or IPv6. */
  readonly clientIp?: string;
}

export type RulesResult =
  | { readonly ok: true; readonly pairs: ReadonlyArray<readonly [EcParam, string]> }
  | { readonly ok: false; readonly problem: string };

// Characters that would break the plaintext's own `&`/`=`/`,` structure.
const UNSAFE_VALUE = /[&=,\s]/;

/** Checks a signer's rules and turns them into `ec_*` pairs (in EC_PARAMS order). */
export function ectokenRules(rules: EctokenRules): RulesResult {
  const pairs: Array<readonly [EcParam, string]> = [];
  const problem = (text: string): RulesResult => ({ ok: false, problem: text });
  const lists: ReadonlyArray<
    readonly [EcParam, readonly string[] | undefined, (entry: string) => boolean, string]
  > = [
    [
      'ec_country_allow',
      rules.countryAllow,
      (entry) => /^[A-Za-z]{2}$/.test(entry),
      'two-letter ISO 3166 codes',
    ],
    [
      'ec_country_deny',
      rules.countryDeny,
      (entry) => /^[A-Za-z]{2}$/.test(entry),
      'two-letter ISO 3166 codes',
    ],
    [
      'ec_url_allow',
      rules.urlAllow,
      (entry) => entry.startsWith('/') && !UNSAFE_VALUE.test(entry),
      'paths starting with /',
    ],
    ['ec_host_allow', rules.hostAllow, (entry) => entry !== '' && !UNSAFE_VALUE.test(entry), 'host names'],
    ['ec_host_deny', rules.hostDeny, (entry) => entry !== '' && !UNSAFE_VALUE.test(entry), 'host names'],
    [
      'ec_ref_allow',
      rules.refAllow,
      (entry) => !UNSAFE_VALUE.test(entry),
      'hosts or host/paths without protocol',
    ],
    [
      'ec_ref_deny',
      rules.refDeny,
      (entry) => !UNSAFE_VALUE.test(entry),
      'hosts or host/paths without protocol',
    ],
    ['ec_proto_allow', rules.protoAllow, (entry) => entry === 'http' || entry === 'https', 'http or https'],
    ['ec_proto_deny', rules.protoDeny, (entry) => entry === 'http' || entry === 'https', 'http or https'],
  ];
  const values = new Map<EcParam, string>();
  for (const [name, entries, valid, expected] of lists) {
    if (entries === undefined) continue;
    if (entries.length === 0) return problem(`${name}: give at least one value`);
    const bad = entries.find((entry) => !valid(entry));
    if (bad !== undefined) return problem(`${name}: "${bad}" is not valid (expected ${expected})`);
    const normal = name.startsWith('ec_country') ? entries.map((entry) => entry.toUpperCase()) : entries;
    values.set(name, [...new Set(normal)].join(','));
  }
  if (rules.clientIp !== undefined) {
    const parsed = parseCidr(rules.clientIp);
    if (!parsed.ok) return problem(`ec_clientip: ${parsed.reason}`);
    values.set(
      'ec_clientip',
      parsed.prefix === (parsed.family === 'ipv4' ? 32 : 128)
        ? parsed.address
        : `${parsed.address}/${parsed.prefix}`,
    );
  }
  for (const name of EC_PARAMS) {
    const value = values.get(name);
    if (value !== undefined) pairs.push([name, value]);
  }
  return { ok: true, pairs };
}

// ---------------------------------------------------------------------------------------------------
// The registry entry: zone block, flags, library options.

const zoneOptions = z.strictObject({
  /** Azure's "Token Auth Parameter". */
  param: z
    .string()
    .regex(ECTOKEN_PARAM_NAME, { error: 'must be a query parameter name, e.g. token' })
    .default('token'),
  /** Azure's "Token Auth Ignore URL Case". */
  ignoreUrlCase: z.boolean().default(false),
});

// One scheme object per setting: checkRequest remembers each scheme's parameter names.
const configured = new Map<string, TokenScheme>();

function schemeWith(options: EctokenOptions): TokenScheme {
  const key = `${options.param ?? 'token'}\n${options.ignoreUrlCase === true}`;
  let cached = configured.get(key);
  if (cached === undefined) {
    cached = createEctokenScheme(options);
    if (configured.size >= 32) configured.clear();
    configured.set(key, cached);
  }
  return cached;
}

function paramOption(options: SchemeOptions): string | undefined {
  const param = optionString(options, 'param');
  if (param !== undefined && !ECTOKEN_PARAM_NAME.test(param)) {
    throw new SignError('scheme', `param must be a query parameter name, got "${param}"`);
  }
  return param;
}

const NO_RULES = 'tokens carry no access rules';

const ruleFlag = (flag: string, option: string, help: string) =>
  ({
    flag,
    type: 'string',
    option: `rules.${option}`,
    list: option !== 'clientIp',
    commands: ['sign'],
    help,
    refusal: NO_RULES,
  }) as const;

export const ectokenDefinition = {
  name: 'ectoken',
  title: 'Edgecast / Azure CDN Premium token auth v3 (ectoken)',
  summary: '?token=<AES-256-GCM of ec_* rules> (or the bare query), prefix scope, access rules',
  capabilities: ECTOKEN_CAPABILITIES,
  transports: ectoken.transports,
  zoneOptions,
  secrets: 'required',
  keyProblem: (key: string) =>
    ECTOKEN_KEY.test(key)
      ? undefined
      : 'an ectoken key is 1–250 letters and digits (Azure rule), e.g. made with openssl rand -hex 32',
  zoneProblems: (zone) => [
    ...(zone.tokens === 'path'
      ? ([
          [
            'tokens',
            'ectoken carries its scope in ec_url_allow, not in the path; use tokens: mint or forward',
          ],
        ] as const)
      : []),
    ...(zone.bindIp
      ? ([['bindIp', 'an ectoken binds itself to addresses with ec_clientip; set bindIp: false']] as const)
      : []),
  ],
  create: (options?: unknown) => schemeWith((options ?? {}) as EctokenOptions),
  flags: [
    ruleFlag(
      'url-allow',
      'urlAllow',
      'path prefixes the token opens (default: the signed path; "/" opens everything)',
    ),
    ruleFlag('country-allow', 'countryAllow', 'ISO 3166 codes (US,CA); --country-deny L refuses those'),
    ruleFlag('country-deny', 'countryDeny', 'ISO 3166 codes the token refuses'),
    ruleFlag(
      'ref-allow',
      'refAllow',
      'referrers: host or host/path, *.example.com for subdomains, "missing" (or a blank entry) for no referrer; --ref-deny L refuses those',
    ),
    ruleFlag('ref-deny', 'refDeny', 'referrers the token refuses'),
    ruleFlag('proto-allow', 'protoAllow', 'http, https; --proto-deny L refuses those'),
    ruleFlag('proto-deny', 'protoDeny', 'protocols the token refuses'),
    ruleFlag(
      'host-allow',
      'hostAllow',
      'host names the request may name, *.example.com for subdomains; --host-deny L',
    ),
    ruleFlag('host-deny', 'hostDeny', 'host names the token refuses'),
    ruleFlag(
      'client-ip',
      'clientIp',
      'an address or CIDR range (same as --ip for ectoken; give one of them)',
    ),
    {
      flag: 'param',
      type: 'string',
      option: 'param',
      commands: ['sign', 'verify'],
      help: 'the query parameter carrying the token (default: token; a bare ?<token> also works)',
      refusal: NO_RULES,
    },
    {
      flag: 'ignore-url-case',
      type: 'boolean',
      option: 'ignoreUrlCase',
      commands: ['verify'],
      help: 'compare ec_url_allow without case (the zone\'s "ignore URL case")',
      refusal: NO_RULES,
    },
    ...FACT_FLAGS,
  ],
  checkFlags: (values: Readonly<Record<string, unknown>>) => {
    if (values.ip !== undefined && values['client-ip'] !== undefined) {
      return '--ip and --client-ip both set ec_clientip; give one of them';
    }
    if (values.dir && values['url-allow'] !== undefined)
      return '--url-allow names what the token opens; drop --dir';
    const param = values.param;
    if (typeof param === 'string' && !ECTOKEN_PARAM_NAME.test(param)) {
      return `--param must be a query parameter name (letters, digits, _ . ~ -), got "${param}"`;
    }
    return undefined;
  },
  libraryOptions: { rules: 'carry no rules', param: 'carry no rules', ignoreUrlCase: 'carry no rules' },
  prepareSign: (options, common) => {
    const param = paramOption(options);
    const scheme = schemeWith(param === undefined ? {} : { param });
    const given = options.rules as EctokenRules | undefined;
    if (given === undefined) {
      return { scheme, key: common.secrets[0] ?? '', ...(common.ip === undefined ? {} : { ip: common.ip }) };
    }
    if (common.ip !== undefined && given.clientIp !== undefined) {
      throw new SignError('rule', 'ip and rules.clientIp both set ec_clientip; give one of them');
    }
    if (common.scope === 'directory' && given.urlAllow !== undefined) {
      throw new SignError('rule', 'rules.urlAllow names what the token opens; drop dir');
    }
    // ectokenRules also takes a CIDR range, which the scheme's own `ip` (one address) cannot.
    const built = ectokenRules(common.ip === undefined ? given : { ...given, clientIp: common.ip });
    if (!built.ok) throw new SignError('rule', built.problem);
    return { scheme, key: common.secrets[0] ?? '', rules: built.pairs };
  },
  prepareVerify: (options, common) => {
    if (common.bindIp) {
      throw new SignError('scheme', 'an ectoken binds itself to addresses with ec_clientip; drop bindIp');
    }
    const param = paramOption(options);
    const ignoreUrlCase = optionBoolean(options, 'ignoreUrlCase');
    return {
      scheme: schemeWith({
        ...(param === undefined ? {} : { param }),
        ...(ignoreUrlCase === undefined ? {} : { ignoreUrlCase }),
      }),
      keys: common.secrets,
      bindIp: false,
    };
  },
} as const satisfies SchemeDefinition & Record<string, unknown>;
