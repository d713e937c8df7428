import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import {
  FACT_FLAGS,
  optionBoolean,
  optionInteger,
  optionString,
  optionStrings,
  type SchemeDefinition,
  type SchemeOptions,
} from './definition.js';
import { canonicalIp } from './ip.js';
import { encodePath, prefixesCoverDirectory } from './path.js';
import { decodeValue, parseQuery, type QueryPair } from './query.js';
import type { PresentedToken, SignTarget, TokenScheme, TokenSource, VerifyContext } from './scheme.js';
import { SignError } from './sign.js';
import { deny, type Denial, type Grant, type Verdict } from './verdict.js';

/**
 * Bunny CDN token authentication (BunnyWay/BunnyCDN.TokenAuthentication, `nodejs/token.js` and its
 * ports, whose e2e vectors agree across languages): `HS256-` + (`1-` when IP-locked) +
 * base64url-nopad(HMAC-SHA256(security key, signaturePath ‖ expires ‖ ipBytes ‖ signingData)), where
 * signaturePath is `token_path` or the URL path, ipBytes the viewer's IPv4 (4 bytes) or IPv6 /64
 * (16 bytes, low 8 zero), and signingData the URL's parameters sorted by name as `k=v&…` with raw
 * values (`token_ignore_params=true` signs only the token's own). Sent as `?token=…&…&expires=N`, or in
 * the first path segment (`/bcdn_token=…&expires=N/dir/file`), which relative URIs inherit. The legacy
 * form (2021) is base64url(SHA-256(key + path + expires + ip + parameters)); it is accepted only where
 * a zone enables it: a key-prefixed SHA-256 is open to length extension.
 */

const TOKEN = 'token';
const EXPIRES = 'expires';
const PATH_PREFIX = 'bcdn_token=';
/** The parameters that belong to the token: taken out before proxying. */
const CONTROL = ['token_path', 'token_countries', 'token_countries_blocked', 'token_ignore_params', 'limit'];
const QUERY = [TOKEN, EXPIRES, ...CONTROL];
const HMAC_TOKEN = /^HS256-(1-)?([A-Za-z0-9_-]{43})$/;
const LEGACY_TOKEN = /^[A-Za-z0-9_-]{43}$/;
const UNIX = /^[0-9]{1,10}$/;
const COUNTRIES = /^[A-Za-z]{2}(,[A-Za-z]{2})*$/;
/** `limit`: kilobytes per second (1 kB = 1,024 bytes, as nginx's limit_rate counts); 0 is no limit. */
const LIMIT = /^[0-9]{1,9}$/;

export interface BunnyOptions {
  /** Accept the legacy SHA-256 tokens (no `HS256-` prefix) too. */
  readonly legacy?: boolean;
}

/** The address as Bunny signs it: IPv4 4 bytes; IPv6 the /64 network (16 bytes, the low 8 zero). */
export function bunnyIpBytes(address: string): Buffer | undefined {
  const ip = canonicalIp(address);
  if (ip === undefined) return undefined;
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  const url = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const [head = '', tail = ''] = url.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = url.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = url.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => bytes.writeUInt16BE(parseInt(group, 16), index * 2));
  bytes.fill(0, 8);
  return bytes;
}

/** Parameters sorted by name (code point order), `k=v` joined by `&`, values raw. */
function signingData(params: ReadonlyMap<string, string>): string {
  return [...params]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** What a token sends beside `token` and `expires`, URL-encoded, sorted. */
function urlData(params: ReadonlyMap<string, string>): string {
  return [...params]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join('&');
}

/** The path as the signers write it: WHATWG URL's pathname of the canonical encoding. */
function signedUrlPath(decodedPath: string): string {
  return new URL(encodePath(decodedPath), 'http://h').pathname;
}

function hmacToken(key: string, path: string, expires: string, ip: Buffer | undefined, data: string): Buffer {
  return createHmac('sha256', key)
    .update(path)
    .update(expires)
    .update(ip ?? Buffer.alloc(0))
    .update(data)
    .digest();
}

function legacyToken(key: string, path: string, expires: string, ip: string, data: string): Buffer {
  return createHash('sha256').update(`${key}${path}${expires}${ip}${data}`).digest();
}

export function createBunnyScheme(options: BunnyOptions = {}): TokenScheme {
  const legacy = options.legacy ?? false;

  /**
   * What a target's token signs: the URL's own parameters (unless token_ignore_params), the token's
   * (countries, token_path for a directory).
   */
  const tokenParams = (target: SignTarget): Map<string, string> => {
    const params = new Map<string, string>();
    const rules = new Map(target.rules ?? []);
    if (rules.get('token_ignore_params') !== 'true') {
      for (const pair of parseQuery(target.query ?? ''))
        params.set(pair.name, decodeValue(pair.rawValue ?? '') ?? '');
    }
    for (const [name, value] of rules) {
      if (CONTROL.includes(name)) params.set(name, value);
    }
    // A directory opens with token_path (Bunny's directory grant); a file signs its own path.
    if (target.path.endsWith('/') && !params.has('token_path')) params.set('token_path', target.path);
    return params;
  };

  const stringToSign = (target: SignTarget): string => {
    const params = tokenParams(target);
    const path = params.get('token_path') ?? signedUrlPath(target.path);
    return `${path}${target.expires}${target.ip === undefined ? '' : `[ip ${target.ip}]`}${signingData(params)}`;
  };

  const sign = (target: SignTarget, key: string): string => {
    const params = tokenParams(target);
    const path = params.get('token_path') ?? signedUrlPath(target.path);
    const ip = target.ip === undefined ? undefined : bunnyIpBytes(target.ip);
    if (target.ip !== undefined && ip === undefined)
      throw new SignError('ip', `not an IP address: ${target.ip}`);
    const digest = hmacToken(key, path, String(target.expires), ip, signingData(params));
    const token = `HS256-${ip === undefined ? '' : '1-'}${digest.toString('base64url')}`;
    // Only the token's own parameters travel with it; the URL keeps its others where they are.
    const data = urlData(new Map([...params].filter(([name]) => CONTROL.includes(name))));
    return data === '' ? `${TOKEN}=${token}` : `${TOKEN}=${token}&${data}`;
  };

  const present = (source: TokenSource): PresentedToken | Denial | undefined => {
    const fields = new Map<string, string>();
    const others = new Map<string, string>();
    const read = (pairs: readonly QueryPair[], inPath: boolean): Denial | undefined => {
      for (const pair of pairs) {
        const name = inPath && pair.name === 'bcdn_token' ? TOKEN : pair.name;
        const value = decodeValue(pair.rawValue ?? '');
        if (value === undefined) return deny('malformed', `parameter ${name} badly encoded`);
        const into = QUERY.includes(name) ? fields : others;
        if (into.has(name)) return deny('malformed', `parameter ${name} given twice`);
        into.set(name, value);
      }
      return undefined;
    };
    let via: 'query' | 'path' = 'query';
    if (source.pathSegment !== undefined) {
      via = 'path';
      const problem = read(parseQuery(source.pathSegment), true);
      if (problem) return problem;
      if (source.pairs.some((pair) => QUERY.includes(pair.name))) {
        return deny('malformed', 'both a path token and query token parameters');
      }
      const rest = read(source.pairs, false);
      if (rest) return rest;
    } else {
      const problem = read(source.pairs, false);
      if (problem) return problem;
      if (!fields.has(TOKEN) && !fields.has(EXPIRES)) return undefined;
    }
    const token = fields.get(TOKEN);
    const expires = fields.get(EXPIRES);
    if (!token) return deny('malformed', 'parameter token missing');
    if (!expires) return deny('malformed', 'parameter expires missing');
    // Everything the signature covers: the token's own parameters and the URL's other ones.
    const own = new Map([...fields].filter(([name]) => CONTROL.includes(name)));
    const data = urlData(own);
    return {
      token:
        data === ''
          ? `${TOKEN}=${encodeURIComponent(token)}`
          : `${TOKEN}=${encodeURIComponent(token)}&${data}`,
      expires,
      fields: new Map([...others, ...own]),
      via,
    };
  };

  const verify = (presented: PresentedToken, context: VerifyContext): Verdict => {
    const fields = presented.fields ?? new Map<string, string>();
    const tokenText =
      new Map(parseQuery(presented.token).map((pair) => [pair.name, pair.rawValue ?? ''])).get(TOKEN) ?? '';
    const token = decodeValue(tokenText) ?? '';
    if (!UNIX.test(presented.expires)) return deny('malformed', 'expires is not a Unix time');
    const limit = fields.get('limit');
    if (limit !== undefined && !LIMIT.test(limit))
      return deny('malformed', 'limit is not a whole number of kB/s');
    const hmac = HMAC_TOKEN.exec(token);
    const isLegacy = hmac === null && LEGACY_TOKEN.test(token);
    if (hmac === null && !isLegacy)
      return deny('malformed', 'token is neither HS256-… nor a legacy SHA-256 token');
    if (isLegacy && !legacy)
      return deny('unsupported', 'legacy SHA-256 Bunny tokens are not accepted by this zone');

    const ignoreParams = fields.get('token_ignore_params') === 'true';
    const signedParams = ignoreParams
      ? new Map([...fields].filter(([name]) => CONTROL.includes(name)))
      : fields;
    const tokenPath = fields.get('token_path');
    const data = signingData(signedParams);
    const client = context.facts?.clientAddress;
    let match = false;
    if (hmac !== null) {
      const presentedBytes = Buffer.from(hmac[2] ?? '', 'base64url');
      const ipBytes =
        hmac[1] === undefined ? undefined : client === undefined ? undefined : bunnyIpBytes(client);
      if (hmac[1] !== undefined && ipBytes === undefined)
        return deny('invalid', 'IP-locked token and no usable client address');
      const path = tokenPath ?? signedUrlPath(context.path);
      for (const key of context.keys) {
        match =
          timingSafeEqual(hmacToken(key, path, presented.expires, ipBytes, data), presentedBytes) || match;
      }
    } else {
      const presentedBytes = Buffer.from(token, 'base64url');
      const path = tokenPath ?? context.path;
      const ip = client === undefined ? '' : (canonicalIp(client) ?? '');
      // A legacy token does not say whether it is IP-locked: with and without the address.
      for (const key of context.keys) {
        match = timingSafeEqual(legacyToken(key, path, presented.expires, '', data), presentedBytes) || match;
        if (ip !== '')
          match =
            timingSafeEqual(legacyToken(key, path, presented.expires, ip, data), presentedBytes) || match;
      }
    }
    if (!match) return deny('invalid', 'signature mismatch');
    if (tokenPath !== undefined && !context.path.startsWith(tokenPath))
      return deny('invalid', 'token_path does not cover this path');

    const allow = fields.get('token_countries');
    const blocked = fields.get('token_countries_blocked');
    if (allow !== undefined || blocked !== undefined) {
      const country = context.facts?.country?.()?.toUpperCase();
      if (
        allow !== undefined &&
        (country === undefined || !allow.toUpperCase().split(',').includes(country))
      ) {
        return deny(
          'rule',
          country === undefined ? 'country unknown' : `country ${country} not in token_countries`,
        );
      }
      if (
        blocked !== undefined &&
        country !== undefined &&
        blocked.toUpperCase().split(',').includes(country)
      ) {
        return deny('rule', `country ${country} in token_countries_blocked`);
      }
    }
    const expires = Number(presented.expires);
    if (!(context.now < expires)) return deny('expired', `expired at ${expires}`);

    // Minted tokens keep the viewer's country rules and speed limit, and sign only their own
    // parameters: the URIs a manifest names carry queries of their own.
    const carried: Array<readonly [string, string]> = [
      ...[...fields].filter(
        ([name]) => name === 'token_countries' || name === 'token_countries_blocked' || name === 'limit',
      ),
      ['token_ignore_params', 'true'],
    ];
    const rateLimit = limit === undefined || Number(limit) === 0 ? undefined : Number(limit) * 1024;
    const ip = hmac?.[1] !== undefined && client !== undefined ? canonicalIp(client) : undefined;
    const base = {
      ok: true as const,
      status: 200 as const,
      expires,
      token: presented.token,
      ...(ip === undefined ? {} : { ip }),
      ...(rateLimit === undefined ? {} : { rateLimit }),
      rules: carried,
    };
    if (presented.via === 'path') {
      const segment = `${PATH_PREFIX}${presented.token.slice(TOKEN.length + 1)}&${EXPIRES}=${presented.expires}`;
      return {
        ...base,
        scope: 'path',
        signedPath: tokenPath ?? context.path,
        pathSegment: { after: '/', text: segment },
      };
    }
    if (tokenPath !== undefined)
      return { ...base, scope: 'prefix', signedPath: tokenPath, prefixes: [tokenPath] };
    return { ...base, scope: 'file', signedPath: context.path };
  };

  /** A token that signs its URL's own parameters opens nothing else: nested URIs have theirs. */
  const strict = (grant: Grant): boolean => !grant.token.includes('token_ignore_params=true');

  const covers = (grant: Grant, path: string): boolean => {
    if (strict(grant)) return false;
    if (grant.scope === 'file') return path === grant.signedPath;
    return (grant.prefixes ?? [grant.signedPath]).some((prefix) => path.startsWith(prefix));
  };

  return {
    name: 'bunny',
    params: { token: TOKEN, expires: EXPIRES },
    transports: {
      query: QUERY,
      bareQuery: false,
      pathSegment: false,
      pathPrefix: PATH_PREFIX,
      cookies: [],
      headers: [],
    },
    capabilities: BUNNY_CAPABILITIES,
    bareQueryToken: false,
    pathTokens: false,
    maxTokenLength: 2048,
    readsRequestFacts: true,
    supportsIp: true,
    stringToSign,
    sign,
    verify,
    present,
    covers,
    coversDirectory: (grant, directory) => {
      if (strict(grant)) return false;
      if (grant.scope === 'file')
        return directory === grant.signedPath.slice(0, grant.signedPath.lastIndexOf('/') + 1)
          ? undefined
          : false;
      return prefixesCoverDirectory(grant.prefixes ?? [grant.signedPath], directory);
    },
    queryParams: (token, expires) => [
      ...parseQuery(token).map((pair) => [pair.name, pair.rawValue ?? ''] as const),
      [EXPIRES, String(expires)],
    ],
    pathForm: (token, expires) => ({
      after: '/',
      segment: `${PATH_PREFIX}${token.slice(TOKEN.length + 1)}&${EXPIRES}=${expires}`,
    }),
  };
}

const BUNNY_CAPABILITIES = { ip: 'token', directory: true, pathForm: true, rules: true } as const;

export const bunny = createBunnyScheme();

// ---------------------------------------------------------------------------------------------------
// The registry entry.

const zoneOptions = z.strictObject({
  /** Also accept the 2021 SHA-256 tokens (no HS256- prefix); off by default (length extension). */
  legacy: z.boolean().default(false),
});

const schemes = new Map<boolean, TokenScheme>();
function schemeWith(options: BunnyOptions): TokenScheme {
  const legacy = options.legacy ?? false;
  let scheme = schemes.get(legacy);
  if (scheme === undefined) {
    scheme = createBunnyScheme({ legacy });
    schemes.set(legacy, scheme);
  }
  return scheme;
}

function countryList(options: SchemeOptions, name: string): string | undefined {
  const list = optionStrings(options, name);
  if (list === undefined) return undefined;
  const text = list.join(',').toUpperCase();
  if (!COUNTRIES.test(text))
    throw new SignError('rule', `${name}: give two-letter ISO 3166 codes, e.g. US,CA`);
  return text;
}

export const bunnyDefinition = {
  name: 'bunny',
  title: 'Bunny CDN token authentication',
  summary: '?token=HS256-…&expires=N (token_path, countries, IP) or /bcdn_token=…&expires=N/dir/file',
  capabilities: BUNNY_CAPABILITIES,
  transports: bunny.transports,
  zoneOptions,
  secrets: 'required',
  create: (options?: unknown) => schemeWith((options ?? {}) as BunnyOptions),
  flags: [
    {
      flag: 'token-path',
      type: 'string',
      option: 'tokenPath',
      commands: ['sign'],
      help: 'token_path: the path prefix the token opens (/vod/movie-1/)',
    },
    {
      flag: 'countries',
      type: 'string',
      list: true,
      option: 'countries',
      commands: ['sign'],
      help: 'token_countries: ISO 3166 codes allowed (US,CA)',
    },
    {
      flag: 'countries-blocked',
      type: 'string',
      list: true,
      option: 'countriesBlocked',
      commands: ['sign'],
      help: 'token_countries_blocked: ISO 3166 codes refused',
    },
    {
      flag: 'ignore-params',
      type: 'boolean',
      option: 'ignoreParams',
      commands: ['sign'],
      help: "token_ignore_params: the token does not sign the URL's other parameters",
    },
    {
      flag: 'limit',
      type: 'string',
      integer: true,
      option: 'limit',
      commands: ['sign'],
      help: 'limit: the download speed limit in kB/s (0: none)',
    },
    {
      flag: 'legacy',
      type: 'boolean',
      option: 'legacy',
      commands: ['verify'],
      help: 'also accept legacy SHA-256 tokens (without HS256-)',
    },
    ...FACT_FLAGS.filter((flag) => flag.flag === 'country'),
  ],
  prepareSign: (options, common) => {
    const rules: Array<readonly [string, string]> = [];
    const tokenPath = optionString(options, 'tokenPath');
    if (tokenPath !== undefined) {
      if (common.scope !== 'file')
        throw new SignError('rule', 'tokenPath names what the token opens; drop dir');
      if (!tokenPath.startsWith('/')) throw new SignError('rule', 'tokenPath must start with /');
      rules.push(['token_path', tokenPath]);
    }
    const countries = countryList(options, 'countries');
    if (countries !== undefined) rules.push(['token_countries', countries]);
    const blocked = countryList(options, 'countriesBlocked');
    if (blocked !== undefined) rules.push(['token_countries_blocked', blocked]);
    if (optionBoolean(options, 'ignoreParams')) rules.push(['token_ignore_params', 'true']);
    const limit = optionInteger(options, 'limit');
    if (limit !== undefined) {
      if (limit > 999_999_999) throw new SignError('rule', 'limit is in kB/s: at most 999999999');
      rules.push(['limit', String(limit)]);
    }
    return {
      scheme: schemeWith({}),
      key: common.secrets[0] ?? '',
      ...(common.ip === undefined ? {} : { ip: common.ip }),
      ...(rules.length === 0 ? {} : { rules }),
    };
  },
  prepareVerify: (options, common) => {
    if (common.bindIp)
      throw new SignError(
        'scheme',
        'a Bunny token says itself whether it is IP-locked (HS256-1-); drop bindIp',
      );
    const legacy = optionBoolean(options, 'legacy');
    return { scheme: schemeWith({ legacy: legacy ?? false }), keys: common.secrets, bindIp: false };
  },
} as const satisfies SchemeDefinition;
