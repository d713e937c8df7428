import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import type { RequestFacts, SchemeCapabilities, TokenScheme, Transports } from './scheme.js';
import { SignError } from './sign.js';

/**
 * One scheme as the rest of streamgate sees it: its name, its zone settings (a zod object composed
 * into the zone schema by `scheme`), what it can express, where its token travels, its command-line
 * flags and how library options become a configured TokenScheme. Config, CLI, library, gateway,
 * metrics and docs read the list in registry.ts; adding a scheme is one module, its vectors, its docs.
 */
export interface SchemeDefinition {
  readonly name: string;
  /** The vendor's product name, for help texts and docs. */
  readonly title: string;
  /** One line for `--help`: what the token looks like and where it travels. */
  readonly summary: string;
  readonly capabilities: SchemeCapabilities;
  /** Where tokens travel with the default settings (a zone may rename a parameter or cookie). */
  readonly transports: Transports;
  /** The zone block named after the scheme (`akamai: {…}`), with defaults; undefined: none. */
  readonly zoneOptions?: z.ZodType;
  /**
   * Whether a zone needs shared secrets (`secrets`, `secretEnv`, `secretFile`): `required` for HMAC
   * and MD5 formats, `optional` where keys can come from the zone block (public keys, JWKS).
   */
  readonly secrets: 'required' | 'optional';
  /** Why a shared key cannot be used with this format (with its fix), or undefined. */
  keyProblem?(key: string): string | undefined;
  /** Cross-field problems of a zone: [field, message]. */
  zoneProblems?(zone: ZoneView): ReadonlyArray<readonly [string, string]>;
  /**
   * Reads the files a zone block names (PEM, JWKS) relative to `baseDir`: the options as `create`
   * takes them, or every problem with its fix.
   */
  resolveZone?(options: unknown, context: ResolveContext): ResolvedOptions;
  /** The scheme as one zone (or one library call) configures it; options are `resolveZone`'s. */
  create(options?: unknown): TokenScheme;
  /** Scheme-specific command-line flags (`--acl`, `--key-pair-id`, …). */
  readonly flags: readonly FlagSpec[];
  /** A problem with a combination of flags, worded for the command line; undefined when fine. */
  checkFlags?(values: Readonly<Record<string, unknown>>): string | undefined;
  /**
   * Library options of this scheme beyond its flags' (`rules`), each with the phrase another scheme
   * refuses it with ("carry no rules").
   */
  readonly libraryOptions?: Readonly<Record<string, string>>;
  /**
   * Library options of this scheme (`acl`, `keyPairId`, …) → what signing needs. Throws SignError
   * for a bad value, with the fix.
   */
  prepareSign(options: SchemeOptions, common: CommonSign): SignPlan;
  /** Library options → a configured scheme, its keys and the request facts to check against. */
  prepareVerify(options: SchemeOptions, common: CommonVerify): VerifyPlan;
}

/** A zone as its scheme's cross-field checks see it. */
export interface ZoneView {
  readonly tokens: string;
  readonly bindIp: boolean;
  readonly hasSecrets: boolean;
  readonly options: unknown;
}

export interface ResolveContext {
  /** The zone's shared secrets (may be empty where they are optional). */
  readonly keys: readonly string[];
  /** The directory relative file names are read from (the config file's). */
  readonly baseDir: string;
  /**
   * Where `readZoneFile` records the absolute paths it read (key files, JWKS), so that `reload.watch`
   * picks up a rotated key file like a rotated `secretFile`.
   */
  readonly files?: string[];
}

/** Reads a file a zone block names, relative to `baseDir`, or records why it cannot (with `what`). */
export function readZoneFile(
  file: string,
  context: Pick<ResolveContext, 'baseDir' | 'files'>,
  problems: string[],
  what: string,
): string | undefined {
  const path = resolve(context.baseDir, file);
  context.files?.push(path);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(`${what}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    return undefined;
  }
}

export type ResolvedOptions =
  | { readonly ok: true; readonly options: unknown }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Library options as given, the scheme's own fields included (checked by the definition). */
export type SchemeOptions = Readonly<Record<string, unknown>>;

export interface CommonSign {
  /** Shared secrets given (`secret`): the first signs. */
  readonly secrets: readonly string[];
  /** The viewer address to bind to, when given. */
  readonly ip?: string;
  /** Unix seconds. */
  readonly now: number;
  readonly scope: 'file' | 'directory' | 'path';
}

export interface SignPlan {
  readonly scheme: TokenScheme;
  /** The key the scheme signs with (a shared secret; schemes holding their own key ignore it). */
  readonly key: string;
  readonly rules?: ReadonlyArray<readonly [string, string]>;
  readonly ip?: string;
}

export interface CommonVerify {
  readonly secrets: readonly string[];
  readonly bindIp: boolean;
}

export interface VerifyPlan {
  readonly scheme: TokenScheme;
  readonly keys: readonly string[];
  readonly bindIp: boolean;
}

/** A command-line flag of one scheme and the library option it sets. */
export interface FlagSpec {
  /** Without the dashes: `key-pair-id`. */
  readonly flag: string;
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  /** The library option it sets (`keyPairId`). */
  readonly option: string;
  /** The value names a file whose text becomes the option (`--private-key-file` → `privateKey`). */
  readonly file?: boolean;
  /** A comma-separated list. */
  readonly list?: boolean;
  /** Unix seconds or another whole number. */
  readonly integer?: boolean;
  readonly commands: readonly ('sign' | 'verify')[];
  /** The help line after the flag (`  --acl L   …`). */
  readonly help: string;
  /** Why another scheme refuses it: "`gcore tokens` …". */
  readonly refusal?: string;
}

/** Facts a verify command or library call hands a rule-carrying scheme. */
export type Facts = Omit<RequestFacts, 'clientAddress'>;

export function optionString(options: SchemeOptions, name: string): string | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new SignError('scheme', `${name} must be a string`);
  return value;
}

export function optionStrings(options: SchemeOptions, name: string): string[] | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string')) {
    throw new SignError('scheme', `${name} must be a string or a list of strings`);
  }
  return value as string[];
}

export function optionInteger(options: SchemeOptions, name: string): number | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new SignError('scheme', `${name} must be a whole number ≥ 0`);
  }
  return value;
}

export function optionBoolean(options: SchemeOptions, name: string): boolean | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new SignError('scheme', `${name} must be true or false`);
  return value;
}

const NO_FACTS = 'tokens carry no access rules';

/**
 * The request facts a rule-carrying token is checked against (`verify --country …`); schemes whose
 * tokens carry rules list them among their flags.
 */
export const FACT_FLAGS: readonly FlagSpec[] = [
  {
    flag: 'country',
    type: 'string',
    option: 'facts.country',
    commands: ['verify'],
    help: "the viewer's country (ISO 3166); unknown when not given",
    refusal: NO_FACTS,
  },
  {
    flag: 'referer',
    type: 'string',
    option: 'facts.referer',
    commands: ['verify'],
    help: 'the Referer header; absent when not given',
    refusal: NO_FACTS,
  },
  {
    flag: 'proto',
    type: 'string',
    option: 'facts.proto',
    commands: ['verify'],
    help: "http or https (default: the URL's scheme when URL is absolute)",
    refusal: NO_FACTS,
  },
  {
    flag: 'host',
    type: 'string',
    option: 'facts.host',
    commands: ['verify'],
    help: "the host the request named (default: the URL's host when URL is absolute)",
    refusal: NO_FACTS,
  },
];
