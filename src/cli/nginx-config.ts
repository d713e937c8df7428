import { chmodSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { nginxConfig } from '../nginx/config.js';
import { configFromFlags, SERVE_OPTIONS } from './serve.js';
import { asUsage, UsageError, type Io } from './usage.js';

export const NGINX_CONFIG_HELP = `Usage: streamgate nginx-config [serve flags | --config FILE] --listen HOST:PORT
                              --gateway URL [--gateway URL]... --prefix DIR
                              [--worker-processes N|auto] [--cache-size SIZE] [--output FILE]

Prints a complete nginx configuration for a front in which nginx moves the bytes and the gateways are
the brain: manifests go to the gateways (one live playlist per instance, the next one on failure);
segments are checked by nginx secure_link (KeyCDN and Gcore zones: file, directory and path tokens,
every key) or by the gateways' /_streamgate/auth (other schemes), and proxied to the zone's origin
through a cache. Run it unprivileged with: nginx -p DIR -c DIR/nginx.conf

  --listen HOST:PORT     where the front listens, e.g. 0.0.0.0:8088 or [::]:8088
  --gateway URL          a streamgate instance, e.g. http://127.0.0.1:8080 (repeatable)
  --prefix DIR           absolute directory for pid, logs, temp files, cache and the check socket
  --worker-processes N   nginx worker processes (default auto: one per CPU)
  --cache-size SIZE      the media cache's limit (default 1g)
  --output FILE          write the configuration to FILE (mode 600: it holds the keys) instead of stdout

The zones, keys, trusted proxies and CORS come from the same flags, file and environment as
"streamgate serve" (see "streamgate serve --help"). The gateways must list the front's address in
trustedProxies. Example:
  streamgate nginx-config --config config.yaml --listen 0.0.0.0:8088 \\
    --gateway http://10.0.0.11:8080 --gateway http://10.0.0.12:8080 --prefix /srv/front --output /srv/front/nginx.conf`;

function parseListen(value: string | undefined): { host: string; port: number } {
  if (value === undefined) throw new UsageError('--listen HOST:PORT is required, e.g. --listen 0.0.0.0:8088');
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):([0-9]{1,5})$/.exec(value);
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 65_535) {
    throw new UsageError(`--listen must be HOST:PORT with a port 1–65535, e.g. 0.0.0.0:8088, got "${value}"`);
  }
  return { host: match[1] ?? '', port: Number(match[2]) };
}

function packageVersion(): string | undefined {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export function runNginxConfig(argv: string[], io: Io): number {
  const { values, positionals } = asUsage(() =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...SERVE_OPTIONS,
        listen: { type: 'string' },
        gateway: { type: 'string', multiple: true },
        prefix: { type: 'string' },
        'worker-processes': { type: 'string' },
        'cache-size': { type: 'string' },
        output: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    io.out(NGINX_CONFIG_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`nginx-config takes no positional arguments (got "${positionals[0]}")`);
  }
  const listen = parseListen(values.listen);
  if (values.prefix === undefined) throw new UsageError('--prefix DIR is required (an absolute directory)');
  const workers = values['worker-processes'];
  if (workers !== undefined && workers !== 'auto' && !/^[1-9][0-9]{0,2}$/.test(workers)) {
    throw new UsageError(`--worker-processes must be a number 1–999 or auto, got "${workers}"`);
  }
  const cacheSize = values['cache-size'];
  if (cacheSize !== undefined && !/^[1-9][0-9]{0,9}[kKmMgG]?$/.test(cacheSize)) {
    throw new UsageError(`--cache-size must be a size such as 512m or 10g, got "${cacheSize}"`);
  }
  const config = configFromFlags(values, io);
  const result = nginxConfig(config, {
    listen,
    gateways: values.gateway ?? [],
    prefix: values.prefix,
    ...(workers === undefined ? {} : { workerProcesses: workers === 'auto' ? 'auto' : Number(workers) }),
    ...(cacheSize === undefined ? {} : { cacheMaxSize: cacheSize }),
    ...(packageVersion() === undefined ? {} : { version: packageVersion() }),
  });
  if (!result.ok) {
    throw new UsageError(
      `cannot write an nginx configuration (${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}):\n  ${result.problems.join('\n  ')}`,
    );
  }
  for (const warning of result.warnings) io.err(`streamgate nginx-config: warning: ${warning}`);
  if (values.output === undefined) {
    io.out(result.text.replace(/\n$/, ''));
    return 0;
  }
  const file = resolve(values.output);
  try {
    writeFileSync(file, result.text, { mode: 0o600 });
    // An existing file keeps its mode on write: tighten it too.
    chmodSync(file, 0o600);
  } catch (error) {
    throw new UsageError(`cannot write --output ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  io.err(`streamgate nginx-config: wrote ${file}; run: nginx -p ${values.prefix} -c ${file}`);
  return 0;
}
