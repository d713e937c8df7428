import { accessSync, constants, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import YAML from 'yaml';
import type { ForwardUncovered, TokenStrategy } from '../tokens/strategy.js';
import { definitionByName } from '../tokens/registry.js';
import type { SchemeName } from '../tokens/scheme.js';
import { policyProblems, resolvePolicy, type PolicyConfig } from './policy.js';
import { formatIssues, formatPath, unreadable } from './problems.js';
import {
  configSchema,
  TOKEN_DENIALS,
  zoneSchema,
  type ParsedConfig,
  type ParsedZone,
  type TokenDenial,
} from './schema.js';

export interface DenialConfig {
  /** Status per token denial reason (path refusals are always 400). */
  readonly status: Readonly<Record<TokenDenial, number>>;
  /** When set, the reasons in `redirectOn` answer 302 with this Location. */
  readonly redirect?: string;
  readonly redirectOn: readonly TokenDenial[];
  readonly redirectStatus: 301 | 302 | 303 | 307 | 308;
}

export interface ZoneConfig {
  readonly name: string;
  /** Without trailing slash, except the root `/`. Matched segment by segment. */
  readonly pathPrefix: string;
  /** Lower-case host name the zone answers for; undefined matches any Host. */
  readonly host?: string;
  /** `URL.origin` of the upstream: scheme, host and port only. */
  readonly origin: string;
  readonly publicOrigin?: string;
  readonly scheme: SchemeName;
  /** Accepted keys, signing key first. */
  readonly keys: readonly string[];
  /** The absolute path the keys were read from (`secretFile`), watched by `reload.watch`. */
  readonly secretFile?: string;
  /** Absolute paths of the files the scheme's block named (PEM keys, JWKS), watched by `reload.watch`. */
  readonly schemeFiles: readonly string[];
  readonly tokens: TokenStrategy;
  readonly bindIp: boolean;
  /** The zone reads path-embedded tokens and writes them into manifests (src/tokens/path-form.ts). */
  readonly pathTokens: boolean;
  readonly playlistTtl: number;
  readonly segmentTtl: number;
  readonly denial: DenialConfig;
  readonly cache: { readonly livePlaylists: boolean };
  /** DASH: the viewer's token goes to segments through an Annex I UrlQueryInfo (forward zones). */
  readonly dashUrlParams: boolean;
  /** forward zones: what URIs the viewer's token does not open get (ForwardUncovered). */
  readonly forwardUncovered: ForwardUncovered;
  /** mint zones: a short-lived MPD link is answered with a 301 to a playlist-lifetime session URL. */
  readonly dashSessionRedirect: boolean;
  /** A dynamic MPD without Location gets one (src/manifest/dash/location.ts). */
  readonly dashLocation: boolean;
  /** ectoken zones: the token's query parameter and whether ec_url_allow ignores case. */
  readonly ectoken?: { readonly param: string; readonly ignoreUrlCase: boolean };
  /**
   * The zone's block for its scheme (`ectoken`, `akamai`, …) with defaults applied and the files it
   * names read: what the scheme's module builds the zone's TokenScheme from.
   */
  readonly schemeOptions?: unknown;
  /** Lower-case names of extra request headers sent to the origin. */
  readonly forwardHeaders: readonly string[];
  /** Address, country and Referer lists and the denial limit, checked before the token. */
  readonly policy?: PolicyConfig;
}

export interface Config {
  readonly listen: { readonly host: string; readonly port: number };
  /** Where metrics and health are served instead of the media port; undefined: on the media port. */
  readonly admin?: { readonly host: string; readonly port: number };
  readonly trustedProxies: readonly string[];
  /** Country lookup for ectoken country rules: an .mmdb file and/or a trusted proxy's header. */
  readonly geo: { readonly database?: string; readonly header?: string };
  readonly cors: { readonly allowedOrigins: readonly string[] };
  readonly log: {
    readonly level: ParsedConfig['log']['level'];
    /** One line per request (info); `sample` is the share of successful requests written. */
    readonly access: { readonly enabled: boolean; readonly sample: number };
  };
  readonly limits: {
    readonly manifestMaxBytes: number;
    readonly cacheMaxEntries: number;
    readonly cacheMaxBytes: number;
    readonly manifestMemoryBytes: number;
    readonly manifestMaxDepth: number;
    readonly manifestMaxElements: number;
  };
  readonly timeouts: { readonly connectMs: number; readonly headersMs: number; readonly bodyMs: number };
  readonly shutdownGraceMs: number;
  /** SIGHUP reloads; `watch` also polls the configuration's files every `intervalMs`. */
  readonly reload: { readonly watch: boolean; readonly intervalMs: number };
  /** Processes serving the listening port (1: this process alone); `auto` resolved to the CPU count. */
  readonly workers: number;
  readonly zones: readonly ZoneConfig[];
}

export type ConfigResult =
  | {
      readonly ok: true;
      readonly config: Config;
      /** Settings of the file that the environment or a flag replaced, one sentence each, for a warn line. */
      readonly overridden?: readonly string[];
    }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Settings given on the command line or in the environment; they override the file's. */
export interface ConfigOverrides {
  readonly host?: string;
  readonly port?: number;
  /** The admin listener's port (metrics and health move off the media port). */
  readonly adminPort?: number;
  readonly logLevel?: string;
  readonly origin?: string;
  readonly scheme?: string;
  /** Replace the zone's key source with these keys (first signs). */
  readonly secrets?: readonly string[];
  /** Files with one key per line, appended to `secrets`. */
  readonly secretFiles?: readonly string[];
  readonly tokens?: string;
  readonly bindIp?: boolean;
  /** false: the zone reads and writes no path-embedded tokens. */
  readonly pathTokens?: boolean;
  readonly playlistTtl?: number;
  readonly segmentTtl?: number;
  readonly workers?: number | 'auto';
}

export interface LoadOptions {
  /** A YAML config file. */
  readonly file?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Command-line settings: they win over the environment, which wins over the file. */
  readonly flags?: ConfigOverrides;
}

const validated = new WeakSet<object>();

/** True for a Config that came out of resolveConfig/loadConfig (and is therefore frozen and checked). */
export function isValidatedConfig(value: unknown): value is Config {
  return typeof value === 'object' && value !== null && validated.has(value);
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A plain copy of parsed input without prototype-polluting keys, each of which is a problem. */
function sanitize(value: unknown, path: PropertyKey[], problems: string[]): unknown {
  if (Array.isArray(value)) return value.map((item, index) => sanitize(item, [...path, index], problems));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) {
      problems.push(`${formatPath([...path, key])}: key "${key}" is not allowed`);
      continue;
    }
    out[key] = sanitize((value as Record<string, unknown>)[key], [...path, key], problems);
  }
  return out;
}

function readKeyFile(file: string): { keys: string[] } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { problem: `cannot read ${file} (${unreadable(error)})` };
  }
  const keys = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  return keys.length === 0 ? { problem: `${file} holds no key (one key per line)` } : { keys };
}

function normalisePrefix(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}

function resolveZone(zone: ParsedZone, index: number, env: NodeJS.ProcessEnv, baseDir: string) {
  const problems: string[] = [];
  let keys: readonly string[] = zone.secrets ?? [];
  if (zone.secretEnv !== undefined) {
    const value = env[zone.secretEnv];
    if (value === undefined || value === '') {
      problems.push(`zones[${index}].secretEnv: environment variable ${zone.secretEnv} is not set or empty`);
    } else keys = [value];
  }
  const secretFile = zone.secretFile === undefined ? undefined : resolve(baseDir, zone.secretFile);
  if (secretFile !== undefined) {
    const read = readKeyFile(secretFile);
    if ('problem' in read) problems.push(`zones[${index}].secretFile: ${read.problem}`);
    else keys = read.keys;
  }
  const definition = definitionByName(zone.scheme);
  const keyProblem = definition?.keyProblem;
  if (keyProblem !== undefined) {
    const problem = keys.map((key) => keyProblem(key)).find((found) => found !== undefined);
    if (problem !== undefined) problems.push(`zones[${index}]: ${problem}`);
  }
  // The block with its defaults, even when the zone did not write one (ectoken: param token).
  const block = definition?.zoneOptions?.parse(zone[zone.scheme] ?? {});
  let schemeOptions: unknown = block;
  const schemeFiles: string[] = [];
  if (definition?.resolveZone !== undefined) {
    const resolved = definition.resolveZone(block, { keys, baseDir, files: schemeFiles });
    if (resolved.ok) schemeOptions = resolved.options;
    else problems.push(...resolved.problems.map((problem) => `zones[${index}].${zone.scheme}: ${problem}`));
  }
  const status = Object.fromEntries(
    TOKEN_DENIALS.map((reason) => [reason, zone.denial.status[reason] ?? (reason === 'expired' ? 410 : 403)]),
  ) as Record<TokenDenial, number>;
  const resolved: ZoneConfig = {
    name: zone.name,
    pathPrefix: normalisePrefix(zone.pathPrefix),
    ...(zone.host === undefined ? {} : { host: zone.host.replace(/\.$/, '') }),
    origin: new URL(zone.origin).origin,
    ...(zone.publicOrigin === undefined ? {} : { publicOrigin: new URL(zone.publicOrigin).origin }),
    scheme: zone.scheme,
    keys,
    ...(secretFile === undefined ? {} : { secretFile }),
    schemeFiles: [...new Set(schemeFiles)],
    tokens: zone.tokens,
    bindIp: zone.bindIp,
    pathTokens: zone.pathTokens,
    playlistTtl: zone.playlistTtl,
    segmentTtl: zone.segmentTtl,
    denial: {
      status,
      ...(zone.denial.redirect === undefined ? {} : { redirect: zone.denial.redirect }),
      redirectOn: zone.denial.redirectOn ?? TOKEN_DENIALS,
      redirectStatus: zone.denial.redirectStatus,
    },
    cache: { livePlaylists: zone.cache.livePlaylists },
    dashUrlParams: zone.dashUrlParams,
    forwardUncovered: zone.forwardUncovered,
    dashSessionRedirect: zone.dashSessionRedirect,
    dashLocation: zone.dashLocation,
    ...(zone.scheme === 'ectoken'
      ? { ectoken: block as { readonly param: string; readonly ignoreUrlCase: boolean } }
      : {}),
    ...(schemeOptions === undefined ? {} : { schemeOptions }),
    forwardHeaders: [...new Set(zone.forwardHeaders.map((name) => name.toLowerCase()))],
    ...(zone.policy === undefined ? {} : { policy: resolvePolicy(zone.policy) }),
  };
  return { zone: resolved, problems };
}

/** Checks between zones: names unique; no two zones answer the same host and prefix. */
function crossZoneProblems(raw: unknown): string[] {
  const zones = (raw as { zones?: unknown }).zones;
  if (!Array.isArray(zones)) return [];
  const problems: string[] = [];
  const names = new Map<string, number>();
  const routes = new Map<string, number>();
  zones.forEach((candidate, index) => {
    const parsed = zoneSchema.safeParse(candidate);
    if (!parsed.success) return;
    const zone = parsed.data as ParsedZone;
    const sameName = names.get(zone.name);
    if (sameName !== undefined) {
      problems.push(`zones[${index}].name: "${zone.name}" is already the name of zones[${sameName}]`);
    } else names.set(zone.name, index);
    const route = `${zone.host ?? '*'} ${normalisePrefix(zone.pathPrefix)}`;
    const sameRoute = routes.get(route);
    if (sameRoute !== undefined) {
      problems.push(
        `zones[${index}].pathPrefix: zones[${sameRoute}] already answers ${zone.host ?? 'any host'} under ` +
          `${normalisePrefix(zone.pathPrefix)}; give one of them another pathPrefix or host`,
      );
    } else routes.set(route, index);
  });
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

export interface ResolveOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Directory that relative `secretFile` paths are read from (the config file's). */
  readonly baseDir?: string;
}

/**
 * Validates a configuration object (as parsed from YAML or written in code), reads the keys it points
 * at, and returns a frozen Config — or every problem found, each naming its field and the fix.
 */
export function resolveConfig(input: unknown, options: ResolveOptions = {}): ConfigResult {
  const problems: string[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, problems: ['(top level): must be a mapping with listen, zones, …'] };
  }
  const raw = sanitize(input, [], problems);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) problems.push(...formatIssues(parsed.error.issues, configSchema));
  problems.push(...crossZoneProblems(raw));
  if (!parsed.success || problems.length > 0) return { ok: false, problems };

  const env = options.env ?? process.env;
  const zones = parsed.data.zones.map((zone, index) => {
    const resolved = resolveZone(zone as ParsedZone, index, env, options.baseDir ?? process.cwd());
    problems.push(...resolved.problems);
    return resolved.zone;
  });
  const { listen, admin, trustedProxies, geo, cors, log, limits, timeouts, shutdownGraceMs, workers } =
    parsed.data;
  const { reload } = parsed.data;
  problems.push(...policyProblems(parsed.data.zones, geo));
  const database =
    geo.database === undefined ? undefined : resolve(options.baseDir ?? process.cwd(), geo.database);
  if (database !== undefined) {
    try {
      accessSync(database, constants.R_OK);
    } catch (error) {
      problems.push(
        `geo.database: cannot read ${database} (${unreadable(error)}); give a GeoLite2-Country .mmdb file`,
      );
    }
  }
  if (problems.length > 0) return { ok: false, problems };

  const config: Config = deepFreeze({
    listen: { ...listen },
    ...(admin === undefined ? {} : { admin: { ...admin } }),
    trustedProxies: [...trustedProxies],
    geo: {
      ...(database === undefined ? {} : { database }),
      ...(geo.header === undefined ? {} : { header: geo.header.toLowerCase() }),
    },
    cors: { allowedOrigins: [...new Set(cors.allowedOrigins.map((o) => o.replace(/\/$/, '')))] },
    log: { level: log.level, access: { ...log.access } },
    limits: { ...limits },
    timeouts: { ...timeouts },
    shutdownGraceMs,
    reload: { ...reload },
    workers: workers === 'auto' ? availableParallelism() : workers,
    zones,
  });
  validated.add(config);
  return { ok: true, config };
}

function parseYaml(file: string): { value: unknown } | { problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { problems: [`${file}: cannot read the configuration file (${unreadable(error)})`] };
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { problems: doc.errors.map((error) => `${file}: ${error.message.split('\n')[0]}`) };
  }
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }) ?? {} };
  } catch (error) {
    return { problems: [`${file}: ${error instanceof Error ? error.message : String(error)}`] };
  }
}

const ENV_NAMES = {
  host: 'STREAMGATE_HOST',
  port: 'STREAMGATE_PORT',
  adminPort: 'STREAMGATE_ADMIN_PORT',
  logLevel: 'STREAMGATE_LOG_LEVEL',
  origin: 'STREAMGATE_ORIGIN',
  scheme: 'STREAMGATE_SCHEME',
  tokens: 'STREAMGATE_TOKENS',
  workers: 'STREAMGATE_WORKERS',
} as const;

/** `auto` or a whole number, as the `workers` setting takes it; undefined for anything else. */
export function parseWorkers(text: string): number | 'auto' | undefined {
  if (text === 'auto') return 'auto';
  return /^[0-9]{1,3}$/.test(text) ? Number(text) : undefined;
}

/** Settings from STREAMGATE_* variables; STREAMGATE_SECRET is handled as a fallback key, not here. */
export function envOverrides(env: NodeJS.ProcessEnv): { overrides: ConfigOverrides; problems: string[] } {
  const problems: string[] = [];
  const pick = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  let port: number | undefined;
  const portText = pick(ENV_NAMES.port);
  if (portText !== undefined) {
    if (/^[0-9]{1,5}$/.test(portText) && Number(portText) <= 65_535) port = Number(portText);
    else problems.push(`${ENV_NAMES.port}: must be a port number 0–65535, e.g. 8080 (got "${portText}")`);
  }
  let adminPort: number | undefined;
  const adminText = pick(ENV_NAMES.adminPort);
  if (adminText !== undefined) {
    if (/^[0-9]{1,5}$/.test(adminText) && Number(adminText) <= 65_535) adminPort = Number(adminText);
    else
      problems.push(`${ENV_NAMES.adminPort}: must be a port number 0–65535, e.g. 9090 (got "${adminText}")`);
  }
  let workers: number | 'auto' | undefined;
  const workersText = pick(ENV_NAMES.workers);
  if (workersText !== undefined) {
    workers = parseWorkers(workersText);
    if (workers === undefined) {
      problems.push(`${ENV_NAMES.workers}: must be a number of processes or auto (got "${workersText}")`);
    }
  }
  const overrides: ConfigOverrides = {
    host: pick(ENV_NAMES.host),
    port,
    adminPort,
    logLevel: pick(ENV_NAMES.logLevel),
    origin: pick(ENV_NAMES.origin),
    scheme: pick(ENV_NAMES.scheme),
    tokens: pick(ENV_NAMES.tokens),
    workers,
  };
  return { overrides, problems };
}

const ZONE_FIELDS = [
  'origin',
  'scheme',
  'secrets',
  'secretFiles',
  'tokens',
  'bindIp',
  'pathTokens',
  'playlistTtl',
  'segmentTtl',
] as const;

/** Applies overrides onto raw (pre-schema) input; zone settings go to the single zone. */
function applyOverrides(raw: Record<string, unknown>, overrides: ConfigOverrides, problems: string[]): void {
  if (overrides.host !== undefined || overrides.port !== undefined) {
    const listen = typeof raw.listen === 'object' && raw.listen !== null ? { ...raw.listen } : {};
    if (overrides.host !== undefined) (listen as Record<string, unknown>).host = overrides.host;
    if (overrides.port !== undefined) (listen as Record<string, unknown>).port = overrides.port;
    raw.listen = listen;
  }
  if (overrides.adminPort !== undefined) {
    const admin = typeof raw.admin === 'object' && raw.admin !== null ? { ...raw.admin } : {};
    (admin as Record<string, unknown>).port = overrides.adminPort;
    raw.admin = admin;
  }
  if (overrides.workers !== undefined) raw.workers = overrides.workers;
  if (overrides.logLevel !== undefined) {
    const log = typeof raw.log === 'object' && raw.log !== null ? { ...raw.log } : {};
    (log as Record<string, unknown>).level = overrides.logLevel;
    raw.log = log;
  }
  const given = ZONE_FIELDS.filter((field) => overrides[field] !== undefined);
  if (given.length === 0) return;
  const zones = raw.zones;
  if (Array.isArray(zones) && zones.length > 1) {
    problems.push(
      `zones: the file has ${zones.length} zones, so zone settings (${given.join(', ')}) cannot come ` +
        'from flags or the environment; set them in the file',
    );
    return;
  }
  const current = Array.isArray(zones) && typeof zones[0] === 'object' && zones[0] !== null ? zones[0] : {};
  const zone: Record<string, unknown> = { name: 'default', pathPrefix: '/', ...current };
  for (const field of [
    'origin',
    'scheme',
    'tokens',
    'bindIp',
    'pathTokens',
    'playlistTtl',
    'segmentTtl',
  ] as const) {
    if (overrides[field] !== undefined) zone[field] = overrides[field];
  }
  if (overrides.secrets !== undefined || overrides.secretFiles !== undefined) {
    const keys = [...(overrides.secrets ?? [])];
    let unread = false;
    for (const file of overrides.secretFiles ?? []) {
      const read = readKeyFile(file);
      if ('problem' in read) {
        problems.push(`--secret-file: ${read.problem}`);
        unread = true;
      } else keys.push(...read.keys);
    }
    delete zone.secretEnv;
    delete zone.secretFile;
    // A file that could not be read is the problem: an empty key list after it is not another one.
    zone.secrets = keys.length === 0 && unread ? ['unread'] : keys;
  }
  raw.zones = [zone];
}

/**
 * Builds the configuration in the order file → environment → flags, validates it once and freezes it.
 * STREAMGATE_SECRET is the key of a single zone that names no key source of its own.
 */
export function loadConfig(options: LoadOptions = {}): ConfigResult {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  let raw: Record<string, unknown> = {};
  if (options.file !== undefined) {
    const read = parseYaml(options.file);
    if ('problems' in read) return { ok: false, problems: read.problems };
    if (typeof read.value !== 'object' || read.value === null || Array.isArray(read.value)) {
      return { ok: false, problems: [`${options.file}: must be a YAML mapping with listen, zones, …`] };
    }
    raw = sanitize(read.value, [], problems) as Record<string, unknown>;
  }
  const fromEnv = envOverrides(env);
  problems.push(...fromEnv.problems);
  const overridden =
    options.file === undefined
      ? []
      : overriddenSettings(raw, options.file, fromEnv.overrides, options.flags ?? {});
  applyOverrides(raw, fromEnv.overrides, problems);
  applyOverrides(raw, options.flags ?? {}, problems);

  const fallback = env.STREAMGATE_SECRET;
  const zones = raw.zones;
  if (fallback && Array.isArray(zones) && zones.length === 1) {
    const zone = zones[0] as Record<string, unknown>;
    if (
      typeof zone === 'object' &&
      zone !== null &&
      !('secrets' in zone || 'secretEnv' in zone || 'secretFile' in zone)
    ) {
      raw.zones = [{ ...zone, secrets: [fallback] }];
    }
  }
  const result = resolveConfig(raw, {
    env,
    baseDir: options.file === undefined ? process.cwd() : dirname(resolve(options.file)),
  });
  if (problems.length === 0) return result.ok && overridden.length > 0 ? { ...result, overridden } : result;
  return { ok: false, problems: [...problems, ...(result.ok ? [] : result.problems)] };
}

/** The flag that sets each listener and process setting, for the sentences below. */
const OVERRIDE_FLAGS = {
  host: '--host',
  port: '--port',
  adminPort: '--admin-port',
  logLevel: '--log-level',
  workers: '--workers',
} as const;

/**
 * Listener and process settings that the file gives and the environment or a flag replaces. A container
 * image that sets STREAMGATE_PORT wins over the file's listen.port; that is said at start, not left to
 * be found out.
 */
function overriddenSettings(
  file: Record<string, unknown>,
  path: string,
  env: ConfigOverrides,
  flags: ConfigOverrides,
): string[] {
  const section = (name: string): Record<string, unknown> => {
    const value = file[name];
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  };
  const inFile: Record<keyof typeof OVERRIDE_FLAGS, [string, unknown]> = {
    host: ['listen.host', section('listen').host],
    port: ['listen.port', section('listen').port],
    adminPort: ['admin.port', section('admin').port],
    logLevel: ['log.level', section('log').level],
    workers: ['workers', file.workers],
  };
  const out: string[] = [];
  for (const key of Object.keys(OVERRIDE_FLAGS) as Array<keyof typeof OVERRIDE_FLAGS>) {
    const [field, value] = inFile[key];
    if (value === undefined) continue;
    const flag = flags[key];
    const fromEnv = env[key];
    const by =
      flag !== undefined
        ? `${OVERRIDE_FLAGS[key]} ${String(flag)}`
        : fromEnv !== undefined
          ? `${ENV_NAMES[key]}=${String(fromEnv)}`
          : undefined;
    if (by !== undefined && String(flag ?? fromEnv) !== String(value)) {
      out.push(`${field}: ${String(value)} in ${path} is overridden by ${by}`);
    }
  }
  return out;
}
