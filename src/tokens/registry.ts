import { createEctokenScheme, ectoken, type EctokenOptions } from './ectoken.js';
import { gcore } from './gcore.js';
import { keycdn } from './keycdn.js';
import type { SchemeName, TokenScheme } from './scheme.js';

export const SCHEMES: Readonly<Record<SchemeName, TokenScheme>> = { keycdn, gcore, ectoken };

export const SCHEME_NAMES = Object.keys(SCHEMES) as SchemeName[];

export function schemeByName(name: string): TokenScheme | undefined {
  return Object.hasOwn(SCHEMES, name) ? SCHEMES[name as SchemeName] : undefined;
}

/** The scheme as one zone configures it: ectoken's parameter name and URL case are per zone. */
export function schemeForZone(name: SchemeName, options: EctokenOptions = {}): TokenScheme {
  return name === 'ectoken' ? createEctokenScheme(options) : SCHEMES[name];
}
