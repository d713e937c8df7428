/**
 * Gateway throughput against the same origin reached directly, and against nginx with secure_link
 * (the Gcore formula, token-formats.md §F) as the peer to beat — all in one run, each server in its own
 * process, autocannon in this one. Figures, not assertions.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { signUrl } from '../src/index.js';
import { table } from './measure.js';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  throughput: { average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECRET = 'bench-secret-key';
const SMALL = 1024;
const LARGE = 1024 * 1024;

export interface GatewayBenchRow {
  readonly file: '1 KiB' | '1 MiB';
  readonly target:
    'origin' | 'bare Node proxy' | 'streamgate' | 'streamgate, 2 workers' | 'nginx secure_link';
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly megabytesPerSecond: number;
  /** CPU time of the serving processes (all of a cluster's) per request, µs; Linux only. */
  readonly cpuMicrosPerRequest: number | undefined;
  readonly errors: number;
}

export interface GatewayBenchReport {
  readonly rows: readonly GatewayBenchRow[];
  /** streamgate ÷ origin: req/s on 1 KiB (target ≥ 0.5), throughput on 1 MiB (target ≥ 0.8). */
  readonly ratios: { readonly smallRequests: number; readonly largeThroughput: number };
  readonly table: string;
}

export interface GatewayBenchOptions {
  /** Seconds per measured slice. */
  readonly seconds?: number;
  /**
   * Rounds of slices, targets interleaved (origin, streamgate, nginx, origin, …); each figure is the
   * median over the rounds, so that load from other processes on a shared machine hits all alike.
   */
  readonly rounds?: number;
  /** Compiled sources to run the gateway from (default: the package's dist/). */
  readonly distDir?: string;
  readonly log?: (line: string) => void;
}

// A fast static origin: both files served from memory by node:http, keep-alive.
const ORIGIN = `
const http = require('node:http');
const small = Buffer.alloc(${SMALL}, 0x61);
const large = Buffer.alloc(${LARGE}, 0x47);
const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  const body = path === '/media/small.bin' ? small : path === '/media/segment.ts' ? large : undefined;
  if (!body) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'content-type': path.endsWith('.ts') ? 'video/mp2t' : 'application/octet-stream', 'content-length': body.length, 'cache-control': 'max-age=60' });
  res.end(body);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log('PORT ' + server.address().port));
`;

/**
 * The floor of the stack the gateway is built on: Node's HTTP server and undici's `dispatch`, bytes
 * passed through, no token check, no header filtering, no metrics. What it costs, streamgate cannot
 * go below; what streamgate costs on top of it is the product's own work.
 */
const BARE_PROXY = (undiciPath: string, originUrl: string): string => `
const http = require('node:http');
const { Pool } = require(${JSON.stringify(undiciPath)});
const pool = new Pool(${JSON.stringify(originUrl)}, { pipelining: 1, keepAliveTimeout: 4000 });
const server = http.createServer((req, res) => {
  pool.dispatch({ path: req.url, method: req.method, headers: {} }, {
    onRequestStart() {},
    onResponseStart(controller, status, headers) {
      res.writeHead(status, { 'content-type': headers['content-type'], 'content-length': headers['content-length'] });
    },
    onResponseData(controller, chunk) { if (!res.write(chunk)) { controller.pause(); res.once('drain', () => controller.resume()); } },
    onResponseEnd() { res.end(); },
    onResponseError() { res.destroy(); },
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log('PORT ' + server.address().port));
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Starts a child and resolves with the first stdout line matching `pattern`. */
async function startChild(
  command: string,
  args: string[],
  pattern: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout! });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    lines.on('line', (line) => {
      const found = pattern.exec(line);
      if (found) resolve(found);
    });
    child.once('exit', (code) =>
      reject(new Error(`${command} exited with ${code}: ${stderr.slice(0, 500)}`)),
    );
  });
  return { child, match };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

function nginxConfig(dir: string, port: number, originPort: number): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream origin { server 127.0.0.1:${originPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      secure_link $arg_md5,$arg_expires;
      secure_link_md5 "$secure_link_expires$uri ${SECRET}";
      if ($secure_link = "") { return 403; }
      if ($secure_link = "0") { return 410; }
      proxy_pass http://origin$uri;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffers 16 64k;
      proxy_buffer_size 64k;
      proxy_busy_buffers_size 128k;
      proxy_max_temp_file_size 0;
    }
  }
}
`;
}

/** CPU time (user + system) of processes so far, in µs; undefined where /proc is not available. */
function cpuMicros(pids: number | readonly number[] | undefined): number | undefined {
  if (pids === undefined) return undefined;
  let total = 0;
  for (const pid of typeof pids === 'number' ? [pids] : pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      // utime and stime, in clock ticks of 10 ms (USER_HZ is 100 on Linux).
      total += (Number(fields[11]) + Number(fields[12])) * 10_000;
    } catch {
      return undefined;
    }
  }
  return total;
}

/** The processes a process started (a cluster's workers). */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  return spawnSync('pgrep', ['-P', String(pid)])
    .stdout.toString()
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map(Number);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

export async function runGatewayBench(options: GatewayBenchOptions = {}): Promise<GatewayBenchReport> {
  const seconds = options.seconds ?? 5;
  const rounds = options.rounds ?? 3;
  const log = options.log ?? ((line: string) => console.log(line));
  const distDir = options.distDir ?? join(root, 'dist');
  const main = join(distDir, 'cli', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first`);

  const children: ChildProcess[] = [];
  const scratch = mkdtempSync(join(tmpdir(), 'streamgate-bench-'));
  try {
    const origin = await startChild(process.execPath, ['-e', ORIGIN], /^PORT (\d+)$/);
    children.push(origin.child);
    const originUrl = `http://127.0.0.1:${origin.match[1]}`;

    const undiciPath = createRequire(import.meta.url).resolve('undici');
    const bare = await startChild(
      process.execPath,
      ['-e', BARE_PROXY(undiciPath, originUrl)],
      /^PORT (\d+)$/,
    );
    children.push(bare.child);
    const bareUrl = `http://127.0.0.1:${bare.match[1]}`;

    const runner =
      'const { main } = await import(process.argv[1]); process.exitCode = await main(process.argv.slice(2));';
    const startGateway = async (
      extra: string[],
      ready: RegExp,
    ): Promise<{ child: ChildProcess; url: string }> => {
      const started = await startChild(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          runner,
          main,
          'serve',
          '--origin',
          originUrl,
          '--scheme',
          'gcore',
          '--secret',
          SECRET,
          '--port',
          '0',
          ...extra,
        ],
        ready,
      );
      children.push(started.child);
      return { child: started.child, url: started.match[1] ?? '' };
    };
    const gateway = await startGateway([], /"url":"(http:\/\/[^"]+)"/);
    const gatewayUrl = gateway.url;

    // The same gateway as two worker processes on one port (serve --workers 2).
    const clustered = await startGateway(['--workers', '2'], /"role":"primary".*"url":"(http:\/\/[^"]+)"/);
    const clusteredUrl = clustered.url;
    const clusteredPids = [clustered.child.pid ?? 0, ...childPids(clustered.child.pid)];

    let nginxUrl: string | undefined;
    let nginxWorker: number | undefined;
    const nginxBinary = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path));
    if (nginxBinary !== undefined) {
      const port = await freePort();
      writeFileSync(join(scratch, 'nginx.conf'), nginxConfig(scratch, port, Number(origin.match[1])));
      const check = spawnSync(nginxBinary, [
        '-t',
        '-p',
        scratch,
        '-e',
        join(scratch, 'error.log'),
        '-c',
        join(scratch, 'nginx.conf'),
      ]);
      if (check.status === 0) {
        const nginx = spawn(
          nginxBinary,
          [
            '-p',
            scratch,
            '-e',
            join(scratch, 'error.log'),
            '-c',
            join(scratch, 'nginx.conf'),
            '-g',
            'daemon off;',
          ],
          {
            stdio: 'ignore',
          },
        );
        children.push(nginx);
        for (let i = 0; i < 50; i += 1) {
          if (
            await fetch(`http://127.0.0.1:${port}/`).then(
              () => true,
              () => false,
            )
          )
            break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        nginxUrl = `http://127.0.0.1:${port}`;
        // The worker process serves; the master only supervises.
        nginxWorker = childPids(nginx.pid)[0];
      } else log(`nginx skipped: ${check.stderr.toString().trim().split('\n').pop()}`);
    } else log('nginx skipped: not installed');

    const expires = Math.floor(Date.now() / 1000) + 3600;
    const rows: GatewayBenchRow[] = [];
    for (const [file, path, connections] of [
      ['1 KiB', '/media/small.bin', 50],
      ['1 MiB', '/media/segment.ts', 10],
    ] as const) {
      const signed = signUrl(path, { scheme: 'gcore', secret: SECRET, expires });
      const targets: Array<[GatewayBenchRow['target'], string, number | readonly number[] | undefined]> = [
        ['origin', `${originUrl}${path}`, origin.child.pid],
        ['bare Node proxy', `${bareUrl}${signed}`, bare.child.pid],
        ['streamgate', `${gatewayUrl}${signed}`, gateway.child.pid],
        ['streamgate, 2 workers', `${clusteredUrl}${signed}`, clusteredPids],
      ];
      if (nginxUrl !== undefined) targets.push(['nginx secure_link', `${nginxUrl}${signed}`, nginxWorker]);
      for (const [target, url] of targets) {
        const check = await fetch(url);
        const length = (await check.arrayBuffer()).byteLength;
        if (check.status !== 200 || length !== (file === '1 KiB' ? SMALL : LARGE)) {
          throw new Error(`${target} answered ${check.status} with ${length} bytes for ${path}`);
        }
        await autocannon({ url, connections, duration: 2 });
      }
      const slices = new Map<string, AutocannonResult[]>();
      const cpu = new Map<string, number[]>();
      for (let round = 0; round < rounds; round += 1) {
        for (const [target, url, pid] of targets) {
          const before = cpuMicros(pid);
          const result = await autocannon({ url, connections, duration: seconds });
          const after = cpuMicros(pid);
          slices.set(target, [...(slices.get(target) ?? []), result]);
          if (before !== undefined && after !== undefined && result.requests.total > 0) {
            cpu.set(target, [...(cpu.get(target) ?? []), (after - before) / result.requests.total]);
          }
        }
      }
      for (const [target] of targets) {
        const results = slices.get(target) ?? [];
        const cpuFigures = cpu.get(target);
        rows.push({
          file,
          target,
          requestsPerSecond: median(results.map((r) => r.requests.average)),
          p50Ms: median(results.map((r) => r.latency.p50)),
          p99Ms: median(results.map((r) => r.latency.p99)),
          megabytesPerSecond: median(results.map((r) => r.throughput.average / 1048576)),
          cpuMicrosPerRequest: cpuFigures && cpuFigures.length > 0 ? median(cpuFigures) : undefined,
          errors: results.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0),
        });
        log(
          `  ${file} ${target}: ${Math.round(rows[rows.length - 1]?.requestsPerSecond ?? 0)} req/s (median of ${rounds})`,
        );
      }
    }

    const find = (file: GatewayBenchRow['file'], target: GatewayBenchRow['target']) =>
      rows.find((row) => row.file === file && row.target === target);
    const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || !b ? NaN : a / b);
    const percent = (a: number | undefined, b: number | undefined) => `${(ratio(a, b) * 100).toFixed(0)} %`;
    const ratios = {
      smallRequests: ratio(
        find('1 KiB', 'streamgate')?.requestsPerSecond,
        find('1 KiB', 'origin')?.requestsPerSecond,
      ),
      largeThroughput: ratio(
        find('1 MiB', 'streamgate')?.megabytesPerSecond,
        find('1 MiB', 'origin')?.megabytesPerSecond,
      ),
    };
    const text = table(
      rows.map((row) => {
        const base = find(row.file, 'origin');
        const share =
          row.file === '1 KiB'
            ? ratio(row.requestsPerSecond, base?.requestsPerSecond)
            : ratio(row.megabytesPerSecond, base?.megabytesPerSecond);
        return {
          file: row.file,
          target: row.target,
          'req/s': Math.round(row.requestsPerSecond),
          'p50 ms': row.p50Ms,
          'p99 ms': row.p99Ms,
          'MiB/s': row.megabytesPerSecond,
          'CPU µs/req': row.cpuMicrosPerRequest === undefined ? '—' : Math.round(row.cpuMicrosPerRequest),
          'vs origin': row.target === 'origin' ? '—' : `${(share * 100).toFixed(0)} %`,
          errors: row.errors,
        };
      }),
    );
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const summary =
      `${text}\n\n${cpus().length} × ${cpu}; autocannon in the bench process, origin, bare proxy, streamgate (one process, and a primary with 2 workers) and nginx ` +
      `(1 worker) in their own; 1 KiB: 50 connections, 1 MiB: 10 connections; medians of ${rounds} interleaved ` +
      `${seconds}-second slices after a 2 s warm-up; CPU µs/req is the serving process's own CPU time.\n` +
      `streamgate / origin: ${(ratios.smallRequests * 100).toFixed(0)} % of req/s on 1 KiB (target ≥ 50 %), ` +
      `${(ratios.largeThroughput * 100).toFixed(0)} % of throughput on 1 MiB (target ≥ 80 %).\n` +
      `bare Node proxy / origin (the ceiling of a Node HTTP server + undici on this machine): ` +
      `${percent(find('1 KiB', 'bare Node proxy')?.requestsPerSecond, find('1 KiB', 'origin')?.requestsPerSecond)} ` +
      `on 1 KiB, ` +
      `${percent(find('1 MiB', 'bare Node proxy')?.megabytesPerSecond, find('1 MiB', 'origin')?.megabytesPerSecond)} ` +
      `on 1 MiB.`;
    log(summary);
    return { rows, ratios, table: summary };
  } finally {
    await Promise.all(children.map((child) => stop(child)));
    rmSync(scratch, { recursive: true, force: true });
  }
}

export interface CoalescingReport {
  readonly viewers: number;
  readonly seconds: number;
  readonly viewerRequests: number;
  readonly originFetches: number;
  /** Cache windows in the run: seconds ÷ (target duration ÷ 2). */
  readonly windows: number;
  readonly table: string;
}

/**
 * Issue 4: origin fetches per viewer request for concurrent viewers of one live variant. Each viewer
 * reloads the media playlist every target duration, at its own phase; the origin takes 50 ms to answer.
 * Gateway and origin run in this process: the figure is a count, not a speed.
 */
export async function runCoalescingBench(
  options: { viewers?: number; seconds?: number; log?: (line: string) => void } = {},
): Promise<CoalescingReport> {
  const viewers = options.viewers ?? 200;
  const seconds = options.seconds ?? 10;
  const log = options.log ?? ((line: string) => console.log(line));
  const targetDuration = 2;
  const { createServer: createHttpServer } = await import('node:http');
  const { createGateway } = await import('../src/gateway/index.js');
  const { request } = await import('undici');

  let originFetches = 0;
  const started = Date.now();
  const origin = createHttpServer((_req, res) => {
    originFetches += 1;
    const sequence = Math.floor((Date.now() - started) / (targetDuration * 1000));
    const lines = ['#EXTM3U', `#EXT-X-TARGETDURATION:${targetDuration}`, `#EXT-X-MEDIA-SEQUENCE:${sequence}`];
    for (let n = sequence; n < sequence + 5; n += 1) lines.push(`#EXTINF:${targetDuration},`, `seg-${n}.ts`);
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
      res.end(`${lines.join('\n')}\n`);
    }, 50);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  const gateway = createGateway(
    {
      log: { level: 'warn' },
      zones: [{ name: 'live', origin: originUrl, scheme: 'gcore', secrets: [SECRET] }],
    },
    { defaultMetrics: false },
  );
  const listening = await gateway.listen({ host: '127.0.0.1', port: 0 });
  let viewerRequests = 0;
  try {
    const deadline = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: viewers }, async (_, i) => {
        const path = signUrl('/live/ch1/chunklist.m3u8', {
          scheme: 'gcore',
          secret: SECRET,
          ttl: 600 + i,
          dir: true,
        });
        await new Promise((resolve) => setTimeout(resolve, Math.random() * targetDuration * 1000));
        while (Date.now() < deadline) {
          const res = await request(`${listening.url}${path}`);
          await res.body.text();
          viewerRequests += 1;
          await new Promise((resolve) => setTimeout(resolve, targetDuration * 1000));
        }
      }),
    );
  } finally {
    await gateway.close();
    origin.closeAllConnections();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
  }
  const windows = seconds / (targetDuration / 2);
  const text = table([
    {
      viewers,
      seconds,
      'viewer requests': viewerRequests,
      'origin fetches': originFetches,
      'fetches per viewer request': originFetches / viewerRequests,
      'fetches per window': originFetches / windows,
    },
  ]);
  const summary = `${text}\n\nOne live media playlist (target duration ${targetDuration} s, cache window ${targetDuration / 2} s); each viewer reloads every ${targetDuration} s at its own phase.`;
  log(summary);
  return { viewers, seconds, viewerRequests, originFetches, windows, table: summary };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const distDir = process.env.STREAMGATE_DIST;
  runGatewayBench({ ...(distDir ? { distDir } : {}) })
    .then(() => runCoalescingBench())
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
