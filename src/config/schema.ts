import { z } from 'zod';
import { canonicalRequestPath } from '../tokens/path.js';
import { SCHEME_DEFINITIONS, SCHEME_NAMES } from '../tokens/registry.js';
import type { SchemeName } from '../tokens/scheme.js';
import { parseCidr } from './cidr.js';
import { policySchema } from './policy.js';

/**
 * The one schema a configuration passes through, whatever it came from (YAML file, environment,
 * flags). Field checks live here; checks that need several zones or the outside world (secret files,
 * environment variables) live in load.ts. Every message says what is expected, with an example.
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const TOKEN_STRATEGIES = ['forward', 'mint', 'path', 'cookie'] as const;
export const FORWARD_UNCOVERED = ['leave', 'path', 'mint'] as const;
/** Denial reasons whose answer a zone may change; `path` (400) is never negotiable (README, "Token rules"). */
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

/** The settings every zone has, whatever its scheme. */
const zoneFields = {
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
    error: 'must be 1–64 letters, digits, ".", "_" or "-" (used in metrics labels), e.g. live',
  }),
  pathPrefix: checked(prefixProblem).default('/'),
  host: checked(hostProblem).optional(),
  origin: checked((value) => originProblem(value, 'http://127.0.0.1:8081')),
  /** The gateway's public origin for absolute URIs in rewritten manifests; default: from Host. */
  publicOrigin: checked((value) => originProblem(value, 'https://cdn.example.com')).optional(),
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
  /**
   * Whether the zone accepts path-embedded tokens (`/dir/~TOKEN~EXPIRES/…`, Bunny's `/bcdn_token=…/`)
   * and writes them into manifests. A path token opens its directory's whole subtree and is signed
   * like a directory token for that directory, so false is for zones whose directory tokens must open
   * only the files directly in the directory (README "Token rules"). Schemes without a path form
   * never take one, whatever this says.
   */
  pathTokens: z.boolean().default(true),
  playlistTtl: seconds(14_400),
  segmentTtl: seconds(60),
  denial: denialSchema.default({ status: {}, redirectStatus: 302 }),
  cache: z.strictObject({ livePlaylists: z.boolean().default(true) }).default({ livePlaylists: true }),
  /**
   * forward zones: hand the viewer's token to DASH segment requests with one MPEG-DASH Annex I
   * UrlQueryInfo per AdaptationSet instead of rewriting each segment URL (dash.js and shaka honour it).
   */
  dashUrlParams: z.boolean().default(false),
  /**
   * forward zones: what a URI the viewer's token does not open gets (a rendition in a subdirectory of a
   * directory token's): leave it bare (and warn), the viewer's token in path form, or a minted token
   * that expires with the viewer's (src/tokens/strategy.ts ForwardUncovered).
   */
  forwardUncovered: z
    .enum(FORWARD_UNCOVERED, { error: `must be one of ${FORWARD_UNCOVERED.join(', ')}` })
    .default('leave'),
  /**
   * mint zones: answer an MPD request whose link expires within half the playlist lifetime with a 301 to
   * the same MPD under a minted playlist-lifetime token, for players that reload a live MPD from the
   * URL they were given and ignore its Location (GStreamer keeps a permanent redirect's target).
   */
  dashSessionRedirect: z.boolean().default(false),
  /**
   * A dynamic MPD that names no Location gets one, its own URL with a token from the strategy (in mint,
   * of the playlist lifetime), so players reload from there rather than from an expired entry link.
   */
  dashLocation: z.boolean().default(true),
  /** Extra request headers sent to the origin (e.g. cookie); by default only media-related ones go. */
  forwardHeaders: z.array(checked(headerProblem)).default([]),
  /** Who may ask at all, whatever the scheme: address, country and Referer lists; a denial limit. */
  policy: policySchema.optional(),
};

/**
 * One member per scheme: the common fields, `scheme` as the discriminator, and the scheme's own
 * block named after it (`ectoken: { param }`, `akamai: { … }`), as its module declares it.
 */
const zoneMembers = SCHEME_DEFINITIONS.map((definition) =>
  z.strictObject({
    ...zoneFields,
    scheme: z.literal(definition.name),
    ...('zoneOptions' in definition && definition.zoneOptions !== undefined
      ? { [definition.name]: (definition.zoneOptions as z.ZodType).optional() }
      : {}),
  }),
);

const schemeBlocks = Object.fromEntries(
  SCHEME_DEFINITIONS.flatMap((definition) =>
    'zoneOptions' in definition && definition.zoneOptions !== undefined
      ? [[definition.name, (definition.zoneOptions as z.ZodType).optional()]]
      : [],
  ),
);

/**
 * A zone is checked in two steps: first as one flat object (every field and every scheme's block), so
 * that all problems are reported at once even when `scheme` itself is wrong; then through the
 * discriminated union, which gives each scheme its own member.
 */
export const zoneSchema = z
  .strictObject({
    ...zoneFields,
    scheme: z.enum(SCHEME_NAMES as [string, ...string[]], {
      error: `must be one of ${SCHEME_NAMES.join(', ')}`,
    }),
    ...schemeBlocks,
  })
  .superRefine((raw, ctx) => {
    const zone = raw as Record<string, unknown> & {
      scheme: string;
      tokens: string;
      bindIp: boolean;
      dashUrlParams: boolean;
      forwardUncovered: string;
      dashSessionRedirect: boolean;
      pathTokens: boolean;
    };
    const definition = SCHEME_DEFINITIONS.find((candidate) => candidate.name === zone.scheme);
    if (definition === undefined) return;
    const sources = ['secrets', 'secretEnv', 'secretFile'].filter((key) => zone[key] !== undefined);
    if (sources.length > 1) {
      ctx.addIssue({ code: 'custom', message: `give only one of ${sources.join(', ')}` });
    } else if (sources.length === 0 && definition.secrets === 'required') {
      ctx.addIssue({
        code: 'custom',
        message: 'needs its keys: give one of secrets: [KEY, …], secretEnv: VAR or secretFile: PATH',
      });
    }
    if (zone.dashUrlParams && zone.tokens !== 'forward') {
      ctx.addIssue({
        code: 'custom',
        path: ['dashUrlParams'],
        message: "carries the viewer's own token, so it needs tokens: forward (or set dashUrlParams: false)",
      });
    }
    if (zone.forwardUncovered !== 'leave' && zone.tokens !== 'forward') {
      ctx.addIssue({
        code: 'custom',
        path: ['forwardUncovered'],
        message: `applies to tokens: forward only (mint covers every URI itself); remove it or set tokens: forward`,
      });
    }
    if (zone.forwardUncovered === 'path' && !definition.capabilities.pathForm) {
      ctx.addIssue({
        code: 'custom',
        path: ['forwardUncovered'],
        message: `${definition.name} tokens have no path form; use forwardUncovered: mint or leave`,
      });
    } else if (zone.forwardUncovered === 'path' && !zone.pathTokens) {
      ctx.addIssue({
        code: 'custom',
        path: ['forwardUncovered'],
        message:
          "writes the viewer's token in path form, which pathTokens: false refuses; use forwardUncovered: mint or leave, or set pathTokens: true",
      });
    }
    if (zone.dashSessionRedirect && zone.tokens !== 'mint') {
      ctx.addIssue({
        code: 'custom',
        path: ['dashSessionRedirect'],
        message:
          'mints a session token for the MPD, so it needs tokens: mint (or set dashSessionRedirect: false)',
      });
    }
    const own =
      'zoneProblems' in definition && definition.zoneProblems !== undefined
        ? definition.zoneProblems({
            tokens: zone.tokens,
            bindIp: zone.bindIp,
            hasSecrets: sources.length > 0,
            options: zone[definition.name],
          })
        : [];
    for (const [field, message] of own) ctx.addIssue({ code: 'custom', path: [field], message });
    const reported = new Set(own.map(([field]) => field));
    const { capabilities, transports } = definition;
    if (!reported.has('tokens')) {
      if (zone.tokens === 'path' && !capabilities.pathForm) {
        ctx.addIssue({
          code: 'custom',
          path: ['tokens'],
          message: `${definition.name} tokens do not travel in the path; use tokens: mint or forward`,
        });
      } else if (zone.tokens === 'path' && !zone.pathTokens) {
        ctx.addIssue({
          code: 'custom',
          path: ['tokens'],
          message:
            'tokens: path needs tokens in the path, which pathTokens: false refuses; use tokens: mint or forward, or set pathTokens: true',
        });
      }
      if (zone.tokens === 'cookie' && transports.cookies.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['tokens'],
          message: `${definition.name} tokens do not travel in cookies; use tokens: mint or forward`,
        });
      }
    }
    if (!reported.has('bindIp') && zone.bindIp && capabilities.ip !== 'zone') {
      ctx.addIssue({
        code: 'custom',
        path: ['bindIp'],
        message:
          capabilities.ip === 'token'
            ? `a ${definition.name} token says itself which address it is bound to; set bindIp: false`
            : `the ${definition.name} scheme cannot bind tokens to an IP address; set bindIp: false`,
      });
    }
    for (const block of Object.keys(schemeBlocks)) {
      if (block !== zone.scheme && zone[block] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [block], message: `applies to scheme: ${block} only` });
      }
    }
  })
  .pipe(
    z.discriminatedUnion(
      'scheme',
      zoneMembers as unknown as [z.ZodObject, ...z.ZodObject[]],
    ) as unknown as z.ZodType<
      ParsedZone,
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      any
    >,
  );

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
      // Manifest bodies held at once, buffered or being rewritten; past it manifest requests get 503.
      manifestMemoryBytes: z
        .int()
        .min(MIB)
        .max(16384 * MIB)
        .default(256 * MIB),
      // DASH documents nested deeper, or with more elements, are answered 502.
      manifestMaxDepth: z.int().min(16).max(100_000).default(256),
      manifestMaxElements: z.int().min(1000).max(100_000_000).default(1_000_000),
    })
    .default({
      manifestMaxBytes: 8 * MIB,
      cacheMaxEntries: 1000,
      cacheMaxBytes: 64 * MIB,
      manifestMemoryBytes: 256 * MIB,
      manifestMaxDepth: 256,
      manifestMaxElements: 1_000_000,
    }),
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

/** A zone as written: the common fields, `scheme`, and the scheme's own block under its name. */
export type ZoneInput = z.input<z.ZodObject<typeof zoneFields>> & {
  readonly scheme: string;
} & { readonly [block: string]: unknown };

export type ConfigInput = Omit<z.input<typeof configSchema>, 'zones'> & { zones: ZoneInput[] };
export type ParsedConfig = z.output<typeof configSchema>;
/** A zone after parsing: the common fields typed, the scheme's own block under its name. */
export type ParsedZone = z.output<z.ZodObject<typeof zoneFields>> & {
  readonly scheme: SchemeName;
} & Readonly<Record<string, unknown>>;

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
  'zones[].pathTokens': 'true or false',
  'zones[].playlistTtl': 'seconds, e.g. 14400',
  'zones[].segmentTtl': 'seconds, e.g. 60',
  'zones[].pathPrefix': 'a path such as / or /videos',
  'limits.manifestMaxBytes': 'bytes, e.g. 8388608 (8 MiB)',
  'log.access.enabled': 'true or false',
  'log.access.sample': 'a share of successful requests to log, 0–1, e.g. 0.1',
  'limits.manifestMemoryBytes': 'bytes, e.g. 268435456 (256 MiB)',
  shutdownGraceMs: 'milliseconds, e.g. 10000',
  'reload.watch': 'true or false',
  'reload.intervalMs': 'milliseconds between checks of the files, 100–60000, e.g. 2000',
  workers: 'a number of processes 1–256, or auto (one per CPU)',
  zones: 'a list of zones, each with name, origin, scheme and secrets',
};
