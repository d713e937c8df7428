import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import {
  optionBoolean,
  optionInteger,
  optionString,
  optionStrings,
  type SchemeDefinition,
  type SchemeOptions,
} from './definition.js';
import { globMatch, globPrefix } from './glob.js';
import { canonicalIp } from './ip.js';
import { prefixesCoverDirectory } from './path.js';
import { decodeValue } from './query.js';
import type { PresentedToken, SignTarget, TokenScheme, TokenSource, VerifyContext } from './scheme.js';
import { SignError } from './sign.js';
import { deny, type Grant, type Verdict } from './verdict.js';

/**
 * Akamai EdgeAuth / Auth Token 2.0 (akamai/EdgeAuth-Token-Node `lib/edgeauth.js`, EdgeAuth-Token-Python
 * `edgeauth.py`; Akamai Property Manager "Auth Token 2.0 Verification"):
 * `[ip=…~][st=…~]exp=…[~acl=…][~id=…][~data=…]~hmac=…`, where hmac is the lower-case hex HMAC
 * (SHA-256 by default, SHA-1 or MD5) under the hex-decoded key of the fields before it, followed for a
 * URL token by `~url=<path>` (signed, never sent) and by `~salt=<salt>` when the property has one.
 * An ACL token opens the paths its `acl` patterns match (`*` any run, `?` one character, several
 * patterns joined by `!`); a URL token opens its URL alone.
 */

export const AKAMAI_ALGORITHMS = ['sha256', 'sha1', 'md5'] as const;
export type AkamaiAlgorithm = (typeof AKAMAI_ALGORITHMS)[number];

const HMAC_HEX_LENGTH: Readonly<Record<AkamaiAlgorithm, number>> = { sha256: 64, sha1: 40, md5: 32 };
/** Akamai's token names: letters, digits and `_` (`__token__`, `hdnts`, `hdntl`, `__hdnea__`). */
export const AKAMAI_TOKEN_NAME = /^[A-Za-z0-9_]{1,64}$/;
const HEX_KEY = /^(?:[0-9A-Fa-f]{2})+$/;
const FIELD_NAMES = new Set(['ip', 'st', 'exp', 'acl', 'id', 'data', 'hmac']);
const UNIX = /^[0-9]{1,10}$/;
/** Long ACL lists and payloads exist; this bounds the work per request. */
const MAX_TOKEN_LENGTH = 4096;
const FIELD_DELIMITER = '~';
const ACL_DELIMITER = '!';

export interface AkamaiOptions {
  /** The token's name in the query, a cookie or a header (`__token__`; `hdnts` for Segmented Media Protection). */
  readonly param?: string;
  readonly algorithm?: AkamaiAlgorithm;
  /** The property's salt, signed after the fields and never sent. */
  readonly salt?: string;
  /** "Escape token input": ip, id, data and url are percent-encoded (lower-case hex) before signing. */
  readonly escapeEarly?: boolean;
  /** The cookie a session token is handed out in (Segmented Media Protection: `hdntl`). */
  readonly sessionCookie?: string;
}

/** EdgeAuth's escapeEarly: encodeURIComponent, `~'*` escaped too, hex in lower case. */
export function akamaiEscape(text: string): string {
  return encodeURIComponent(text)
    .replace(/[~'*]/g, (char) => `%${char.charCodeAt(0).toString(16)}`)
    .replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
}

// A zone has one or two keys (the transition key): each decoded once.
const keyBytes = new Map<string, Buffer>();
function decodedKey(hex: string): Buffer | undefined {
  if (!HEX_KEY.test(hex)) return undefined;
  let bytes = keyBytes.get(hex);
  if (bytes === undefined) {
    bytes = Buffer.from(hex, 'hex');
    if (keyBytes.size >= 64) keyBytes.clear();
    keyBytes.set(hex, bytes);
  }
  return bytes;
}

export function akamaiKeyProblem(key: string): string | undefined {
  return HEX_KEY.test(key)
    ? undefined
    : 'an Akamai key is hex with an even number of digits (the property\'s "Encryption key"), e.g. made with openssl rand -hex 32';
}

interface ParsedToken {
  readonly fields: ReadonlyMap<string, string>;
  /** The token text before `~hmac=`: what is signed, before url= and salt=. */
  readonly signed: string;
  readonly hmac: string;
}

function parseToken(text: string): ParsedToken | string {
  if (text.length > MAX_TOKEN_LENGTH) return `token longer than ${MAX_TOKEN_LENGTH} characters`;
  const at = text.lastIndexOf(`${FIELD_DELIMITER}hmac=`);
  if (at === -1) return 'no hmac field at the end';
  const fields = new Map<string, string>();
  for (const part of text.split(FIELD_DELIMITER)) {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    if (eq === -1 || !FIELD_NAMES.has(name)) return `unknown field "${name.slice(0, 16)}"`;
    if (fields.has(name)) return `field ${name} given twice`;
    fields.set(name, part.slice(eq + 1));
  }
  const hmac = fields.get('hmac') ?? '';
  return { fields, signed: text.slice(0, at), hmac };
}

/** The token fields a signer writes, in EdgeAuth's order (hmac added by the caller). */
function tokenFields(target: SignTarget, options: Required<Pick<AkamaiOptions, 'escapeEarly'>>): string[] {
  const escape = (text: string): string => (options.escapeEarly ? akamaiEscape(text) : text);
  const rules = new Map(target.rules ?? []);
  const fields: string[] = [];
  if (target.ip !== undefined) fields.push(`ip=${escape(target.ip)}`);
  const start = rules.get('st');
  if (start !== undefined) fields.push(`st=${start}`);
  fields.push(`exp=${target.expires}`);
  const acl = rules.get('acl') ?? (target.path.endsWith('/') ? `${target.path}*` : undefined);
  if (acl !== undefined) fields.push(`acl=${acl}`);
  const id = rules.get('id');
  if (id !== undefined) fields.push(`id=${escape(id)}`);
  const data = rules.get('data');
  if (data !== undefined) fields.push(`data=${escape(data)}`);
  return fields;
}

export function createAkamaiScheme(options: AkamaiOptions = {}): TokenScheme {
  const param = options.param ?? '__token__';
  const algorithm = options.algorithm ?? 'sha256';
  const escapeEarly = options.escapeEarly ?? false;
  const salt = options.salt;
  const sessionCookie = options.sessionCookie ?? (param === 'hdnts' ? 'hdntl' : param);
  const header = param.toLowerCase();
  const escape = (text: string): string => (escapeEarly ? akamaiEscape(text) : text);

  /** The bytes the HMAC covers: the token's fields, the URL for a URL token, the salt. */
  const hashInput = (signed: string, urlPath: string | undefined): string =>
    `${signed}${urlPath === undefined ? '' : `${FIELD_DELIMITER}url=${escape(urlPath)}`}${
      salt === undefined ? '' : `${FIELD_DELIMITER}salt=${salt}`
    }`;

  const stringToSign = (target: SignTarget): string => {
    const fields = tokenFields(target, { escapeEarly }).join(FIELD_DELIMITER);
    const isUrlToken = !fields.includes(`${FIELD_DELIMITER}acl=`) && !fields.startsWith('acl=');
    return hashInput(fields, isUrlToken ? target.path : undefined);
  };

  const sign = (target: SignTarget, key: string): string => {
    const bytes = decodedKey(key);
    if (bytes === undefined) throw new SignError('secret', akamaiKeyProblem(key) ?? 'bad key');
    const fields = tokenFields(target, { escapeEarly }).join(FIELD_DELIMITER);
    const hmac = createHmac(algorithm, bytes).update(stringToSign(target)).digest('hex');
    return `${fields}${FIELD_DELIMITER}hmac=${hmac}`;
  };

  const authentic = (parsed: ParsedToken, path: string, keys: readonly string[]): boolean => {
    if (parsed.hmac.length !== HMAC_HEX_LENGTH[algorithm] || !/^[0-9a-f]+$/.test(parsed.hmac)) return false;
    const presented = Buffer.from(parsed.hmac, 'hex');
    const input = hashInput(parsed.signed, parsed.fields.has('acl') ? undefined : path);
    // Every key is tried whatever the outcome (the transition key), so timing does not say which.
    let match = false;
    for (const key of keys) {
      const bytes = decodedKey(key);
      if (bytes === undefined) continue;
      match = timingSafeEqual(createHmac(algorithm, bytes).update(input).digest(), presented) || match;
    }
    return match;
  };

  const verify = (presented: PresentedToken, context: VerifyContext): Verdict => {
    // A query value may have been percent-encoded on its way (players re-encode forwarded queries):
    // the text as sent is tried first, then its decoding.
    const candidates = [presented.token];
    if (presented.via === 'query' && presented.token.includes('%')) {
      const decoded = decodeValue(presented.token);
      if (decoded !== undefined && decoded !== presented.token) candidates.push(decoded);
    }
    let parsed: ParsedToken | undefined;
    let problem = 'signature mismatch';
    for (const text of candidates) {
      const attempt = parseToken(text);
      if (typeof attempt === 'string') {
        problem = attempt;
        continue;
      }
      if (authentic(attempt, context.path, context.keys)) {
        parsed = attempt;
        break;
      }
      problem =
        attempt.hmac.length === HMAC_HEX_LENGTH[algorithm]
          ? 'signature mismatch'
          : 'hmac of the wrong length';
    }
    if (parsed === undefined) {
      return deny(problem === 'signature mismatch' ? 'invalid' : 'malformed', problem);
    }
    const { fields } = parsed;
    const expText = fields.get('exp');
    if (expText === undefined || !UNIX.test(expText)) return deny('malformed', 'exp is not a Unix time');
    const startText = fields.get('st');
    if (startText !== undefined && !UNIX.test(startText)) return deny('malformed', 'st is not a Unix time');
    const acl = fields.get('acl');
    const patterns = acl === undefined ? undefined : acl.split(ACL_DELIMITER);
    if (patterns !== undefined && !patterns.some((pattern) => globMatch(pattern, context.path))) {
      return deny('invalid', 'acl does not cover this path');
    }
    const ipText = fields.get('ip');
    let ip: string | undefined;
    if (ipText !== undefined) {
      ip = canonicalIp(escapeEarly ? (decodeValue(ipText) ?? '') : ipText);
      const client = context.facts?.clientAddress;
      if (ip === undefined) return deny('malformed', 'ip is not an address');
      if (client === undefined || canonicalIp(client) !== ip)
        return deny('rule', 'client address is not the token ip');
    }
    const expires = Number(expText);
    if (startText !== undefined && context.now < Number(startText)) {
      return deny('invalid', `not valid before ${startText}`);
    }
    if (!(context.now < expires)) return deny('expired', `expired at ${expires}`);

    const carried: Array<readonly [string, string]> = [];
    const id = fields.get('id');
    const data = fields.get('data');
    if (id !== undefined) carried.push(['id', escapeEarly ? (decodeValue(id) ?? id) : id]);
    if (data !== undefined) carried.push(['data', escapeEarly ? (decodeValue(data) ?? data) : data]);
    const base = {
      ok: true as const,
      status: 200 as const,
      expires,
      token: presented.token,
      ...(ip === undefined ? {} : { ip }),
      ...(carried.length === 0 ? {} : { rules: carried }),
    };
    if (patterns === undefined) return { ...base, scope: 'file', signedPath: context.path };
    const shapes = patterns.map(globPrefix);
    if (shapes.every((shape) => shape.trailingStarOnly)) {
      const prefixes = shapes.map((shape) => shape.prefix);
      return { ...base, scope: 'prefix', signedPath: prefixes[0] ?? '/', prefixes };
    }
    return { ...base, scope: 'prefix', signedPath: shapes[0]?.prefix ?? '/', prefixes: [], patterns };
  };

  const covers = (grant: Grant, path: string): boolean => {
    if (grant.scope === 'file') return path === grant.signedPath;
    if (grant.patterns !== undefined) return grant.patterns.some((pattern) => globMatch(pattern, path));
    return (grant.prefixes ?? []).some((prefix) => path.startsWith(prefix));
  };

  const present = (source: TokenSource): PresentedToken | ReturnType<typeof deny> | undefined => {
    let found: string | undefined;
    for (const pair of source.pairs) {
      if (pair.name !== param) continue;
      if (found !== undefined) return deny('malformed', `parameter ${param} given twice`);
      found = pair.rawValue ?? '';
    }
    if (found !== undefined) {
      if (found === '') return deny('malformed', `parameter ${param} empty`);
      return { token: found, expires: '', via: 'query' };
    }
    const fromHeader = source.header(header);
    if (fromHeader !== undefined && fromHeader !== '')
      return { token: fromHeader, expires: '', via: 'header' };
    const fromCookie = source.cookie(sessionCookie) ?? source.cookie(param);
    if (fromCookie !== undefined && fromCookie !== '')
      return { token: fromCookie, expires: '', via: 'cookie' };
    return undefined;
  };

  return {
    name: 'akamai',
    params: { token: param },
    transports: {
      query: [param],
      bareQuery: false,
      pathSegment: false,
      cookies: [...new Set([sessionCookie, param])],
      headers: [header],
    },
    capabilities: AKAMAI_CAPABILITIES,
    bareQueryToken: false,
    pathTokens: false,
    maxTokenLength: MAX_TOKEN_LENGTH,
    readsRequestFacts: true,
    supportsIp: true,
    keyProblem: akamaiKeyProblem,
    stringToSign,
    sign,
    verify,
    present,
    covers,
    coversDirectory: (grant, directory) => {
      if (grant.scope === 'file' || grant.patterns !== undefined) return undefined;
      return prefixesCoverDirectory(grant.prefixes ?? [], directory);
    },
    queryParams: (token) => [[param, token]],
    cookieParams: (token) => [[sessionCookie, token]],
  };
}

const AKAMAI_CAPABILITIES = { ip: 'token', directory: true, pathForm: false, rules: false } as const;

export const akamai = createAkamaiScheme();

// ---------------------------------------------------------------------------------------------------
// The registry entry.

const zoneOptions = z.strictObject({
  /** The token name: `__token__`, or `hdnts` for Segmented Media Protection. */
  param: z
    .string()
    .regex(AKAMAI_TOKEN_NAME, { error: 'must be a token name (letters, digits, _), e.g. __token__ or hdnts' })
    .default('__token__'),
  algorithm: z.enum(AKAMAI_ALGORITHMS, { error: 'must be one of sha256, sha1, md5' }).default('sha256'),
  salt: z.string().min(1).optional(),
  escapeEarly: z.boolean().default(false),
  /** The session cookie the cookie strategy hands out; default hdntl for hdnts, else the token name. */
  sessionCookie: z
    .string()
    .regex(AKAMAI_TOKEN_NAME, { error: 'must be a cookie name (letters, digits, _), e.g. hdntl' })
    .optional(),
});

const configured = new Map<string, TokenScheme>();
function schemeWith(options: AkamaiOptions): TokenScheme {
  const key = JSON.stringify([
    options.param,
    options.algorithm,
    options.salt,
    options.escapeEarly,
    options.sessionCookie,
  ]);
  let scheme = configured.get(key);
  if (scheme === undefined) {
    scheme = createAkamaiScheme(options);
    if (configured.size >= 32) configured.clear();
    configured.set(key, scheme);
  }
  return scheme;
}

function instanceOptions(options: SchemeOptions): AkamaiOptions {
  const param = optionString(options, 'param');
  if (param !== undefined && !AKAMAI_TOKEN_NAME.test(param)) {
    throw new SignError('scheme', `param must be a token name (letters, digits, _), got "${param}"`);
  }
  const algorithm = optionString(options, 'algorithm');
  if (algorithm !== undefined && !(AKAMAI_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new SignError(
      'scheme',
      `algorithm must be one of ${AKAMAI_ALGORITHMS.join(', ')}, got "${algorithm}"`,
    );
  }
  const salt = optionString(options, 'salt');
  const escapeEarly = optionBoolean(options, 'escapeEarly');
  return {
    ...(param === undefined ? {} : { param }),
    ...(algorithm === undefined ? {} : { algorithm: algorithm as AkamaiAlgorithm }),
    ...(salt === undefined ? {} : { salt }),
    ...(escapeEarly === undefined ? {} : { escapeEarly }),
  };
}

const ACL_ENTRY = /^\/[^!~\s]*$/;
const escapes = (options: SchemeOptions): boolean => optionBoolean(options, 'escapeEarly') === true;
const FIELD_VALUE = /^[^~\s]*$/;

export const akamaiDefinition = {
  name: 'akamai',
  title: 'Akamai EdgeAuth / Auth Token 2.0',
  summary: '?__token__=exp=…~acl=…~hmac=… (or hdnts), in the query, a cookie or a header; ACL wildcards',
  capabilities: AKAMAI_CAPABILITIES,
  transports: akamai.transports,
  zoneOptions,
  secrets: 'required',
  keyProblem: akamaiKeyProblem,
  create: (options?: unknown) => schemeWith((options ?? {}) as AkamaiOptions),
  flags: [
    {
      flag: 'acl',
      type: 'string',
      multiple: true,
      option: 'acl',
      commands: ['sign'],
      help: 'an ACL pattern the token opens (/vod/movie-1/*, ? one character); repeatable, joined by !',
    },
    {
      flag: 'start',
      type: 'string',
      integer: true,
      option: 'start',
      commands: ['sign'],
      help: 'st: not valid before this Unix time',
    },
    {
      flag: 'session-id',
      type: 'string',
      option: 'sessionId',
      commands: ['sign'],
      help: 'id: a session id written into the token',
    },
    {
      flag: 'data',
      type: 'string',
      option: 'data',
      commands: ['sign'],
      help: 'data: a payload written into the token',
    },
    {
      flag: 'salt',
      type: 'string',
      option: 'salt',
      commands: ['sign', 'verify'],
      help: "the property's salt (signed, never sent)",
    },
    {
      flag: 'algorithm',
      type: 'string',
      option: 'algorithm',
      commands: ['sign', 'verify'],
      help: 'sha256 (default), sha1 or md5',
    },
    {
      flag: 'escape-early',
      type: 'boolean',
      option: 'escapeEarly',
      commands: ['sign', 'verify'],
      help: 'percent-encode ip, id, data and url before signing (the property\'s "Escape token input")',
    },
    {
      flag: 'param',
      type: 'string',
      option: 'param',
      commands: ['sign', 'verify'],
      help: 'the token name (default __token__; hdnts for Segmented Media Protection)',
    },
  ],
  prepareSign: (options, common) => {
    const scheme = schemeWith(instanceOptions(options));
    const acl = optionStrings(options, 'acl');
    const start = optionInteger(options, 'start');
    const sessionId = optionString(options, 'sessionId');
    const data = optionString(options, 'data');
    const rules: Array<readonly [string, string]> = [];
    if (acl !== undefined) {
      if (common.scope !== 'file') throw new SignError('rule', 'acl names what the token opens; drop dir');
      const bad = acl.find((entry) => !ACL_ENTRY.test(entry));
      if (bad !== undefined)
        throw new SignError('rule', `acl "${bad}" must be a path pattern starting with / (no ! or ~)`);
      rules.push(['acl', acl.join(ACL_DELIMITER)]);
    }
    if (start !== undefined) {
      if (start < 1) throw new SignError('expiry', 'start must be a Unix time');
      rules.push(['st', String(start)]);
    }
    for (const [name, value] of [
      ['id', sessionId],
      ['data', data],
    ] as const) {
      if (value === undefined) continue;
      // Unescaped, a ~ would end the field; escapeEarly percent-encodes it.
      if (!escapes(options) && !FIELD_VALUE.test(value)) {
        throw new SignError('rule', `${name} must not hold ~ or spaces (or give escapeEarly)`);
      }
      rules.push([name, value]);
    }
    const key = common.secrets[0] ?? '';
    const problem = akamaiKeyProblem(key);
    if (problem !== undefined) throw new SignError('secret', problem);
    return {
      scheme,
      key,
      ...(common.ip === undefined ? {} : { ip: common.ip }),
      ...(rules.length === 0 ? {} : { rules }),
    };
  },
  prepareVerify: (options, common) => {
    if (common.bindIp)
      throw new SignError('scheme', 'an Akamai token says itself which ip it is bound to; drop bindIp');
    const problem = common.secrets.map(akamaiKeyProblem).find((found) => found !== undefined);
    if (problem !== undefined) throw new SignError('secret', problem);
    return { scheme: schemeWith(instanceOptions(options)), keys: common.secrets, bindIp: false };
  },
} as const satisfies SchemeDefinition;
