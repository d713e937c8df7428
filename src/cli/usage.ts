import { readFileSync } from 'node:fs';
import { SCHEME_NAMES, schemeByName } from '../tokens/registry.js';
import type { TokenScheme } from '../tokens/scheme.js';
import { ECTOKEN_PARAM_NAME } from '../tokens/ectoken.js';

/** A bad command line: printed with a hint to `--help`, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

/** The options every command that handles keys takes: the scheme and where its keys come from. */
export const KEY_OPTIONS = {
  scheme: { type: 'string' },
  secret: { type: 'string', multiple: true },
  'secret-file': { type: 'string', multiple: true },
} as const;

/** Runs node:util parseArgs (strict) and turns its complaints into usage errors. */
export function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

export function requireScheme(value: string | undefined): TokenScheme {
  if (value === undefined) throw new UsageError(`--scheme is required (one of: ${SCHEME_NAMES.join(', ')})`);
  const scheme = schemeByName(value);
  if (!scheme) throw new UsageError(`unknown --scheme "${value}" (one of: ${SCHEME_NAMES.join(', ')})`);
  return scheme;
}

/**
 * Keys from `--secret` (repeatable, first = signing key), then `--secret-file` (one key per line),
 * then the STREAMGATE_SECRET environment variable, so that keys need not sit in shell history.
 */
export function readSecrets(
  flags: readonly string[] | undefined,
  files: readonly string[] | undefined,
  env: NodeJS.ProcessEnv,
): string[] {
  const secrets = [...(flags ?? [])];
  for (const file of files ?? []) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(
        `cannot read --secret-file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
    secrets.push(...text.split(/\r?\n/).filter((line) => line.trim() !== ''));
  }
  if (secrets.length === 0 && env.STREAMGATE_SECRET) secrets.push(env.STREAMGATE_SECRET);
  if (secrets.length === 0) {
    throw new UsageError('a secret is required: --secret KEY, --secret-file FILE or STREAMGATE_SECRET');
  }
  if (secrets.some((secret) => secret.length === 0)) throw new UsageError('a secret is empty');
  return secrets;
}

export function parseUnixTime(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,10}$/.test(value))
    throw new UsageError(`${flag} must be a Unix time in seconds, got "${value}"`);
  return Number(value);
}

export function parseSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,9}$/.test(value)) throw new UsageError(`${flag} must be a whole number of seconds ≥ 1`);
  return Number(value);
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export function parseParamName(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!ECTOKEN_PARAM_NAME.test(value)) {
    throw new UsageError(`--param must be a query parameter name (letters, digits, _ . ~ -), got "${value}"`);
  }
  return value;
}

/**
 * Flags that only mean something to one scheme are refused elsewhere rather than silently ignored, so a
 * rule the user asked for is never missing from the token.
 */
export function refuseFlags(
  values: Readonly<Record<string, unknown>>,
  flags: readonly string[],
  why: string,
): void {
  const given = flags.filter((flag) => values[flag] !== undefined && values[flag] !== false);
  if (given.length > 0) throw new UsageError(`${given.map((flag) => `--${flag}`).join(', ')}: ${why}`);
}
