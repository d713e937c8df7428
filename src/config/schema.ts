import { z } from 'zod';
import { canonicalRequestPath } from '../tokens/path.js';
import { SCHEME_NAMES } from '../tokens/registry.js';
import { parseCidr } from './cidr.js';
import { policySchema } from './policy.js';
import { ECTOKEN_PARAM_NAME } from '../tokens/ectoken.js';

/**
 * The one schema a configuration passes through, whatever it came from (YAML file, environment,
 * flags). Field checks live here; checks that need several zones or the outside world (secret files,
 * environment variables) live in load.ts. Every message says what is expected, with an example.
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const TOKEN_STRATEGIES = ['forward', 'mint', 'path'] as const;
/** Denial reasons whose answer a zone may change; `path` (400) is never negotiable (SPEC §2). */
export const TOKEN_DENIALS = ['missing', 'malformed', 'invalid', 'rule', 'unsupported', 'expired'] as const;
export type TokenDenial = (typeof TOKEN_DENIALS)[number];

export const MIB = 1024 * 1024;

/** Request headers that a zone may not list in `forwardHeaders`: hop-by-hop or owned by the gateway. */
export const UNFORWARDABLE = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
]);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/;

type Check = (value: string) => string | undefined;

/** A string refined by `check`, which returns the problem (with its fix) or undefined. */
function checked(check: Check) {
  return z.string().superRefine((value, ctx) => {
    const problem = check(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
}

/** An http(s) URL that is only an origin: what the gateway appends checked paths to. */
export function originProblem(value: string, example: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be an http(s) URL without path or query, e.g. ${example} (got "${value}")`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `must be an http or https URL, e.g. ${example} (got scheme "${url.protocol.slice(0, -1)}")`;
  }
  if (url.username !== '' || url.password !== '') return 'must not hold a user name or password';
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(value)) {
    return `must be an http(s) URL without path, query or fragment, e.g. ${example}: paths go to the origin as requested`;
  }
  return undefined;
}

function httpUrlProblem(value: string, example: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return undefined;
  } catch {
    // reported below
  }
  return `must be an absolute http(s) URL, e.g. ${example} (got "${value}")`;
}

function prefixProblem(value: string): string | undefined {
  const example = 'e.g. / or /videos/video-1';
  if (!value.startsWith('/')) return `must start with /, ${example}`;
  if (!/^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/.test(value)) {
    return `may hold only unreserved path characters (no %, ?, # or spaces), ${example}`;
  }
  const trimmed = value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value;
  const canonical = canonicalRequestPath(trimmed);
  if (!canonical.ok) return `must be a plain path (${canonical.detail}), ${example}`;
  if (trimmed.split('/').some((segment) => segment.startsWith('~'))) {
    return `must not hold a segment starting with ~ (reserved for path tokens), ${example}`;
  }
  return undefined;
}

function hostProblem(value: string): string | undefined {
  if (!HOSTNAME.test(value) && !/^\[[0-9a-f:.]+\]$/.test(value)) {
    return `must be a lower-case host name without port, e.g. cdn.example.com (got "${value}")`;
  }
  return undefined;
}

function corsOriginProblem(value: string): string | undefined {
  if (value === '*') return undefined;
  const problem = originProblem(value, 'https://player.example.com');
  if (problem !== undefined) return `must be "*" or a web origin; ${problem}`;
  if (new URL(value).origin !== value.replace(/\/$/, '')) {
    return `must be written as the browser sends it in Origin, e.g. ${new URL(value).origin}`;
  }
  return undefined;
}

function headerProblem(value: string): string | undefined {
  if (!HEADER_NAME.test(value)) return `must be an HTTP header name, e.g. cookie (got "${value}")`;
  if (UNFORWARDABLE.has(value.toLowerCase())) {
    return `"${value}" is hop-by-hop or set by the gateway and cannot be forwarded`;
  }
  return undefined;
}

const seconds = (fallback: number) => z.int().min(1).max(31_536_000).default(fallback);
const millis = (fallback: number, min = 1) => z.int().min(min).max(3_600_000).default(fallback);
const denialStatus = z.int().min(400).max(499);

export const denialSchema = z.strictObject({
  /** Status per denial reason, e.g. `{ invalid: 401 }`; defaults: 403, expired 410. */
  status: z
    .strictObject({
      missing: denialStatus.optional(),
      malformed: denialStatus.optional(),
      invalid: denialStatus.optional(),
      rule: denialStatus.optional(),
      unsupported: denialStatus.optional(),
      expired: denialStatus.optional(),
    })
    .default({}),
  /** Answer token denials with a redirect to this page instead (Azure's "Token Auth Denial Code"). */
  redirect: checked((value) => httpUrlProblem(value, 'https://paywall.example.com/subscribe')).optional(),
  /** The redirect's status. */
  redirectStatus: z
    .union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)], {
      error: 'must be one of 301, 302, 303, 307, 308',
    })
    .default(302),
  /** Which reasons redirect; default all four token reasons. Path refusals stay 400. */
  redirectOn: z.array(z.enum(TOKEN_DENIALS)).min(1).optional(),
});

export const zoneSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
      error: 'must be 1–64 letters, digits, ".", "_" or "-" (used in metrics labels), e.g. live',
    }),
    pathPrefix: checked(prefixProblem).default('/'),
    host: checked(hostProblem).optional(),
    origin: checked((value) => originProblem(value, 'http://127.0.0.1:8081')),
    /** The gateway's public origin for absolute URIs in rewritten manifests; default: from Host. */
    publicOrigin: checked((value) => originProblem(value, 'https://cdn.example.com')).optional(),
    scheme: z.enum(SCHEME_NAMES as [string, ...string[]], {
      error: `must be one of ${SCHEME_NAMES.join(', ')}`,
    }),
    secrets: z
      .array(z.string().min(1, { error: 'a secret must not be empty' }))
      .min(1)
      .optional(),
    secretEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name, e.g. LIVE_SECRET' })
      .optional(),
    secretFile: z.string().min(1).optional(),
    tokens: z
      .enum(TOKEN_STRATEGIES, { error: `must be one of ${TOKEN_STRATEGIES.join(', ')}` })
      .default('mint'),
    bindIp: z.boolean().default(false),
    playlistTtl: seconds(14_400),
    segmentTtl: seconds(60),
    denial: denialSchema.default({ status: {}, redirectStatus: 302 }),
    cache: z.strictObject({ livePlaylists: z.boolean().default(true) }).default({ livePlaylists: true }),
    /**
     * forward zones: hand the viewer's token to DASH segment requests with one MPEG-DASH Annex I
     * UrlQueryInfo per AdaptationSet instead of rewriting each segment URL (dash.js and shaka honour it).
     */
    dashUrlParams: z.boolean().default(false),
    /** ectoken zones: Azure's "Token Auth Parameter" and "Token Auth Ignore URL Case". */
    ectoken: z
      .strictObject({
        param: z
          .string()
          .regex(ECTOKEN_PARAM_NAME, { error: 'must be a query parameter name, e.g. token' })
          .default('token'),
        ignoreUrlCase: z.boolean().default(false),
      })
      .optional(),
    /** Extra request headers sent to the origin (e.g. cookie); by default only media-related ones go. */
    forwardHeaders: z.array(checked(headerProblem)).default([]),
    /** Who may ask at all, whatever the scheme: address, country and Referer lists; a denial limit. */
    policy: policySchema.optional(),
  })
  .superRefine((zone, ctx) => {
    const sources = ['secrets', 'secretEnv', 'secretFile'].filter(
      (key) => zone[key as 'secrets' | 'secretEnv' | 'secretFile'] !== undefined,
    );
    if (sources.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          sources.length === 0
            ? 'needs its keys: give one of secrets: [KEY, …], secretEnv: VAR or secretFile: PATH'
            : `give only one of ${sources.join(', ')}`,
      });
    }
    if (zone.dashUrlParams && zone.tokens !== 'forward') {
      ctx.addIssue({
        code: 'custom',
        path: ['dashUrlParams'],
        message: "carries the viewer's own token, so it needs tokens: forward (or set dashUrlParams: false)",
      });
    }
    if (zone.scheme === 'ectoken') {
      if (zone.tokens === 'path') {
        ctx.addIssue({
          code: 'custom',
          path: ['tokens'],
          message: 'ectoken carries its scope in ec_url_allow, not in the path; use tokens: mint or forward',
        });
      }
      if (zone.bindIp) {
        ctx.addIssue({
          code: 'custom',
          path: ['bindIp'],
          message: 'an ectoken binds itself to addresses with ec_clientip; set bindIp: false',
        });
      }
    } else if (zone.ectoken !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['ectoken'], message: 'applies to scheme: ectoken only' });
    }
    if (zone.bindIp && zone.scheme === 'keycdn') {
      ctx.addIssue({
        code: 'custom',
        path: ['bindIp'],
        message: 'the keycdn scheme cannot bind tokens to an IP address; use scheme: gcore or bindIp: false',
      });
    }
  });

export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.int().min(0).max(65_535).default(8080),
    })
    .default({ host: '127.0.0.1', port: 8080 }),
  /**
   * An admin listener for `/_streamgate/metrics` and `/_streamgate/healthz`, apart from the media port
   * (which then answers 404 there): metrics are for the operator's scraper, not for every viewer.
   */
  admin: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.int().min(0).max(65_535),
    })
    .optional(),
  /** Peers whose X-Forwarded-For / X-Forwarded-Proto are believed. */
  trustedProxies: z
    .array(
      checked((value) => {
        const parsed = parseCidr(value);
        return parsed.ok ? undefined : `must be an address or CIDR, e.g. 10.0.0.0/8 (${parsed.reason})`;
      }),
    )
    .default([]),
  /**
   * Where a viewer's country comes from, for tokens with country rules: a MaxMind-format database
   * (GeoLite2-Country / GeoIP2-Country .mmdb), and/or a header set by a trusted proxy (e.g.
   * cf-ipcountry), believed only from trustedProxies.
   */
  geo: z
    .strictObject({
      database: z.string().min(1).optional(),
      header: z
        .string()
        .regex(HEADER_NAME, { error: 'must be an HTTP header name, e.g. cf-ipcountry' })
        .optional(),
    })
    .default({}),
  cors: z
    .strictObject({ allowedOrigins: z.array(checked(corsOriginProblem)).min(1).default(['*']) })
    .default({ allowedOrigins: ['*'] }),
  log: z
    .strictObject({
      level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
      /** One `access` line per request at info level; `sample` thins the successful ones (0–1). */
      access: z
        .strictObject({
          enabled: z.boolean().default(true),
          sample: z.number().min(0).max(1).default(1),
        })
        .default({ enabled: true, sample: 1 }),
    })
    .default({ level: 'info', access: { enabled: true, sample: 1 } }),
  limits: z
    .strictObject({
      manifestMaxBytes: z
        .int()
        .min(1024)
        .max(256 * MIB)
        .default(8 * MIB),
      cacheMaxEntries: z.int().min(0).max(1_000_000).default(1000),
      cacheMaxBytes: z
        .int()
        .min(0)
        .max(4096 * MIB)
        .default(64 * MIB),
    })
    .default({ manifestMaxBytes: 8 * MIB, cacheMaxEntries: 1000, cacheMaxBytes: 64 * MIB }),
  timeouts: z
    .strictObject({
      connectMs: millis(5000),
      // LL-HLS blocking reloads are held by the origin for up to three target durations.
      headersMs: millis(30_000),
      bodyMs: millis(30_000),
    })
    .default({ connectMs: 5000, headersMs: 30_000, bodyMs: 30_000 }),
  shutdownGraceMs: z.int().min(0).max(3_600_000).default(10_000),
  /** SIGHUP reloads the configuration; `watch` also polls its files (the file, key files, geo database). */
  reload: z
    .strictObject({
      watch: z.boolean().default(false),
      intervalMs: z.int().min(100).max(60_000).default(2000),
    })
    .default({ watch: false, intervalMs: 2000 }),
  // Processes serving the port (node:cluster); 'auto' is one per CPU the process may use.
  workers: z.union([z.int().min(1).max(256), z.literal('auto')]).default(1),
  zones: z.array(zoneSchema).min(1, {
    error: 'at least one zone is required: give --origin, --scheme and --secret, or zones: in the file',
  }),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type ParsedZone = z.output<typeof zoneSchema>;

/** Hints appended to type errors, by field path with array indices written as []. */
export const FIELD_HINTS: Readonly<Record<string, string>> = {
  'listen.host': 'an address to bind, e.g. 127.0.0.1 or 0.0.0.0',
  'listen.port': 'a port number 0–65535, e.g. 8080',
  'admin.host': 'an address to bind the admin listener, e.g. 127.0.0.1',
  'admin.port': 'a port number 0–65535, e.g. 9090',
  trustedProxies: 'a list of addresses or CIDRs, e.g. [10.0.0.0/8]',
  'cors.allowedOrigins': 'a list such as ["*"] or ["https://player.example.com"]',
  'zones[].origin': 'an http(s) URL without path or query, e.g. http://127.0.0.1:8081',
  'zones[].secrets': 'a list of keys, signing key first, e.g. [s3cret]',
  'zones[].bindIp': 'true or false',
  'zones[].playlistTtl': 'seconds, e.g. 14400',
  'zones[].segmentTtl': 'seconds, e.g. 60',
  'zones[].pathPrefix': 'a path such as / or /videos',
  'limits.manifestMaxBytes': 'bytes, e.g. 8388608 (8 MiB)',
  'log.access.enabled': 'true or false',
  'log.access.sample': 'a share of successful requests to log, 0–1, e.g. 0.1',
  shutdownGraceMs: 'milliseconds, e.g. 10000',
  'reload.watch': 'true or false',
  'reload.intervalMs': 'milliseconds between checks of the files, 100–60000, e.g. 2000',
  workers: 'a number of processes 1–256, or auto (one per CPU)',
  zones: 'a list of zones, each with name, origin, scheme and secrets',
};
