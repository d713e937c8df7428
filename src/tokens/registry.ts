import { akamaiDefinition } from './akamai.js';
import { bunnyDefinition } from './bunny.js';
import { cloudfrontDefinition } from './cloudfront.js';
import { peelPathPrefix } from './check.js';
import type { SchemeDefinition } from './definition.js';
import { ectokenDefinition } from './ectoken.js';
import { jwtDefinition } from './jwt.js';
import { gcoreDefinition } from './gcore.js';
import { keycdnDefinition } from './keycdn.js';
import { withPathTokensOff } from './path-form.js';
import type { SchemeName, TokenScheme } from './scheme.js';

/**
 * Every scheme streamgate speaks, in the order help texts list them. Config (the zone schema's
 * `scheme` union), CLI (flags, help), library (options), gateway (transports, redaction), metrics and
 * docs all read this list; nothing else names a scheme.
 */
export const SCHEME_DEFINITIONS = [
  keycdnDefinition,
  gcoreDefinition,
  ectokenDefinition,
  akamaiDefinition,
  cloudfrontDefinition,
  bunnyDefinition,
  jwtDefinition,
] as const;

export const SCHEME_NAMES = SCHEME_DEFINITIONS.map((definition) => definition.name) as SchemeName[];

/** Each scheme with its default settings. */
export const SCHEMES = Object.fromEntries(
  SCHEME_DEFINITIONS.map((definition) => [definition.name, definition.create()]),
) as Readonly<Record<SchemeName, TokenScheme>>;

export function definitionByName(name: string): SchemeDefinition | undefined {
  return SCHEME_DEFINITIONS.find((definition) => definition.name === name);
}

export function schemeByName(name: string): TokenScheme | undefined {
  return Object.hasOwn(SCHEMES, name) ? SCHEMES[name as SchemeName] : undefined;
}

/** Zone settings that shape the scheme beyond its own block. */
export interface ZoneSchemeSettings {
  /** False: the zone reads no token from the path and writes none there (withPathTokensOff). */
  readonly pathTokens?: boolean;
}

/**
 * The scheme as one zone configures it (its block's settings, resolved by the config loader, and the
 * zone's `pathTokens`). The gateway and its rewrite threads both build it here, from the same data.
 */
export function schemeForZone(
  name: SchemeName,
  options?: unknown,
  settings: ZoneSchemeSettings = {},
): TokenScheme {
  const definition = definitionByName(name);
  if (definition === undefined) throw new Error(`unknown scheme ${name}`);
  const scheme = definition.create(options);
  return settings.pathTokens === false ? withPathTokensOff(scheme) : scheme;
}

/**
 * What a log redactor must hide, as the schemes declare it: query parameters, cookies and headers
 * that carry tokens, and the path forms that embed one.
 */
export interface RedactionNames {
  readonly params: readonly string[];
  readonly cookies: readonly string[];
  readonly headers: readonly string[];
  /** Patterns of path segments that hold a token (`~token~expires`, Bunny's `bcdn_token=…`). */
  readonly pathPatterns: readonly RegExp[];
  /** Texts a token-holding first path segment starts with (`bcdn_token=`). */
  readonly pathPrefixes: readonly string[];
}

export function redactionNames(): RedactionNames {
  const transports = SCHEME_DEFINITIONS.map((definition) => definition.transports);
  const unique = (lists: ReadonlyArray<readonly string[]>): string[] => [...new Set(lists.flat())];
  const patterns: RegExp[] = [];
  if (transports.some((transport) => transport.pathSegment)) patterns.push(/\/~[^~/?]*~/g);
  for (const transport of transports) {
    if (transport.pathPrefix !== undefined) {
      patterns.push(new RegExp(`^/${transport.pathPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^/]*`, 'g'));
    }
  }
  return {
    params: unique(transports.map((transport) => transport.query)),
    cookies: unique(transports.map((transport) => transport.cookies)),
    headers: unique(transports.map((transport) => transport.headers)),
    pathPatterns: patterns,
    pathPrefixes: transports.flatMap((transport) =>
      transport.pathPrefix === undefined ? [] : [transport.pathPrefix],
    ),
  };
}

const PATH_PREFIXES = SCHEME_DEFINITIONS.flatMap((definition) =>
  definition.transports.pathPrefix === undefined ? [] : [definition.transports.pathPrefix],
);

/**
 * A raw request path without a leading token segment of any scheme (Bunny's `/bcdn_token=…`): what a
 * zone is chosen by, before the zone's scheme reads the token.
 */
export function withoutPrefixSegment(rawPath: string): string {
  for (const prefix of PATH_PREFIXES) {
    const peeled = peelPathPrefix(rawPath, prefix);
    if (peeled.segment !== undefined) return peeled.rawPath;
  }
  return rawPath;
}
