import { readFileSync } from 'node:fs';
import type { FlagSpec, SchemeDefinition } from '../tokens/definition.js';
import { definitionByName, SCHEME_DEFINITIONS, SCHEME_NAMES, schemeByName } from '../tokens/registry.js';
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

export function requireDefinition(value: string | undefined): SchemeDefinition {
  if (value === undefined) throw new UsageError(`--scheme is required (one of: ${SCHEME_NAMES.join(', ')})`);
  const definition = definitionByName(value);
  if (!definition) throw new UsageError(`unknown --scheme "${value}" (one of: ${SCHEME_NAMES.join(', ')})`);
  return definition;
}

/** `keycdn|gcore|…`, for usage lines. */
export const SCHEME_CHOICES = SCHEME_NAMES.join('|');

/** Every scheme's flags of one command, once each (schemes share some, e.g. `--param`). */
export function schemeFlags(command: 'sign' | 'verify'): FlagSpec[] {
  const seen = new Map<string, FlagSpec>();
  for (const definition of SCHEME_DEFINITIONS) {
    for (const flag of definition.flags as readonly FlagSpec[]) {
      if (flag.commands.includes(command) && !seen.has(flag.flag)) seen.set(flag.flag, flag);
    }
  }
  return [...seen.values()];
}

/** parseArgs option specs for every scheme's flags of one command. */
export function schemeFlagOptions(
  command: 'sign' | 'verify',
): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  return Object.fromEntries(
    schemeFlags(command).map((flag) => [
      flag.flag,
      flag.multiple ? { type: flag.type, multiple: true } : { type: flag.type },
    ]),
  );
}

const ownsFlag = (definition: SchemeDefinition, flag: string, command: 'sign' | 'verify'): boolean =>
  definition.flags.some((spec) => spec.flag === flag && spec.commands.includes(command));

/**
 * Flags of other schemes are refused rather than ignored, so a rule the user asked for is never
 * missing from the token; then the scheme's own flags become its library options (files read, lists
 * split), so the command and the library take the same options.
 */
export function schemeOptionsFromFlags(
  definition: SchemeDefinition,
  values: Readonly<Record<string, unknown>>,
  command: 'sign' | 'verify',
): Record<string, unknown> {
  const foreign = schemeFlags(command).filter(
    (flag) =>
      values[flag.flag] !== undefined &&
      values[flag.flag] !== false &&
      !ownsFlag(definition, flag.flag, command),
  );
  if (foreign.length > 0) {
    const first = foreign[0] as FlagSpec;
    const owners = SCHEME_DEFINITIONS.filter((other) => ownsFlag(other, first.flag, command)).map(
      (o) => o.name,
    );
    throw new UsageError(
      `${foreign.map((flag) => `--${flag.flag}`).join(', ')}: for --scheme ${owners.join(' or ')} only; ` +
        `${definition.name} ${first.refusal ?? 'tokens have no such option'}`,
    );
  }
  const problem = definition.checkFlags?.(values);
  if (problem !== undefined) throw new UsageError(problem);
  const options: Record<string, unknown> = {};
  for (const flag of definition.flags) {
    if (!flag.commands.includes(command)) continue;
    const raw = values[flag.flag];
    if (raw === undefined || raw === false) continue;
    let value: unknown = raw;
    if (flag.file) value = readFlagFile(flag.flag, raw as string | string[]);
    else if (flag.list) value = (raw as string).split(',').map((entry) => entry.trim());
    else if (flag.integer) {
      if (!/^[0-9]{1,10}$/.test(raw as string)) {
        throw new UsageError(`--${flag.flag} must be a whole number (Unix seconds), got "${String(raw)}"`);
      }
      value = Number(raw);
    }
    const path = flag.option.split('.');
    let into = options;
    for (const key of path.slice(0, -1)) {
      into[key] ??= {};
      into = into[key] as Record<string, unknown>;
    }
    into[path[path.length - 1] ?? flag.option] = value;
  }
  return options;
}

function readFlagFile(flag: string, files: string | string[]): string | string[] {
  const read = (file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(
        `cannot read --${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
  };
  return Array.isArray(files) ? files.map(read) : read(files);
}

/** The help lines of every scheme's flags of one command, grouped by scheme. */
export function schemeFlagHelp(command: 'sign' | 'verify'): string {
  const blocks: string[] = [];
  const shown = new Set<string>();
  for (const definition of SCHEME_DEFINITIONS) {
    const flags = (definition.flags as readonly FlagSpec[]).filter(
      (flag) => flag.commands.includes(command) && !shown.has(`${definition.name}:${flag.flag}`),
    );
    if (flags.length === 0) continue;
    const lines = flags.map((flag) => {
      shown.add(`${definition.name}:${flag.flag}`);
      const name = `--${flag.flag}${flag.type === 'string' ? (flag.file ? ' FILE' : flag.list ? ' L' : ' V') : ''}`;
      return `  ${name.padEnd(20)}${flag.help}`;
    });
    blocks.push(`${definition.name} (${definition.title}):\n${lines.join('\n')}`);
  }
  return blocks.join('\n\n');
}

/** One line per scheme: name and summary. */
export function schemeSummaries(indent: string): string {
  return SCHEME_DEFINITIONS.map(
    (definition) => `${indent}${definition.name.padEnd(11)}${definition.summary}`,
  ).join('\n');
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
