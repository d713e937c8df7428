export {
  loadConfig,
  resolveConfig,
  isValidatedConfig,
  envOverrides,
  parseWorkers,
  type Config,
  type ConfigOverrides,
  type ConfigResult,
  type DenialConfig,
  type LoadOptions,
  type ResolveOptions,
  type ZoneConfig,
} from './load.js';
export { configSchema, type ConfigInput, LOG_LEVELS, TOKEN_DENIALS, TOKEN_STRATEGIES } from './schema.js';
export { AddressSet, parseCidr } from './cidr.js';
export type { DenialLimitConfig, PolicyConfig } from './policy.js';

import { resolveConfig, type Config } from './load.js';

/** A configuration that failed validation; `problems` lists every problem, one line each. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

/** resolveConfig for code that prefers an exception (tests, createGateway). */
export function configOrThrow(input: unknown, env?: NodeJS.ProcessEnv): Config {
  const result = resolveConfig(input, { env });
  if (!result.ok) throw new ConfigError(result.problems);
  return result.config;
}
