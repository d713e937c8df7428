import { BlockList, isIPv4 } from 'node:net';
import {
  createPrivateKey,
  createPublicKey,
  sign as rsaSign,
  verify as rsaVerify,
  type KeyObject,
} from 'node:crypto';
import { z } from 'zod';
import {
  optionInteger,
  optionString,
  optionStrings,
  readZoneFile,
  type ResolveContext,
  type ResolvedOptions,
  type SchemeDefinition,
  type SchemeOptions,
} from './definition.js';
import { globMatch, globPrefix } from './glob.js';
import { canonicalIp, parseCidr } from './ip.js';
import { prefixesCoverDirectory } from './path.js';
import { decodeValue } from './query.js';
import type { PresentedToken, SignTarget, TokenScheme, TokenSource, VerifyContext } from './scheme.js';
import { SignError } from './sign.js';
import { deny, type Denial, type Grant, type Verdict } from './verdict.js';

/**
 * AWS CloudFront signed URLs and signed cookies (Amazon CloudFront Developer Guide, "Serve private
 * content with signed URLs and signed cookies"; @aws-sdk/cloudfront-signer). A policy — canned
 * (`{"Statement":[{"Resource":URL,"Condition":{"DateLessThan":{"AWS:EpochTime":N}}}]}`, rebuilt from
 * the request and never sent) or custom (sent base64 in `Policy`, with `*`/`?` in Resource,
 * DateGreaterThan and an IpAddress range) — is signed with RSA PKCS#1 v1.5 over SHA-1, or SHA-256
 * when `Hash-Algorithm=SHA256`. Base64 in CloudFront's own alphabet: `+`→`-`, `=`→`_`, `/`→`~`.
 * Signing needs the private key; verifying only the public key named by `Key-Pair-Id`.
 */

export const CLOUDFRONT_ALGORITHMS = ['sha1', 'sha256'] as const;
export type CloudfrontAlgorithm = (typeof CLOUDFRONT_ALGORITHMS)[number];

const QUERY = ['Expires', 'Policy', 'Signature', 'Key-Pair-Id', 'Hash-Algorithm'] as const;
const COOKIE = (name: string): string => `CloudFront-${name}`;
const KEY_PAIR_ID = /^[A-Za-z0-9]{1,128}$/;
const UNIX = /^[0-9]{1,10}$/;
const CLOUDFRONT_BASE64 = /^[A-Za-z0-9~_-]+$/;
const MAX_TOKEN_LENGTH = 8192;

export function toCloudfrontBase64(bytes: Buffer | string): string {
  return Buffer.from(bytes)
    .toString('base64')
    .replace(/[+=/]/g, (char) => (char === '+' ? '-' : char === '=' ? '_' : '~'));
}

export function fromCloudfrontBase64(text: string): Buffer | undefined {
  if (!CLOUDFRONT_BASE64.test(text)) return undefined;
  const standard = text.replace(/[-_~]/g, (char) => (char === '-' ? '+' : char === '_' ? '=' : '/'));
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(standard) || standard.length % 4 !== 0) return undefined;
  return Buffer.from(standard, 'base64');
}

/** The SDK's URL form: each path segment encodeURIComponent'd (a resource is signed as written). */
function sdkPath(decodedPath: string): string {
  return decodedPath
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

export interface CloudfrontKeyPair {
  readonly id: string;
  /** PEM text of the public key CloudFront's key group holds. */
  readonly publicKey: string;
}

export interface CloudfrontOptions {
  /** The public keys accepted, each under its key pair id (a key group: rotation). */
  readonly keyPairs?: readonly CloudfrontKeyPair[];
  /** PEM text of the private key that signs minted tokens and cookies. */
  readonly privateKey?: string;
  /** The key pair id minted tokens name (default: the first key pair's). */
  readonly keyPairId?: string;
  readonly algorithm?: CloudfrontAlgorithm;
}

interface Policy {
  readonly resource: string | undefined;
  readonly before: number;
  readonly after?: number;
  readonly sourceIp?: string;
}

function conditionTime(value: unknown): number | undefined {
  const time = (value as Record<string, unknown> | undefined)?.['AWS:EpochTime'];
  return typeof time === 'number' && Number.isInteger(time) && time >= 0 ? time : undefined;
}

/** A custom policy as CloudFront reads it: one statement, the conditions it knows, nothing else. */
function parsePolicy(bytes: Buffer): Policy | string {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'Policy is not JSON';
  }
  const statements = (json as { Statement?: unknown }).Statement;
  if (!Array.isArray(statements) || statements.length !== 1) return 'Policy must hold one Statement';
  const statement = statements[0] as Record<string, unknown>;
  const unknown = Object.keys(statement).filter((key) => key !== 'Resource' && key !== 'Condition');
  if (unknown.length > 0) return `Policy statement has ${unknown[0]}`;
  const resource = statement.Resource;
  if (resource !== undefined && typeof resource !== 'string') return 'Policy Resource is not a string';
  const condition = (statement.Condition ?? {}) as Record<string, unknown>;
  const known = new Set(['DateLessThan', 'DateGreaterThan', 'IpAddress']);
  const other = Object.keys(condition).find((key) => !known.has(key));
  if (other !== undefined) return `Policy condition ${other} is not supported`;
  const before = conditionTime(condition.DateLessThan);
  if (before === undefined) return 'Policy needs DateLessThan AWS:EpochTime';
  const after =
    condition.DateGreaterThan === undefined ? undefined : conditionTime(condition.DateGreaterThan);
  if (condition.DateGreaterThan !== undefined && after === undefined)
    return 'Policy DateGreaterThan is not a time';
  let sourceIp: string | undefined;
  if (condition.IpAddress !== undefined) {
    const value = (condition.IpAddress as Record<string, unknown>)['AWS:SourceIp'];
    if (typeof value !== 'string' || !parseCidr(value).ok) return 'Policy IpAddress is not a CIDR range';
    sourceIp = value;
  }
  return {
    resource,
    before,
    ...(after === undefined ? {} : { after }),
    ...(sourceIp === undefined ? {} : { sourceIp }),
  };
}

/** The policy JSON exactly as @aws-sdk/cloudfront-signer writes it (key order matters: it is signed). */
function policyJson(resource: string, before: number, after?: number, sourceIp?: string): string {
  const condition: Record<string, unknown> = { DateLessThan: { 'AWS:EpochTime': before } };
  if (after !== undefined) condition.DateGreaterThan = { 'AWS:EpochTime': after };
  if (sourceIp !== undefined) condition.IpAddress = { 'AWS:SourceIp': sourceIp };
  return JSON.stringify({ Statement: [{ Resource: resource, Condition: condition }] });
}

function cidrOf(address: string): string {
  const ip = canonicalIp(address) ?? address;
  return isIPv4(ip) ? `${ip}/32` : `${ip}/128`;
}

function inRange(cidr: string, address: string | undefined): boolean {
  const range = parseCidr(cidr);
  const ip = address === undefined ? undefined : canonicalIp(address);
  if (!range.ok || ip === undefined) return false;
  const list = new BlockList();
  list.addSubnet(range.address, range.prefix, range.family);
  return list.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6');
}

/** `Name=value&…` in the SDK's order: what a token is as text, and how it is forwarded. */
function serialize(fields: ReadonlyArray<readonly [string, string]>): string {
  return fields.map(([name, value]) => `${name}=${value}`).join('&');
}

function deserialize(token: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const pair of token.split('&')) {
    const eq = pair.indexOf('=');
    if (eq !== -1) fields.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return fields;
}

export function createCloudfrontScheme(options: CloudfrontOptions = {}): TokenScheme {
  const publicKeys = new Map<string, KeyObject>(
    (options.keyPairs ?? []).map((pair) => [pair.id, createPublicKey(pair.publicKey)]),
  );
  const privateKey = options.privateKey === undefined ? undefined : createPrivateKey(options.privateKey);
  const keyPairId = options.keyPairId ?? options.keyPairs?.[0]?.id;
  const algorithm = options.algorithm ?? 'sha1';

  const resourceOf = (target: SignTarget): { resource: string; custom: boolean } => {
    const rules = new Map(target.rules ?? []);
    const override = rules.get('resource');
    if (override !== undefined) return { resource: override, custom: true };
    if (target.origin === undefined) {
      throw new SignError('path', 'CloudFront signs whole URLs: give https://host/… rather than a path');
    }
    const base = `${target.origin}${sdkPath(target.path)}`;
    if (target.path.endsWith('/')) return { resource: `${base}*`, custom: true };
    return { resource: target.query ? `${base}?${target.query}` : base, custom: false };
  };

  /** The policy a target is signed under; canned (like the SDK) when nothing calls for a custom one. */
  const policyOf = (target: SignTarget): { policy: string; canned: boolean } => {
    const rules = new Map(target.rules ?? []);
    const { resource, custom } = resourceOf(target);
    const start = rules.get('start');
    const sourceIp = rules.get('sourceIp') ?? (target.ip === undefined ? undefined : cidrOf(target.ip));
    const canned = !custom && start === undefined && sourceIp === undefined;
    return {
      policy: canned
        ? policyJson(resource, target.expires)
        : policyJson(resource, target.expires, start === undefined ? undefined : Number(start), sourceIp),
      canned,
    };
  };

  const stringToSign = (target: SignTarget): string => policyOf(target).policy;

  const sign = (target: SignTarget, key: string): string => {
    const signer = privateKey ?? (key.includes('PRIVATE KEY') ? createPrivateKey(key) : undefined);
    if (signer === undefined)
      throw new SignError('secret', 'CloudFront signing needs the private key (privateKey)');
    if (keyPairId === undefined)
      throw new SignError('secret', 'CloudFront signing needs the key pair id (keyPairId)');
    const { policy, canned } = policyOf(target);
    const signature = toCloudfrontBase64(
      rsaSign(algorithm === 'sha256' ? 'sha256' : 'sha1', Buffer.from(policy), signer),
    );
    const fields: Array<readonly [string, string]> = [
      canned ? ['Expires', String(target.expires)] : ['Policy', toCloudfrontBase64(policy)],
      ['Key-Pair-Id', keyPairId],
      ['Signature', signature],
    ];
    if (algorithm === 'sha256') fields.push(['Hash-Algorithm', 'SHA256']);
    return serialize(fields);
  };

  const present = (source: TokenSource): PresentedToken | Denial | undefined => {
    const fields = new Map<string, string>();
    for (const pair of source.pairs) {
      if (!(QUERY as readonly string[]).includes(pair.name)) continue;
      if (fields.has(pair.name)) return deny('malformed', `parameter ${pair.name} given twice`);
      const value = decodeValue(pair.rawValue ?? '');
      if (!value) return deny('malformed', `parameter ${pair.name} empty or badly encoded`);
      fields.set(pair.name, value);
    }
    let via: 'query' | 'cookie' = 'query';
    if (fields.size === 0) {
      via = 'cookie';
      for (const name of QUERY) {
        const value = source.cookie(COOKIE(name));
        if (value !== undefined && value !== '') fields.set(name, value);
      }
      if (fields.size === 0) return undefined;
    }
    const ordered = QUERY.flatMap((name) => {
      const value = fields.get(name);
      return value === undefined ? [] : [[name, value] as const];
    });
    return { token: serialize(ordered), expires: fields.get('Expires') ?? '', fields, via };
  };

  const verify = (presented: PresentedToken, context: VerifyContext): Verdict => {
    if (presented.token.length > MAX_TOKEN_LENGTH) return deny('malformed', 'token too long');
    const fields = presented.fields ?? deserialize(presented.token);
    const id = fields.get('Key-Pair-Id');
    const signatureText = fields.get('Signature');
    const policyText = fields.get('Policy');
    const expiresText = fields.get('Expires');
    if (id === undefined || signatureText === undefined)
      return deny('malformed', 'Key-Pair-Id and Signature are required');
    if ((policyText === undefined) === (expiresText === undefined)) {
      return deny('malformed', 'give either Expires (canned policy) or Policy (custom policy)');
    }
    const hash = fields.get('Hash-Algorithm');
    if (hash !== undefined && hash !== 'SHA1' && hash !== 'SHA256')
      return deny('malformed', 'Hash-Algorithm is SHA1 or SHA256');
    const signature = fromCloudfrontBase64(signatureText);
    if (signature === undefined) return deny('malformed', 'Signature is not CloudFront base64');
    const key = publicKeys.get(id);
    if (key === undefined) return deny('invalid', 'no public key for this Key-Pair-Id');
    const digest = hash === 'SHA256' ? 'sha256' : 'sha1';

    const facts = context.facts ?? {};
    const authority = facts.authority ?? facts.host;
    const origin = authority === undefined ? undefined : `${facts.proto ?? 'https'}://${authority}`;
    const query = presented.otherQuery ? `?${presented.otherQuery}` : '';
    // The URL as the signer wrote it: the SDK's per-segment encoding of the decoded path.
    const requestUrl = origin === undefined ? undefined : `${origin}${sdkPath(context.path)}${query}`;

    let policy: Policy;
    if (expiresText !== undefined) {
      if (!UNIX.test(expiresText)) return deny('malformed', 'Expires is not a Unix time');
      // A canned policy is rebuilt from the request: it signs this URL and nothing else.
      if (requestUrl === undefined) return deny('invalid', 'a canned policy needs the request host');
      const canned = policyJson(requestUrl, Number(expiresText));
      if (!rsaVerify(digest, Buffer.from(canned), key, signature))
        return deny('invalid', 'signature mismatch');
      policy = { resource: requestUrl, before: Number(expiresText) };
    } else {
      const bytes = fromCloudfrontBase64(policyText ?? '');
      if (bytes === undefined) return deny('malformed', 'Policy is not CloudFront base64');
      if (!rsaVerify(digest, bytes, key, signature)) return deny('invalid', 'signature mismatch');
      const parsed = parsePolicy(bytes);
      if (typeof parsed === 'string') return deny('malformed', parsed);
      policy = parsed;
      const resource = policy.resource;
      // Without the request's host (a bare path given to the library), the Resource's path is compared.
      const matches =
        resource === undefined ||
        (requestUrl !== undefined
          ? globMatch(resource, requestUrl)
          : globMatch(resource.replace(/^[^:/]*:\/\/[^/]*/, ''), `${sdkPath(context.path)}${query}`));
      if (!matches) return deny('invalid', 'policy Resource does not cover this URL');
    }
    if (policy.sourceIp !== undefined && !inRange(policy.sourceIp, facts.clientAddress)) {
      return deny('rule', 'client address outside the policy IpAddress');
    }
    if (policy.after !== undefined && context.now < policy.after)
      return deny('invalid', `not valid before ${policy.after}`);
    if (!(context.now < policy.before)) return deny('expired', `expired at ${policy.before}`);

    const base = {
      ok: true as const,
      status: 200 as const,
      expires: policy.before,
      token: presented.token,
      ...(policy.sourceIp === undefined ? {} : { rules: [['sourceIp', policy.sourceIp]] as const }),
    };
    if (expiresText !== undefined) return { ...base, scope: 'file', signedPath: context.path };
    const pathPattern = (policy.resource ?? '*').replace(/^[^:/]*:\/\/[^/*?]*/, '');
    const shape = globPrefix(pathPattern);
    // A Resource that is this very URL (its `?` the query's) opens it alone, as a canned policy does.
    if (!pathPattern.includes('*') && pathPattern === `${sdkPath(context.path)}${query}`) {
      return { ...base, scope: 'file', signedPath: context.path };
    }
    if (shape.trailingStarOnly && shape.prefix.startsWith('/')) {
      const prefix = decodeValue(shape.prefix) ?? shape.prefix;
      return { ...base, scope: 'prefix', signedPath: prefix, prefixes: [prefix] };
    }
    return { ...base, scope: 'prefix', signedPath: shape.prefix, prefixes: [], patterns: [pathPattern] };
  };

  const covers = (grant: Grant, path: string): boolean => {
    if (grant.scope === 'file') return path === grant.signedPath;
    if (grant.patterns !== undefined)
      return grant.patterns.some((pattern) => globMatch(pattern, sdkPath(path)));
    return (grant.prefixes ?? []).some((prefix) => path.startsWith(prefix));
  };

  return {
    name: 'cloudfront',
    params: { token: 'Signature' },
    transports: {
      query: [...QUERY],
      bareQuery: false,
      pathSegment: false,
      cookies: QUERY.map(COOKIE),
      headers: [],
    },
    capabilities: CLOUDFRONT_CAPABILITIES,
    bareQueryToken: false,
    pathTokens: false,
    maxTokenLength: MAX_TOKEN_LENGTH,
    readsRequestFacts: true,
    supportsIp: true,
    mintPerDirectory: true,
    ownsSigningKey: privateKey !== undefined,
    stringToSign,
    sign,
    verify,
    present,
    covers,
    coversDirectory: (grant, directory) => {
      if (grant.scope === 'file' || grant.patterns !== undefined) return undefined;
      return prefixesCoverDirectory(grant.prefixes ?? [], directory);
    },
    queryParams: (token) => [...deserialize(token)],
    cookieParams: (token) => {
      const fields = deserialize(token);
      // The SDK's cookie order: Key-Pair-Id, Signature, then Expires or Policy, then Hash-Algorithm.
      return ['Key-Pair-Id', 'Signature', 'Expires', 'Policy', 'Hash-Algorithm'].flatMap((name) => {
        const value = fields.get(name);
        return value === undefined ? [] : [[COOKIE(name), value] as const];
      });
    },
  };
}

const CLOUDFRONT_CAPABILITIES = { ip: 'token', directory: true, pathForm: false, rules: false } as const;

export const cloudfront = createCloudfrontScheme();

// ---------------------------------------------------------------------------------------------------
// The registry entry.

const keyPairSchema = z
  .strictObject({
    id: z.string().regex(KEY_PAIR_ID, { error: 'must be a CloudFront key pair id, e.g. K2JCJMDEHXQW5F' }),
    publicKeyFile: z.string().min(1).optional(),
    publicKey: z.string().min(1).optional(),
  })
  .refine((pair) => (pair.publicKeyFile === undefined) !== (pair.publicKey === undefined), {
    error: 'give one of publicKeyFile: PATH or publicKey: PEM',
  });

const zoneOptions = z.strictObject({
  /** The public keys of the key group, each under its id (several: rotation). */
  keyPairs: z.array(keyPairSchema).min(1, { error: 'give at least one key pair: [{ id, publicKeyFile }]' }),
  /** Signs minted URLs and cookies (mint and cookie strategies). */
  privateKeyFile: z.string().min(1).optional(),
  /** The key pair id minted tokens name; default the first of keyPairs. */
  keyPairId: z.string().regex(KEY_PAIR_ID, { error: 'must be a CloudFront key pair id' }).optional(),
  algorithm: z.enum(CLOUDFRONT_ALGORITHMS, { error: 'must be sha1 or sha256' }).default('sha1'),
});

type ZoneBlock = z.output<typeof zoneOptions>;

function resolveZone(options: unknown, context: ResolveContext): ResolvedOptions {
  const block = options as ZoneBlock | undefined;
  if (block === undefined) return { ok: false, problems: ['needs keyPairs: [{ id, publicKeyFile }]'] };
  const problems: string[] = [];
  const keyPairs: CloudfrontKeyPair[] = [];
  for (const [index, pair] of block.keyPairs.entries()) {
    const pem =
      pair.publicKey ?? readZoneFile(pair.publicKeyFile ?? '', context, problems, `keyPairs[${index}]`);
    if (pem === undefined) continue;
    try {
      createPublicKey(pem);
      keyPairs.push({ id: pair.id, publicKey: pem });
    } catch {
      problems.push(`keyPairs[${index}]: not a PEM public key (openssl rsa -pubout -in private_key.pem)`);
    }
  }
  let privateKey: string | undefined;
  if (block.privateKeyFile !== undefined) {
    privateKey = readZoneFile(block.privateKeyFile, context, problems, 'privateKeyFile');
    if (privateKey !== undefined) {
      try {
        createPrivateKey(privateKey);
      } catch {
        problems.push('privateKeyFile: not a PEM private key (openssl genrsa -out private_key.pem 2048)');
      }
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  const resolved: CloudfrontOptions = {
    keyPairs,
    algorithm: block.algorithm,
    ...(privateKey === undefined ? {} : { privateKey }),
    ...(block.keyPairId === undefined ? {} : { keyPairId: block.keyPairId }),
  };
  return { ok: true, options: resolved };
}

function algorithmOption(options: SchemeOptions): CloudfrontAlgorithm | undefined {
  const value = optionString(options, 'algorithm')?.toLowerCase();
  if (value === undefined) return undefined;
  if (!(CLOUDFRONT_ALGORITHMS as readonly string[]).includes(value)) {
    throw new SignError('scheme', `algorithm must be sha1 or sha256 for CloudFront, got "${value}"`);
  }
  return value as CloudfrontAlgorithm;
}

function keyPairsOption(options: SchemeOptions): CloudfrontKeyPair[] {
  const given = options.keyPairs;
  if (Array.isArray(given)) return given as CloudfrontKeyPair[];
  const publicKeys =
    options.publicKey === undefined ? [] : ([] as string[]).concat(options.publicKey as string);
  const ids = options.keyPairId === undefined ? [] : ([] as string[]).concat(options.keyPairId as string);
  if (publicKeys.length === 0)
    throw new SignError('secret', 'CloudFront verifying needs publicKey (PEM) and keyPairId');
  if (ids.length !== publicKeys.length) {
    throw new SignError('secret', 'give one keyPairId for each publicKey (they pair up in order)');
  }
  return publicKeys.map((publicKey, index) => ({ id: ids[index] ?? '', publicKey }));
}

function withKeys<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof SignError) throw error;
    throw new SignError(
      'secret',
      `not a usable PEM key (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

export const cloudfrontDefinition = {
  name: 'cloudfront',
  title: 'AWS CloudFront signed URLs and cookies',
  summary: '?Expires|Policy=…&Key-Pair-Id=…&Signature=… or CloudFront-* cookies; RSA, wildcard Resource',
  capabilities: CLOUDFRONT_CAPABILITIES,
  transports: cloudfront.transports,
  zoneOptions,
  secrets: 'optional',
  zoneProblems: (zone) => {
    const block = zone.options as ZoneBlock | undefined;
    const problems: Array<readonly [string, string]> = [];
    if (block === undefined) problems.push(['cloudfront', 'needs keyPairs: [{ id, publicKeyFile }]']);
    if (zone.hasSecrets) {
      problems.push([
        'secrets',
        'CloudFront checks signatures with the public keys in cloudfront.keyPairs; drop secrets',
      ]);
    }
    if ((zone.tokens === 'mint' || zone.tokens === 'cookie') && block?.privateKeyFile === undefined) {
      problems.push([
        'tokens',
        `tokens: ${zone.tokens} signs new CloudFront tokens: give cloudfront.privateKeyFile, or use tokens: forward`,
      ]);
    }
    return problems;
  },
  resolveZone,
  create: (options?: unknown) => createCloudfrontScheme((options ?? {}) as CloudfrontOptions),
  flags: [
    {
      flag: 'private-key-file',
      type: 'string',
      file: true,
      option: 'privateKey',
      commands: ['sign'],
      help: 'the PEM private key of the CloudFront key pair (signing only)',
    },
    {
      flag: 'public-key-file',
      type: 'string',
      multiple: true,
      file: true,
      option: 'publicKey',
      commands: ['verify'],
      help: 'a PEM public key of the key group (repeatable, paired in order with --key-pair-id)',
    },
    {
      flag: 'key-pair-id',
      type: 'string',
      multiple: true,
      option: 'keyPairId',
      commands: ['sign', 'verify'],
      help: 'the public key id CloudFront knows (K2JCJMDEHXQW5F)',
    },
    {
      flag: 'policy-resource',
      type: 'string',
      option: 'policyResource',
      commands: ['sign'],
      help: 'a custom policy Resource (https://host/vod/movie-1/*; * any run, ? one character)',
    },
    {
      flag: 'start',
      type: 'string',
      integer: true,
      option: 'start',
      commands: ['sign'],
      help: 'DateGreaterThan: not valid before this Unix time',
    },
    {
      flag: 'source-ip',
      type: 'string',
      option: 'sourceIp',
      commands: ['sign'],
      help: 'IpAddress: the CIDR range the viewer must come from (--ip ADDR binds one address)',
    },
    {
      flag: 'algorithm',
      type: 'string',
      option: 'algorithm',
      commands: ['sign', 'verify'],
      help: 'sha1 (default) or sha256 (Hash-Algorithm=SHA256)',
    },
  ],
  libraryOptions: { keyPairs: 'have no key pairs' },
  prepareSign: (options, common) => {
    const privateKey = optionString(options, 'privateKey');
    const ids = optionStrings(options, 'keyPairId') ?? [];
    const keyPairId = ids[0];
    if (privateKey === undefined || keyPairId === undefined || ids.length > 1) {
      throw new SignError('secret', 'CloudFront signing needs privateKey (PEM) and one keyPairId');
    }
    const algorithm = algorithmOption(options);
    const scheme = withKeys(() =>
      createCloudfrontScheme({ privateKey, keyPairId, ...(algorithm === undefined ? {} : { algorithm }) }),
    );
    const rules: Array<readonly [string, string]> = [];
    const resource = optionString(options, 'policyResource');
    if (resource !== undefined) {
      if (common.scope !== 'file')
        throw new SignError('rule', 'policyResource names what the token opens; drop dir');
      if (!/^(https?|http\*|\*):\/\//.test(resource)) {
        throw new SignError(
          'rule',
          'policyResource must be a URL pattern, e.g. https://cdn.example.com/vod/movie-1/*',
        );
      }
      rules.push(['resource', resource]);
    }
    const start = optionInteger(options, 'start');
    if (start !== undefined) rules.push(['start', String(start)]);
    const sourceIp = optionString(options, 'sourceIp');
    if (sourceIp !== undefined) {
      if (common.ip !== undefined)
        throw new SignError('rule', 'ip and sourceIp both set IpAddress; give one of them');
      const range = parseCidr(sourceIp);
      if (!range.ok) throw new SignError('rule', `sourceIp: ${range.reason}`);
      rules.push(['sourceIp', `${range.address}/${range.prefix}`]);
    }
    return {
      scheme,
      key: '',
      ...(common.ip === undefined ? {} : { ip: common.ip }),
      ...(rules.length === 0 ? {} : { rules }),
    };
  },
  prepareVerify: (options, common) => {
    if (common.bindIp)
      throw new SignError(
        'scheme',
        'a CloudFront policy says itself which addresses it opens (IpAddress); drop bindIp',
      );
    const keyPairs = keyPairsOption(options);
    const algorithm = algorithmOption(options);
    return {
      scheme: withKeys(() =>
        createCloudfrontScheme({ keyPairs, ...(algorithm === undefined ? {} : { algorithm }) }),
      ),
      keys: [],
      bindIp: false,
    };
  },
} as const satisfies SchemeDefinition;
