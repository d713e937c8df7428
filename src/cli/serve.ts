import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { DestinationStream } from 'pino';
import {
  loadConfig,
  parseWorkers,
  type Config,
  type ConfigOverrides,
  type ConfigResult,
} from '../config/index.js';
import {
  createGateway,
  type Gateway,
  type GatewayOptions,
  type ListeningGateway,
  type ReloadResult,
} from '../gateway/index.js';
import { runPrimary } from './cluster.js';
import { FileWatch, reloadGateway, watchedFiles, type ConfigSource } from './reload.js';
import { configProblems, ListenerError, listenFailure, serveListener } from './startup.js';
import { SCHEME_NAMES } from '../tokens/registry.js';
import { TOKEN_STRATEGIES } from '../config/index.js';
import { asUsage, KEY_OPTIONS, parseSeconds, SCHEME_CHOICES, UsageError, type Io } from './usage.js';

export const SERVE_HELP = `Usage: streamgate serve [--config FILE] [--host 127.0.0.1] [--port 8080]
                       [--origin URL] [--scheme ${SCHEME_CHOICES}] [--secret KEY]... [--secret-file FILE]...
                       [--tokens ${TOKEN_STRATEGIES.join('|')}] [--bind-ip] [--no-path-tokens] [--playlist-ttl S] [--segment-ttl S]
                       [--workers N|auto] [--admin-port N] [--log-level LEVEL] [--check]

Runs the gateway: every request is checked (token, path) before the origin is contacted; manifests are
rewritten so that nested requests carry valid tokens.

  --config FILE       YAML configuration (zones, CORS, trusted proxies, limits; see docs/operations.md);
                      also STREAMGATE_CONFIG
  --host, --port      address to listen on (default 127.0.0.1:8080; STREAMGATE_HOST, STREAMGATE_PORT)
  --origin URL        the origin, e.g. http://127.0.0.1:8081 (a one-zone setup without a file)
  --scheme S          token format: ${SCHEME_NAMES.join(', ')} (scheme settings: see the config file)
  --secret KEY        accepted key, repeatable; the first signs minted tokens
  --secret-file FILE  keys, one per line (or STREAMGATE_SECRET for a single key)
  --tokens S          how manifest URIs get tokens: mint (default), forward, path, or cookie (the entry
                      manifest sets a directory cookie; schemes whose tokens travel in cookies)
  --bind-ip           tokens are bound to the viewer's IP (gcore)
  --no-path-tokens    read no token from the path and write none into manifests, so a directory token
                      opens only its own directory's files, not its subtree (pathTokens: false)
  --playlist-ttl S    lifetime of minted playlist tokens (default 14400)
  --segment-ttl S     lifetime of minted segment tokens (default 60)
  --workers N|auto    processes serving the port (default 1; auto: one per CPU; STREAMGATE_WORKERS)
  --admin-port N      serve /_streamgate/metrics and /_streamgate/healthz on this port (admin.host,
                      default 127.0.0.1) instead of the media port (STREAMGATE_ADMIN_PORT)
  --log-level LEVEL   fatal, error, warn, info (default), debug, trace or silent
  --check             validate the configuration, print a summary and exit

Settings are read from the file, then the environment, then the flags (later wins).
SIGHUP reads them again (key files too) and applies them without a restart; SIGTERM stops gracefully.
Example: streamgate serve --origin http://127.0.0.1:8081 --scheme gcore --secret-file key.txt`;

export interface ServeOptions {
  /** Where the gateway's log lines go (default stdout). */
  readonly logDestination?: DestinationStream;
  /** Install SIGTERM/SIGINT handlers (default true), or handlers for the signals listed. */
  readonly signals?: boolean | readonly NodeJS.Signals[];
  /** Passed to createGateway (a cluster worker's log fields and cluster-wide metrics). */
  readonly gateway?: Pick<GatewayOptions, 'logFields' | 'metricsText'>;
  /** Bind the admin listener when the configuration has one (default true; a cluster's primary does). */
  readonly admin?: boolean;
  /** Where the configuration came from: SIGHUP (and `reload.watch`) read it again and apply it. */
  readonly source?: ConfigSource;
  /** Poll the configuration's files when `reload.watch` says so (default true; a cluster's primary does). */
  readonly watch?: boolean;
  /** Called after each reload (a cluster worker tells the primary). */
  readonly onReload?: (result: ReloadResult) => void;
  /** File settings the environment or a flag replaced: a warn line each once listening. */
  readonly overridden?: readonly string[];
}

export interface RunningServer {
  readonly gateway: Gateway;
  readonly listening: ListeningGateway;
  /** The admin listener, when the configuration has one. */
  readonly admin?: ListeningGateway;
  /** Resolves with the exit status once the gateway has stopped. */
  readonly done: Promise<number>;
  /** Graceful stop, as on SIGTERM. */
  stop(): Promise<void>;
  /** Reads the configuration again and applies it, as on SIGHUP; undefined without a source or once stopping. */
  reload(why: string): ReloadResult | undefined;
}

function parsePort(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) > 65_535) {
    throw new UsageError(`${flag} must be a port number 0–65535, got "${value}"`);
  }
  return Number(value);
}

function oneOf(flag: string, value: string | undefined, allowed: readonly string[]): string | undefined {
  if (value !== undefined && !allowed.includes(value)) {
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value;
}

function workersFlag(value: string | undefined): number | 'auto' | undefined {
  if (value === undefined) return undefined;
  const workers = parseWorkers(value);
  if (workers === undefined || workers === 0) {
    throw new UsageError(`--workers must be a number of processes 1–256 or auto, got "${value}"`);
  }
  return workers;
}

/** The flags of `serve`; `nginx-config` takes them too, to read the same configuration. */
export const SERVE_OPTIONS = {
  config: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'admin-port': { type: 'string' },
  origin: { type: 'string' },
  ...KEY_OPTIONS,
  tokens: { type: 'string' },
  'bind-ip': { type: 'boolean' },
  'no-path-tokens': { type: 'boolean' },
  'playlist-ttl': { type: 'string' },
  'segment-ttl': { type: 'string' },
  'log-level': { type: 'string' },
  workers: { type: 'string' },
} as const;

type ServeValues = {
  readonly [K in keyof typeof SERVE_OPTIONS]?: (typeof SERVE_OPTIONS)[K]['type'] extends 'boolean'
    ? boolean
    : K extends keyof typeof KEY_OPTIONS
      ? (typeof KEY_OPTIONS)[K] extends { multiple: true }
        ? string[]
        : string
      : string;
};

/** Reads the flags and builds the configuration; a problem in either is reported and exits 2. */
export function serveConfig(
  argv: string[],
  io: Io,
): { config: Config; check: boolean; source: ConfigSource; overridden: readonly string[] } | { help: true } {
  const { values, positionals } = asUsage(() =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...SERVE_OPTIONS,
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) return { help: true };
  if (positionals.length > 0)
    throw new UsageError(`serve takes no positional arguments (got "${positionals[0]}")`);
  return { ...sourceFromFlags(values, io), check: values.check ?? false };
}

/** The configuration from the file, the environment and the `serve` flags (later wins). */
export function configFromFlags(values: ServeValues, io: Io): Config {
  return sourceFromFlags(values, io).config;
}

/** The configuration, how to read it again (a reload), and the file settings the flags or environment replaced. */
function sourceFromFlags(
  values: ServeValues,
  io: Io,
): { config: Config; source: ConfigSource; overridden: readonly string[] } {
  if (values.host === '') throw new UsageError('--host must not be empty');
  const flags: ConfigOverrides = {
    host: values.host,
    port: parsePort('--port', values.port),
    adminPort: parsePort('--admin-port', values['admin-port']),
    logLevel: oneOf('--log-level', values['log-level'], [
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
      'silent',
    ]),
    origin: values.origin,
    scheme: oneOf('--scheme', values.scheme, SCHEME_NAMES),
    secrets: values.secret,
    secretFiles: values['secret-file'],
    tokens: oneOf('--tokens', values.tokens, TOKEN_STRATEGIES),
    bindIp: values['bind-ip'],
    pathTokens: values['no-path-tokens'] === true ? false : undefined,
    playlistTtl: parseSeconds('--playlist-ttl', values['playlist-ttl']),
    segmentTtl: parseSeconds('--segment-ttl', values['segment-ttl']),
    workers: workersFlag(values.workers),
  };
  if (flags.secrets?.some((secret) => secret === '')) throw new UsageError('--secret must not be empty');
  const file = values.config ?? (io.env.STREAMGATE_CONFIG || undefined);
  // Reading the same sources again is how a reload (SIGHUP) sees changed files.
  const load = (): ConfigResult => loadConfig({ file, env: io.env, flags });
  const result = load();
  if (!result.ok) throw configProblems(result.problems);
  const files = [
    ...(file === undefined ? [] : [resolve(file)]),
    ...(flags.secretFiles ?? []).map((f) => resolve(f)),
  ];
  return { config: result.config, source: { load, files }, overridden: result.overridden ?? [] };
}

/** A summary of the configuration without any key material. */
export function describeConfig(config: Config): string[] {
  return [
    `listen ${config.listen.host}:${config.listen.port}${config.workers > 1 ? `, ${config.workers} worker processes` : ''}`,
    ...(config.admin === undefined
      ? []
      : [`admin ${config.admin.host}:${config.admin.port} (metrics and health; not on the media port)`]),
    ...config.zones.map(
      (zone) =>
        `zone ${zone.name}: ${zone.host ?? '*'}${zone.pathPrefix} → ${zone.origin} ` +
        `(${zone.scheme}, ${zone.keys.length} key${zone.keys.length === 1 ? '' : 's'}, tokens ${zone.tokens}` +
        `${zone.bindIp ? ', IP-bound' : ''}${zone.pathTokens ? '' : ', no path tokens'}, playlist ${zone.playlistTtl} s, segment ${zone.segmentTtl} s)`,
    ),
  ];
}

/** Starts a gateway and handles SIGTERM/SIGINT; the returned `done` settles once it has stopped. */
export async function startServe(config: Config, options: ServeOptions = {}): Promise<RunningServer> {
  const gateway = createGateway(config, { logDestination: options.logDestination, ...options.gateway });
  // The admin listener first: if either port cannot be bound, nothing has served a request.
  let admin: ListeningGateway | undefined;
  if (config.admin !== undefined && options.admin !== false) {
    try {
      admin = await gateway.listenAdmin();
    } catch (error) {
      await gateway.close();
      throw new ListenerError('admin', config.admin.host, config.admin.port, error);
    }
    gateway.logger.info({ adminUrl: admin.url }, `admin listening on ${admin.url}`);
  }

  let listening: ListeningGateway;
  try {
    listening = await gateway.listen();
  } catch (error) {
    await gateway.close();
    throw new ListenerError('media', config.listen.host, config.listen.port, error);
  }
  gateway.logger.info(
    {
      url: listening.url,
      zones: config.zones.map((zone) => ({
        name: zone.name,
        host: zone.host,
        pathPrefix: zone.pathPrefix,
        origin: zone.origin,
        scheme: zone.scheme,
        tokens: zone.tokens,
      })),
    },
    `listening on ${listening.url}`,
  );
  for (const line of options.overridden ?? []) gateway.logger.warn({ setting: line }, line);
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= gateway.close().then(() => {
      gateway.logger.info('stopped');
      resolveDone(0);
    });
    return stopping;
  };

  const signals =
    options.signals === false
      ? []
      : options.signals === true || options.signals === undefined
        ? (['SIGTERM', 'SIGINT'] as const)
        : options.signals;
  if (signals.length > 0) {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping !== undefined) {
        gateway.logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      gateway.logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
      void stop();
    };
    for (const signal of signals) process.on(signal, onSignal);
    void done.then(() => {
      for (const signal of signals) process.off(signal, onSignal);
    });
  }

  const { source } = options;
  const reload = (why: string): ReloadResult | undefined => {
    if (source === undefined || stopping !== undefined) return undefined;
    const result = reloadGateway(gateway, source.load, gateway.logger, why);
    if (result.ok) follow(gateway.config);
    options.onReload?.(result);
    return result;
  };
  const changed = (): void => void reload('file changed');
  let watch = new FileWatch(config.reload.intervalMs, changed);
  const follow = (current: Config): void => {
    if (current.reload.intervalMs !== watch.intervalMs) {
      watch.close();
      watch = new FileWatch(current.reload.intervalMs, changed);
    }
    if (source !== undefined && options.watch !== false && current.reload.watch) {
      watch.set(watchedFiles(current, source));
    } else watch.close();
  };
  follow(config);
  if (source !== undefined && signals.length > 0) {
    // SIGHUP's default action ends the process: with a source to reload from, it reloads instead.
    const onHangup = (): void => void reload('SIGHUP');
    process.on('SIGHUP', onHangup);
    void done.then(() => process.off('SIGHUP', onHangup));
  }
  void done.then(() => watch.close());
  return { gateway, listening, ...(admin === undefined ? {} : { admin }), done, stop, reload };
}

export async function runServe(argv: string[], io: Io): Promise<number> {
  const parsed = serveConfig(argv, io);
  if ('help' in parsed) {
    io.out(SERVE_HELP);
    return 0;
  }
  if (parsed.check) {
    io.out('configuration ok');
    for (const line of describeConfig(parsed.config)) io.out(`  ${line}`);
    for (const line of parsed.overridden) io.out(`  note: ${line}`);
    return 0;
  }
  try {
    if (parsed.config.workers > 1) {
      return await runPrimary(argv, parsed.config, io, parsed.source, parsed.overridden);
    }
    const running = await startServe(parsed.config, { source: parsed.source, overridden: parsed.overridden });
    return await running.done;
  } catch (error) {
    throw startFailure(error);
  }
}

/** A listener that could not bind, as the one line `serve` prints; other errors unchanged. */
export function startFailure(error: unknown): unknown {
  if (!(error instanceof ListenerError)) return error;
  return listenFailure(error.cause, serveListener(error.listener, error.host, error.port));
}
