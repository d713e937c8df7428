import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { askPrimaryForMetrics, type ClusterMessage } from './cluster.js';
import { serveConfig, startFailure, startServe } from './serve.js';
import { StartupError } from './startup.js';
import { UsageError, type Io } from './usage.js';

const io: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
};

/**
 * The entry point of one `serve --workers N` worker (forked by the primary with the same arguments).
 * It reads the configuration again — the same flags, file and environment give the same result —
 * so no key material passes between processes.
 */
async function runWorker(argv: string[]): Promise<number> {
  // SIGINT from a terminal reaches the whole process group; the primary relays it as SIGTERM.
  process.on('SIGINT', () => {});
  // Reloads come from the primary once this worker listens; until then SIGHUP must not end it.
  process.on('SIGHUP', () => {});
  const parsed = serveConfig(argv, io);
  if ('help' in parsed) return 0;
  const running = await startServe(parsed.config, {
    signals: ['SIGTERM'],
    // The primary serves the admin listener for the whole cluster, and watches the files.
    admin: false,
    watch: false,
    source: parsed.source,
    onReload: (result) => {
      const report: ClusterMessage = result.ok
        ? { type: 'streamgate:reloaded', ok: true }
        : { type: 'streamgate:reloaded', ok: false, problems: result.problems };
      if (process.connected) process.send?.(report);
    },
    gateway: {
      logFields: { worker: cluster.worker?.id ?? 0, pid: process.pid },
      metricsText: askPrimaryForMetrics(),
    },
  });
  // prom-client answers the primary's requests for this worker's figures from the gateway's registry.
  AggregatorRegistry.setRegistries(running.gateway.metrics.registry);
  new AggregatorRegistry();
  // A primary that is gone cannot relay signals any more: stop as on SIGTERM.
  process.on('disconnect', () => void running.stop());
  process.send?.({ type: 'streamgate:listening', url: running.listening.url });
  return running.done;
}

runWorker(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    if (process.connected) process.disconnect();
  },
  (error: unknown) => {
    // The primary prints the one line for the whole gateway (every worker would say the same).
    const failure = startFailure(error);
    const known = failure instanceof StartupError || failure instanceof UsageError;
    const message = failure instanceof Error ? failure.message : String(failure);
    const exitCode = failure instanceof StartupError ? failure.exitCode : known ? 2 : 70;
    process.exitCode = exitCode;
    if (process.send === undefined || !process.connected) {
      io.err(`streamgate worker: ${message}`);
      return;
    }
    const report: ClusterMessage = {
      type: 'streamgate:failed',
      message: known ? message : `internal error in a worker: ${message}`,
      exitCode,
    };
    process.send(report, undefined, undefined, () => {
      if (process.connected) process.disconnect();
    });
  },
);
