import { z } from 'zod';
import { parseCidr } from './cidr.js';

/**
 * A zone's `policy:` block — who may ask at all, whatever the token scheme: client address lists, the
 * viewer's country, the Referer, and a limit on how many denials one client address may collect before
 * it is slowed and then refused. Checked before the token, so a refused client learns nothing about
 * tokens. One block, so that it sits beside every scheme's own settings.
 */

/** Token denial reasons a zone's denial limit may count. */
export const COUNTABLE_DENIALS = [
  'missing',
  'malformed',
  'invalid',
  'rule',
  'unsupported',
  'expired',
] as const;
export type CountableDenial = (typeof COUNTABLE_DENIALS)[number];

const cidr = z.string().superRefine((value, ctx) => {
  const parsed = parseCidr(value);
  if (!parsed.ok) {
    ctx.addIssue({
      code: 'custom',
      message: `must be an address or CIDR, e.g. 203.0.113.0/24 (${parsed.reason})`,
    });
  }
});

// ISO 3166-1 alpha-2, as MaxMind databases and CDN country headers give it.
const country = z
  .string()
  .regex(/^[A-Za-z]{2}$/, { error: 'must be an ISO 3166-1 alpha-2 country code, e.g. FR' });

// A Referer rule as Edgecast writes ec_ref_allow entries: host, host/path, *.host, or `missing`.
const referer = z.string().regex(/^(?:missing|\*?[A-Za-z0-9.-]+(?:\/\S*)?)$/i, {
  error: 'must be a host (www.example.com), host and path (example.com/videos), *.example.com or missing',
});

export const denialLimitSchema = z
  .strictObject({
    /** Denials an address may collect in `windowSeconds` before every request of it is refused (429). */
    refuseAfter: z.int().min(1).max(1_000_000).default(30),
    windowSeconds: z.int().min(1).max(86_400).default(60),
    /** Past this many, denials are answered only after `slowMs`. */
    slowAfter: z.int().min(0).max(1_000_000).default(10),
    slowMs: z.int().min(0).max(10_000).default(1000),
    /** Which token denials count; a player with an old link (expired) is no guesser. */
    count: z.array(z.enum(COUNTABLE_DENIALS)).min(1).default(['malformed', 'invalid']),
    /** Client addresses remembered at once; the least recently seen is forgotten first. */
    maxClients: z.int().min(16).max(10_000_000).default(100_000),
  })
  .superRefine((limit, ctx) => {
    if (limit.slowAfter >= limit.refuseAfter) {
      ctx.addIssue({
        code: 'custom',
        path: ['slowAfter'],
        message: `must be below refuseAfter (${limit.refuseAfter}): clients are slowed first, then refused`,
      });
    }
  });

export const policySchema = z.strictObject({
  ipAllow: z.array(cidr).min(1).optional(),
  ipDeny: z.array(cidr).min(1).optional(),
  countryAllow: z.array(country).min(1).optional(),
  countryDeny: z.array(country).min(1).optional(),
  refererAllow: z.array(referer).min(1).optional(),
  refererDeny: z.array(referer).min(1).optional(),
  denialLimit: denialLimitSchema.optional(),
});

export type PolicyInput = z.output<typeof policySchema>;

export interface DenialLimitConfig {
  readonly refuseAfter: number;
  readonly windowSeconds: number;
  readonly slowAfter: number;
  readonly slowMs: number;
  readonly count: readonly CountableDenial[];
  readonly maxClients: number;
}

/** A zone's policy, validated; lists absent when not given. */
export interface PolicyConfig {
  readonly ipAllow?: readonly string[];
  readonly ipDeny?: readonly string[];
  /** Upper case. */
  readonly countryAllow?: readonly string[];
  readonly countryDeny?: readonly string[];
  /** Lower case hosts, paths as written. */
  readonly refererAllow?: readonly string[];
  readonly refererDeny?: readonly string[];
  readonly denialLimit?: DenialLimitConfig;
}

export function resolvePolicy(input: PolicyInput): PolicyConfig {
  const lowerHost = (entry: string): string => {
    const slash = entry.indexOf('/');
    return slash === -1 ? entry.toLowerCase() : `${entry.slice(0, slash).toLowerCase()}${entry.slice(slash)}`;
  };
  return {
    ...(input.ipAllow === undefined ? {} : { ipAllow: [...input.ipAllow] }),
    ...(input.ipDeny === undefined ? {} : { ipDeny: [...input.ipDeny] }),
    ...(input.countryAllow === undefined
      ? {}
      : { countryAllow: input.countryAllow.map((c) => c.toUpperCase()) }),
    ...(input.countryDeny === undefined
      ? {}
      : { countryDeny: input.countryDeny.map((c) => c.toUpperCase()) }),
    ...(input.refererAllow === undefined ? {} : { refererAllow: input.refererAllow.map(lowerHost) }),
    ...(input.refererDeny === undefined ? {} : { refererDeny: input.refererDeny.map(lowerHost) }),
    ...(input.denialLimit === undefined
      ? {}
      : { denialLimit: { ...input.denialLimit, count: [...new Set(input.denialLimit.count)] } }),
  };
}

/** Country lists need a country source: the operator's database or a trusted proxy's header. */
export function policyProblems(
  zones: ReadonlyArray<{ readonly policy?: PolicyInput }>,
  geo: { readonly database?: string; readonly header?: string },
): string[] {
  if (geo.database !== undefined || geo.header !== undefined) return [];
  return zones.flatMap((zone, index) =>
    zone.policy?.countryAllow !== undefined || zone.policy?.countryDeny !== undefined
      ? [
          `zones[${index}].policy: country lists need the viewer's country: set geo.database (a GeoLite2-Country .mmdb) or geo.header`,
        ]
      : [],
  );
}
