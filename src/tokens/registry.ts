import { gcore } from './gcore.js';
import { keycdn } from './keycdn.js';
import type { SchemeName, TokenScheme } from './scheme.js';

export const SCHEMES: Readonly<Record<SchemeName, TokenScheme>> = { keycdn, gcore };

export const SCHEME_NAMES = Object.keys(SCHEMES) as SchemeName[];

export function schemeByName(name: string): TokenScheme | undefined {
  return Object.hasOwn(SCHEMES, name) ? SCHEMES[name as SchemeName] : undefined;
}
