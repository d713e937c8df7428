import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { Gauge } from 'prom-client';
import type { DestinationStream } from 'pino';
import {
  AddressSet,
  ConfigError,
  isValidatedConfig,
  resolveConfig,
  type Config,
  type ConfigInput,
} from '../config/index.js';
import { canonicalIp } from '../tokens/ip.js';
import { schemeForZone } from '../tokens/registry.js';
import { AccessLog, countAnswer, noteBytes } from './access.js';
import { adminHandler, listenAdmin as bindAdmin } from './admin.js';
import { ManifestMemory, registerManifestMemoryMetrics } from './body-budget.js';
import { CountryLookup } from './geo.js';
import { answerAuth, isAuthTarget } from './auth.js';
import { clientAddress, requestHost, requestId } from './client.js';
import { answerClientError, refuseConnect, trackResponse } from './connection.js';
import { Cors } from './cors.js';
import { LiveCache } from './live-cache.js';
import { createLogger, redactParam, redactTarget, type Logger } from './log.js';
import { GatewayMetrics } from './metrics.js';
import { describeChanges, effectiveConfig, OriginPools, type ReloadResult } from './reload.js';
import { DenialLimiters, type DenialLimiter } from './policy.js';
import { logDenial, proxyRequest } from './proxy.js';
import { RewritePool } from './rewrite-pool.js';
import { RequestTelemetry } from './telemetry.js';
import { packageVersion } from '../version.js';
import { sendText, type GatewayRuntime, type ZoneRuntime } from './runtime.js';
import { ZoneRouter } from './zones.js';

export { redactTarget } from './log.js';
export { GatewayMetrics } from './metrics.js';
export { classifyOriginError } from './origin.js';
export type { ReloadResult } from './reload.js';

export interface GatewayOptions {
  /** A pino logger to use instead of one built from `config.log`. */
  readonly logger?: Logger;
  /** Where the built logger writes (default stdout); tests pass a stream to read the lines. */
  readonly logDestination?: DestinationStream;
  /** Also export Node process metrics (CPU, memory, event loop lag). Default true. */
  readonly defaultMetrics?: boolean;
  /**
   * What `/_streamgate/metrics` answers, instead of this gateway's own registry: a worker of a
   * cluster asks the primary for the figures of every worker summed.
   */
  readonly metricsText?: () => Promise<string>;
  /** Fields added to every log line (a cluster worker's number). */
  readonly logFields?: Readonly<Record<string, string | number>>;
}

export interface ListeningGateway {
  /** `http://host:port`, without trailing slash (loopback when bound to all interfaces). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly server: Server;
  /** Graceful stop, see Gateway.close. */
  close(): Promise<void>;
}

export interface Gateway {
  /** The gateway as an express application (front door, proxy, `/_streamgate/*` routes). */
  readonly app: Express;
  /** The request listener `listen()` uses: media requests bypass express's router. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  readonly config: Config;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** Binds `config.listen` (or the given address; port 0 picks a free port). */
  listen(address?: { host?: string; port?: number }): Promise<ListeningGateway>;
  /**
   * Binds the admin listener, `config.admin` (or the given address): `/_streamgate/metrics` and
   * `/_streamgate/healthz` there, 404 for them on the media port. Refused when `config.admin` is unset.
   */
  listenAdmin(address?: { host?: string; port?: number }): Promise<ListeningGateway>;
  /**
   * Applies a new configuration (validated with the same schema; an invalid one is refused with every
   * problem and the running one stays). Requests already running keep the configuration they arrived
   * under, so streams in flight are never cut. Listening addresses, workers and limits need a restart:
   * their running values stay, and `restartNeeded` names them.
   */
  reload(config: Config | ConfigInput): ReloadResult;
  /**
   * Stops accepting connections, lets requests in flight finish for up to `shutdownGraceMs`, then cuts
   * what is left and closes the origin pools.
   */
  close(): Promise<void>;
}

/** One configuration's worth of request handling; see createGateway's `build`. */
interface Generation {
  readonly rt: GatewayRuntime;
  readonly zones: readonly ZoneRuntime[];
  readonly router: ZoneRouter<ZoneRuntime>;
  /** The zones' denial limiters, adopted when the generation is swapped in. */
  readonly limiters: Map<string, DenialLimiter>;
}

const ALLOW = 'GET, HEAD, OPTIONS';

function isReserved(target: string): boolean {
  return (
    target === '/_streamgate' || target.startsWith('/_streamgate/') || target.startsWith('/_streamgate?')
  );
}

/**
 * Builds a gateway from a configuration (validated here if it was not already; an invalid one throws
 * a ConfigError listing every problem). Nothing listens until `listen()`.
 */
export function createGateway(input: Config | ConfigInput, options: GatewayOptions = {}): Gateway {
  let config: Config;
  if (isValidatedConfig(input)) config = input;
  else {
    const result = resolveConfig(input);
    if (!result.ok) throw new ConfigError(result.problems);
    config = result.config;
  }

  const built = options.logger ?? createLogger(config.log.level, options.logDestination);
  const logger = options.logFields === undefined ? built : built.child(options.logFields);
  const metrics = new GatewayMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  // Built once and kept across reloads: the live cache and the manifest memory budget are sized by
  // limits, which need a restart; the rewrite threads serve every generation.
  const cache = new LiveCache(config.limits.cacheMaxEntries, config.limits.cacheMaxBytes);
  const manifestMemory = new ManifestMemory(config.limits.manifestMemoryBytes);
  const rewritePool = new RewritePool();
  registerManifestMemoryMetrics(metrics.registry, manifestMemory);
  const pools = new OriginPools();
  const denialLimiters = new DenialLimiters();
  const telemetry = new RequestTelemetry(metrics.registry, packageVersion());
  // Which scheme, strategy and token transports each zone runs: labels read from the scheme's module.
  const info = new Gauge({
    name: 'streamgate_zone_info',
    help: 'One series per zone: its token scheme, strategy and where tokens travel',
    labelNames: ['zone', 'scheme', 'tokens', 'transports'],
    registers: [metrics.registry],
    aggregator: 'first',
  });
  const describeZones = (zones: readonly ZoneRuntime[]): void => {
    info.reset();
    for (const zone of zones) {
      const { transports } = zone.scheme;
      const where = [
        transports.query.length > 0 || transports.bareQuery ? 'query' : '',
        transports.pathSegment || transports.pathPrefix !== undefined ? 'path' : '',
        transports.cookies.length > 0 ? 'cookie' : '',
        transports.headers.length > 0 ? 'header' : '',
      ].filter(Boolean);
      info.set(
        {
          zone: zone.config.name,
          scheme: zone.scheme.name,
          tokens: zone.config.tokens,
          transports: where.join(','),
        },
        1,
      );
    }
  };

  /**
   * Everything a request reads from the configuration, built as one generation. A request takes the
   * current generation when it arrives and keeps it to its end; a reload swaps in the next one.
   */
  const build = (config: Config): Generation => {
    const trusted = new AddressSet(config.trustedProxies);
    const rt: GatewayRuntime = {
      config,
      logger,
      debug: logger.isLevelEnabled('debug'),
      metrics,
      cache,
      cors: new Cors(config.cors.allowedOrigins),
      trusted,
      geo: new CountryLookup(config.geo),
      access: new AccessLog(logger, config.log.access, trusted, telemetry),
      manifestMemory,
      rewritePool,
    };
    const limiters = new Map<string, DenialLimiter>();
    const zones: ZoneRuntime[] = config.zones.map((zone) => {
      const scheme = schemeForZone(zone.scheme, zone.schemeOptions, { pathTokens: zone.pathTokens });
      redactParam(scheme.params.token);
      return {
        config: zone,
        scheme,
        pool: pools.get(zone, config.timeouts),
        shareManifests: zone.cache.livePlaylists && zone.forwardHeaders.length === 0,
        policy: denialLimiters.policy(zone.name, zone.policy, limiters),
      };
    });
    return { rt, zones, router: new ZoneRouter(zones), limiters };
  };
  let current = build(config);
  denialLimiters.adopt(current.limiters);
  describeZones(current.zones);
  let closing = false;

  /**
   * Every request passes here first. Only origin-form targets are served (RFC 9112 §3.2.1): an
   * absolute-form target (`GET http://evil/x`, which Node hands over as req.url), a `//host` path or a
   * fragment (never part of a request target) is refused before anything else, and so is a Host that
   * is not one plain `host[:port]`. Media requests go straight to the proxy; true means the request is
   * for the `/_streamgate/` surface, which the caller hands to express.
   */
  const frontDoor = (req: IncomingMessage, res: ServerResponse): boolean => {
    const { rt, router } = current;
    const started = performance.now();
    const id = requestId(req);
    rt.access.begin(req, res, id, started);
    res.setHeader('x-request-id', id);
    if (closing) res.setHeader('connection', 'close');
    rt.cors.apply(req, res);
    const target = req.url ?? '';
    if (target.charCodeAt(0) !== 0x2f || target.charCodeAt(1) === 0x2f || target.includes('#')) {
      sendText(res, 400, 'request target');
      logDenial(rt, res, '-', 400, 'target', 'not an origin-form target');
      return false;
    }
    const host = requestHost(req);
    if (host === undefined) {
      sendText(res, 400, 'host');
      logDenial(rt, res, '-', 400, 'host', 'missing, repeated or malformed Host');
      return false;
    }
    if (isReserved(target)) {
      if (!isAuthTarget(target)) return true;
      answerAuth(rt, router, req, res, id);
      return false;
    }
    const method = req.method;
    if (method === 'OPTIONS') {
      rt.cors.preflight(req, res);
      return false;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendText(res, 405, 'method', { allow: ALLOW });
      logDenial(rt, res, '-', 405, 'method', `method ${method}`);
      return false;
    }
    proxyRequest(rt, router, req, res, id, host, started);
    return false;
  };

  /** The `/_streamgate/` surface: health, metrics, and 404 for the rest of the reserved prefix. */
  const surface = express();
  surface.disable('x-powered-by');
  surface.set('etag', false);
  surface.set('query parser', false);
  const collect = options.metricsText ?? (() => metrics.registry.metrics());
  // With an admin listener, metrics and health live there only: the media port is for viewers.
  if (config.admin === undefined) {
    surface.get('/_streamgate/healthz', (_req: Request, res: Response) => {
      if (closing) sendText(res, 503, 'shutting down');
      else {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        res.end('ok');
        noteBytes(res, 2);
      }
    });
    surface.get('/_streamgate/metrics', (_req: Request, res: Response, next: NextFunction) => {
      collect().then((text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
        res.end(text);
        noteBytes(res, Buffer.byteLength(text));
      }, next);
    });
  }
  surface.use((req: Request, res: Response) => {
    const status = req.method === 'GET' || req.method === 'HEAD' ? 404 : 405;
    // Probes of the reserved prefix are counted like any other refusal.
    countAnswer(metrics, res, '-', status, status === 404 ? 'reserved' : 'method');
    sendText(res, status, 'not found');
  });
  surface.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: error, target: redactTarget(req.url ?? '') }, 'request failed');
    if (res.headersSent) res.destroy();
    else sendText(res, 500, 'internal error');
  });

  /**
   * The server's request listener. Media requests do not enter express: measured on the benchmark
   * machine, express 5's per-request setup (prototype swaps, router walk) cost more CPU than the whole
   * proxy exchange, about 200 µs per request.
   */
  const surfaceListener = surface as unknown as (req: IncomingMessage, res: ServerResponse) => void;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (frontDoor(req, res)) surfaceListener(req, res);
  };

  /** The same gateway as one express application, for mounting in an existing express server. */
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (frontDoor(req, res)) next();
  });
  app.use(surface);

  const servers = new Set<Server>();
  const adminServers = new Set<Server>();

  const admin = adminHandler({
    metrics: collect,
    contentType: metrics.registry.contentType,
    healthy: () => !closing,
    begin: (req, res) => current.rt.access.begin(req, res, requestId(req), performance.now()),
    sent: noteBytes,
    failed: (error) => logger.error({ err: error }, 'metrics scrape failed'),
  });

  const listenAdmin = async (address: { host?: string; port?: number } = {}): Promise<ListeningGateway> => {
    if (config.admin === undefined) {
      throw new ConfigError(['admin: not configured; give admin: { port } or --admin-port']);
    }
    const bound = await bindAdmin(
      admin,
      address.host ?? config.admin.host,
      address.port ?? config.admin.port,
    );
    const server = bound.server;
    adminServers.add(server);
    const close = async (): Promise<void> => {
      if (!adminServers.delete(server)) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
    const info = server.address() as AddressInfo;
    return { url: bound.url, port: bound.port, host: info.address, server, close };
  };

  const listen = async (address: { host?: string; port?: number } = {}): Promise<ListeningGateway> => {
    const host = address.host ?? config.listen.host;
    const port = address.port ?? config.listen.port;
    const server = createServer({ requireHostHeader: true }, (req, res) => {
      trackResponse(req, res);
      handle(req, res);
    });
    // A viewer that stops reading keeps an origin connection paused; the idle timeout ends that. It
    // exceeds the origin's own allowances so that a held LL-HLS reload is not cut.
    const { timeouts } = current.rt.config;
    server.timeout = Math.max(timeouts.headersMs, timeouts.bodyMs) + 10_000;
    // A CONNECT or unparseable bytes are answered after the responses still owed on the connection.
    server.on('connect', (req: IncomingMessage, socket: Duplex) => {
      refuseConnect(req, socket);
      const { rt } = current;
      rt.access.outOfBand({
        method: 'CONNECT',
        status: 405,
        reason: 'method',
        ip: clientAddress(req, rt.trusted).ip,
        target: req.url ?? '',
        detail: 'method CONNECT',
      });
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      const status = answerClientError(error, socket);
      if (status === undefined) return;
      const peer = (socket as Socket).remoteAddress;
      current.rt.access.outOfBand({
        status,
        reason: 'malformed',
        ip: peer === undefined ? undefined : canonicalIp(peer),
        detail: `not an HTTP request (${error.code ?? 'parse error'})`,
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    servers.add(server);
    const bound = server.address() as AddressInfo;
    const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : bound.address;
    const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${bound.port}`;
    return { url, port: bound.port, host: bound.address, server, close: () => stopServer(server) };
  };

  const stopServer = async (server: Server): Promise<void> => {
    if (!servers.delete(server)) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, current.rt.config.shutdownGraceMs);
      timer.unref();
    });
    // Keep-alive connections whose last response just ended are idle now: close them as they appear.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    await Promise.race([closed, grace]);
    clearInterval(sweep);
    clearTimeout(timer);
    server.closeAllConnections();
    await closed;
  };

  const close = async (): Promise<void> => {
    closing = true;
    await Promise.all([...servers].map((server) => stopServer(server)));
    // The admin listener goes last: healthz says 503 while the media port drains.
    for (const server of adminServers) server.closeAllConnections();
    await Promise.all([...adminServers].map((server) => new Promise((resolve) => server.close(resolve))));
    adminServers.clear();
    await pools.destroyAll();
    await rewritePool.close();
    cache.clear();
  };

  const reload = (input: Config | ConfigInput): ReloadResult => {
    if (closing) return { ok: false, problems: ['the gateway is shutting down'] };
    let next: Config;
    if (isValidatedConfig(input)) next = input;
    else {
      const result = resolveConfig(input);
      if (!result.ok) return { ok: false, problems: result.problems };
      next = result.config;
    }
    const running = current.rt.config;
    const { config: effective, restartNeeded } = effectiveConfig(running, next);
    // The level first: the generation reads it (debug lines, whether access lines are written).
    const level = logger.level;
    if (options.logger === undefined) logger.level = effective.log.level;
    let generation: Generation;
    try {
      generation = build(effective);
    } catch (error) {
      logger.level = level;
      pools.discardExcept(running);
      if (error instanceof ConfigError) return { ok: false, problems: error.problems };
      throw error;
    }
    const changes = describeChanges(running, effective);
    current = generation;
    denialLimiters.adopt(generation.limiters);
    describeZones(generation.zones);
    const idle = Math.max(effective.timeouts.headersMs, effective.timeouts.bodyMs) + 10_000;
    for (const server of servers) server.timeout = idle;
    // Requests of the old generation may still send to a retired pool until its timeouts have run.
    pools.retireUnused(effective, 2 * idle);
    return { ok: true, restartNeeded, changes };
  };

  return {
    app,
    handle,
    get config() {
      return current.rt.config;
    },
    metrics,
    logger,
    listen,
    listenAdmin,
    reload,
    close,
  };
}
