import cluster, { type Worker } from 'node:cluster';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry } from 'prom-client';
import { AddressSet, type Config } from '../config/index.js';
import { AccessLog, noteBytes } from '../gateway/access.js';
import { adminHandler, listenAdmin, type AdminListener } from '../gateway/admin.js';
import { requestId } from '../gateway/client.js';
import { createLogger } from '../gateway/log.js';
import { effectiveConfig } from '../gateway/reload.js';
import type { Logger } from '../gateway/log.js';
import { FileWatch, logReload, watchedFiles, type ConfigSource } from './reload.js';
import { ListenerError } from './startup.js';
import type { Io } from './usage.js';

/**
 * `serve --workers N`: one primary process that serves nothing itself, and N workers that each run a
 * whole gateway on the same port (node:cluster hands them the connections in turn). One Node process
 * tops out at one core; this is how the gateway uses the others. Each worker keeps its own live
 * manifest cache, so an origin sees up to N fetches per cache window instead of one.
 */

const WORKER_ENTRY = fileURLToPath(new URL('./worker.js', import.meta.url));

/** Restarts allowed in RESTART_WINDOW_MS before the primary gives up: a worker that keeps dying is a fault. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

export type ClusterMessage =
  | { readonly type: 'streamgate:listening'; readonly url: string }
  /** A worker applied (or refused) a reloaded configuration. */
  | {
      readonly type: 'streamgate:reloaded';
      readonly ok: boolean;
      readonly problems?: readonly string[];
    }
  /** A worker that could not start: the one line the primary prints, and its exit status. */
  | { readonly type: 'streamgate:failed'; readonly message: string; readonly exitCode: number }
  | { readonly type: 'streamgate:metrics'; readonly id: number }
  | {
      readonly type: 'streamgate:metrics-result';
      readonly id: number;
      readonly text?: string;
      readonly error?: string;
    };

export function isClusterMessage(value: unknown): value is ClusterMessage {
  const type = (value as { type?: unknown } | null)?.type;
  return typeof type === 'string' && type.startsWith('streamgate:');
}

/**
 * Runs the primary: forks the workers with the same command-line arguments, restarts one that dies
 * (within limits), answers the workers' requests for cluster-wide metrics, and on SIGTERM/SIGINT has
 * every worker shut down gracefully. Resolves with the exit status.
 *
 * With an admin listener (`admin`, `--admin-port`) the primary itself binds it and answers metrics
 * (every worker's, summed) and health there: one process, so one port, whichever worker is alive;
 * healthz is 503 until a worker listens and once shutdown begins. The workers do not bind it.
 */
export async function runPrimary(
  argv: readonly string[],
  config: Config,
  io: Io,
  source?: ConfigSource,
  overridden: readonly string[] = [],
): Promise<number> {
  const logger = createLogger(config.log.level).child({ role: 'primary' });
  const aggregator = new AggregatorRegistry();
  cluster.setupPrimary({ exec: WORKER_ENTRY, args: [...argv], execArgv: workerExecArgv(process.execArgv) });

  const listening = new Set<number>();
  const restarts: number[] = [];
  let stopping = false;
  let announced = false;
  /** What the first worker that could not start said. */
  let failure: { message: string; exitCode: number } | undefined;
  let finish: (code: number) => void = () => {};
  let adminListener: AdminListener | undefined;
  const done = new Promise<number>((resolve) => {
    finish = (code) => {
      const server = adminListener?.server;
      if (server === undefined) {
        resolve(code);
        return;
      }
      server.closeAllConnections();
      server.close(() => resolve(code));
    };
  });

  if (config.admin !== undefined) {
    // Bound before any worker starts: a port in use stops the gateway before anything serves.
    const access = new AccessLog(logger, config.log.access, new AddressSet(config.trustedProxies));
    const handler = adminHandler({
      metrics: () => aggregator.clusterMetrics(),
      contentType: aggregator.contentType,
      healthy: () => !stopping && listening.size > 0,
      begin: (req, res) => access.begin(req, res, requestId(req), performance.now()),
      sent: noteBytes,
      failed: (error) => logger.error({ err: error }, 'metrics scrape failed'),
    });
    try {
      adminListener = await listenAdmin(handler, config.admin.host, config.admin.port);
    } catch (error) {
      logger.fatal({ code: (error as NodeJS.ErrnoException).code }, 'admin listener cannot start; stopping');
      throw new ListenerError('admin', config.admin.host, config.admin.port, error);
    }
    logger.info({ adminUrl: adminListener.url }, `admin listening on ${adminListener.url}`);
  }

  const live = (): Worker[] =>
    Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);

  const stopAll = (code: number): void => {
    if (stopping) return;
    stopping = true;
    const workers = live();
    if (workers.length === 0) {
      finish(code);
      return;
    }
    for (const worker of workers) worker.process.kill('SIGTERM');
    // Workers bound their own shutdown by shutdownGraceMs; this only covers one that hangs.
    const deadline = setTimeout(() => {
      for (const worker of live()) {
        logger.error({ worker: worker.id }, 'worker did not stop in time; killed');
        worker.process.kill('SIGKILL');
      }
    }, config.shutdownGraceMs + 5000);
    deadline.unref();
    cluster.on('exit', () => {
      if (live().length > 0) return;
      clearTimeout(deadline);
      logger.info('stopped');
      finish(code);
    });
  };

  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isClusterMessage(message)) return;
    if (message.type === 'streamgate:failed') {
      failure ??= { message: message.message, exitCode: message.exitCode };
    } else if (message.type === 'streamgate:reloaded') {
      reloads.answered(worker.id, message.ok);
    } else if (message.type === 'streamgate:listening') {
      listening.add(worker.id);
      if (!announced && listening.size === config.workers) {
        announced = true;
        logger.info({ url: message.url, workers: config.workers }, `listening on ${message.url}`);
        for (const line of overridden) logger.warn({ setting: line }, line);
      }
    } else if (message.type === 'streamgate:metrics') {
      const reply = (result: { text?: string; error?: string }): void => {
        if (worker.isConnected())
          worker.send({ type: 'streamgate:metrics-result', id: message.id, ...result });
      };
      aggregator.clusterMetrics().then(
        (text) => reply({ text }),
        (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
      );
    }
  });

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    const wasListening = listening.delete(worker.id);
    // Its replacement reads the current configuration itself; a reload round does not wait for it.
    reloads.gone(worker.id);
    if (stopping) return;
    if (!wasListening) {
      // It never came up (a bad port, a missing file): every other worker would fail the same way.
      logger.fatal({ worker: worker.id, code, signal }, 'worker failed to start; stopping');
      const said = failure ?? {
        message: `a worker exited with status ${code ?? signal} before listening`,
        exitCode: 1,
      };
      io.err(`streamgate serve: ${said.message}`);
      stopAll(said.exitCode);
      return;
    }
    const now = Date.now();
    restarts.push(now);
    while ((restarts[0] ?? now) < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length > MAX_RESTARTS) {
      logger.fatal(
        { worker: worker.id, code, signal, restarts: restarts.length },
        'workers keep dying; stopping',
      );
      stopAll(1);
      return;
    }
    logger.error({ worker: worker.id, code, signal }, 'worker died; starting another');
    cluster.fork();
  });

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      for (const worker of live()) worker.process.kill('SIGKILL');
      process.exit(1);
    }
    logger.info({ signal, graceMs: config.shutdownGraceMs, workers: live().length }, 'shutting down');
    stopAll(0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  // Reload: the primary reads the configuration first, so an invalid one is reported once and never
  // reaches the workers; a valid one is announced to every listening worker, which reads and applies it
  // itself (keys never pass between processes). A worker started later reads the current files anyway.
  const reloads = new ReloadRound(logger);
  const reload = (why: string): void => {
    if (stopping || source === undefined) return;
    const read = source.load();
    if (!read.ok) {
      logReload(logger, why, { ok: false, problems: read.problems });
      return;
    }
    const { restartNeeded } = effectiveConfig(config, read.config);
    if (restartNeeded.length > 0) {
      logger.warn(
        { source: why, settings: restartNeeded },
        `${restartNeeded.join(', ')} changed: takes effect at the next restart; the running values stay`,
      );
    }
    const targets = live().filter((worker) => listening.has(worker.id));
    reloads.start(
      why,
      targets.map((worker) => worker.id),
    );
    for (const worker of targets) worker.process.kill('SIGHUP');
    watch.follow(read.config);
  };
  const onHangup = (): void => reload('SIGHUP');
  process.on('SIGHUP', onHangup);
  const watch = new PrimaryWatch(source, () => reload('file changed'));
  watch.follow(config);
  void done.then(() => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHangup);
    watch.close();
  });

  for (let i = 0; i < config.workers; i += 1) cluster.fork();
  return done;
}

/**
 * Node options for the workers: the primary's own, except those that say what to run (`-e CODE`,
 * `--input-type`), which would make a worker run the primary's code instead of its entry point.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i += 1) {
    const option = execArgv[i] ?? '';
    if (['-e', '--eval', '-p', '--print', '--input-type'].includes(option)) {
      i += 1;
      continue;
    }
    if (/^(?:--eval|--print|--input-type)=/.test(option)) continue;
    kept.push(option);
  }
  return kept;
}

/** In a worker: the cluster-wide metrics text, asked of the primary. */
export function askPrimaryForMetrics(timeoutMs = 10_000): () => Promise<string> {
  let next = 0;
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  process.on('message', (message: unknown) => {
    if (!isClusterMessage(message) || message.type !== 'streamgate:metrics-result') return;
    const waiting = pending.get(message.id);
    if (waiting === undefined) return;
    pending.delete(message.id);
    if (message.text !== undefined) waiting.resolve(message.text);
    else waiting.reject(new Error(`cluster metrics: ${message.error ?? 'no answer'}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next;
      next += 1;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('cluster metrics: the primary did not answer'));
      }, timeoutMs);
      pending.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      process.send?.({ type: 'streamgate:metrics', id });
    });
}

/** One reload announced to the workers: logs once when every one of them has answered. */
class ReloadRound {
  #waiting = new Set<number>();
  #refused = 0;
  #source = '';

  constructor(readonly logger: Logger) {}

  start(source: string, workers: readonly number[]): void {
    this.#waiting = new Set(workers);
    this.#refused = 0;
    this.#source = source;
    this.logger.info({ source, workers: workers.length }, 'reloading the configuration in every worker');
    // None listening yet: those starting read the current files themselves.
    if (workers.length === 0) this.#finishIfDone();
  }

  gone(worker: number): void {
    if (this.#waiting.delete(worker)) this.#finishIfDone();
  }

  answered(worker: number, ok: boolean): void {
    if (!this.#waiting.delete(worker)) return;
    if (!ok) this.#refused += 1;
    this.#finishIfDone();
  }

  #finishIfDone(): void {
    if (this.#waiting.size > 0) return;
    if (this.#refused === 0)
      this.logger.info({ source: this.#source }, 'configuration reloaded in every worker');
    else
      this.logger.error(
        { source: this.#source, refused: this.#refused },
        'some workers refused the new configuration (see their lines); they keep the running one',
      );
  }
}

/** The primary polls the configuration's files when `reload.watch` says so (the workers do not). */
class PrimaryWatch {
  #watch: FileWatch | undefined;

  constructor(
    readonly source: ConfigSource | undefined,
    readonly changed: () => void,
  ) {}

  follow(config: Config): void {
    const source = this.source;
    if (source === undefined || !config.reload.watch) {
      this.close();
      return;
    }
    if (this.#watch?.intervalMs !== config.reload.intervalMs) {
      this.#watch?.close();
      this.#watch = new FileWatch(config.reload.intervalMs, this.changed);
    }
    this.#watch.set(watchedFiles(config, source));
  }

  close(): void {
    this.#watch?.close();
    this.#watch = undefined;
  }
}
