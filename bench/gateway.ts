/**
 * Gateway throughput, all in one run against one origin — nginx serving files with sendfile, as a
 * fast packager or VOD store would — so every figure has its baseline beside it:
 *
 * - origin: the files fetched directly;
 * - nginx secure_link (the anchor): nginx alone checking the same Gcore tokens (the formula is nginx's
 *   own: ngx_http_secure_link_module) and proxying through the same kind of cache as the front;
 * - nginx front + streamgate: the configuration `streamgate nginx-config` writes, one nginx worker like
 *   the anchor, manifests to one streamgate process, segments checked and moved by nginx;
 * - streamgate alone, `--workers 1` and `--workers auto`;
 * - a bare Node proxy (Node's HTTP server + undici, no checks): the floor of the stack streamgate is
 *   built on, for its CPU per request;
 * - `/_streamgate/auth`: the check alone, as a front proxy's subrequest asks it.
 *
 * The load comes from wrk (or autocannon where wrk is missing) in its own process. Figures, not
 * assertions: on a shared machine they move, so each is a median of interleaved slices.
 * `BENCH_SECONDS` and `BENCH_ROUNDS` set the slices (default 5 s × 3).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer, type AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { configOrThrow } from '../src/config/index.js';
import { signUrl } from '../src/index.js';
import { nginxConfig } from '../src/nginx/config.js';
import { table } from './measure.js';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  throughput: { average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECRET = 'bench-secret-key';
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path));
const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((path) => existsSync(path));

type File = 'playlist' | '1 KiB' | '150 KB segment' | '1 MiB';
type Target =
  | 'origin'
  | 'bare Node proxy'
  | 'nginx secure_link'
  | 'nginx front + streamgate'
  | 'nginx front, directory token'
  | 'streamgate, 1 worker'
  | 'streamgate, auto workers'
  | '/_streamgate/auth';

const FILES: ReadonlyArray<{ file: File; path: string; bytes: number; connections: number }> = [
  { file: 'playlist', path: '/media/live/index.m3u8', bytes: 0, connections: 50 },
  { file: '1 KiB', path: '/media/small.bin', bytes: 1024, connections: 50 },
  { file: '150 KB segment', path: '/media/segment.ts', bytes: 150_000, connections: 20 },
  { file: '1 MiB', path: '/media/large.ts', bytes: 1024 * 1024, connections: 10 },
];

/** A live media playlist as a packager writes it: rewritten per viewer by the gateway (mint). */
const PLAYLIST = [
  '#EXTM3U',
  '#EXT-X-VERSION:3',
  '#EXT-X-TARGETDURATION:2',
  '#EXT-X-MEDIA-SEQUENCE:1000',
  ...Array.from({ length: 6 }, (_, i) => [`#EXTINF:2.000,`, `seg-${1000 + i}.ts`]).flat(),
  '',
].join('\n');

export interface GatewayBenchRow {
  readonly file: File;
  readonly target: Target;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly megabytesPerSecond: number;
  /** CPU time of the serving processes (nginx workers and/or gateways) per request, µs; Linux only. */
  readonly cpuMicrosPerRequest: number | undefined;
  readonly errors: number;
}

export interface GatewayBenchReport {
  readonly rows: readonly GatewayBenchRow[];
  /** nginx front ÷ anchor, req/s, the median of each round's pair: 150 KB segments and 1 MiB (target ≥ 0.9). */
  readonly ratios: { readonly segment: number; readonly large: number };
  readonly table: string;
}

export interface GatewayBenchOptions {
  readonly seconds?: number;
  readonly rounds?: number;
  /** Compiled sources to run the gateway from (default: the package's dist/). */
  readonly distDir?: string;
  readonly log?: (line: string) => void;
}

interface Load {
  readonly requestsPerSecond: number;
  readonly total: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly bytesPerSecond: number;
  readonly errors: number;
}

const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
const SIZES: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

function duration(text: string | undefined): number {
  const match = /^([0-9.]+)(us|ms|s|m)$/.exec(text ?? '');
  return match ? Number(match[1]) * (UNITS[match[2] ?? 'ms'] ?? 1) : NaN;
}

/** wrk with one thread (the machine's cores are for the servers), or autocannon without wrk. */
async function load(
  url: string,
  connections: number,
  seconds: number,
  headers: Record<string, string>,
): Promise<Load> {
  if (WRK === undefined) {
    const result = await autocannon({ url, connections, duration: seconds, headers });
    return {
      requestsPerSecond: result.requests.average,
      total: result.requests.total,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      bytesPerSecond: result.throughput.average,
      errors: result.errors + result.timeouts + result.non2xx,
    };
  }
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  const child = spawn(WRK, [...args, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await once(child, 'exit');
  const requests = /(\d+) requests in/.exec(out);
  const rps = /Requests\/sec:\s+([0-9.]+)/.exec(out);
  const transfer = /Transfer\/sec:\s+([0-9.]+)([KMG]?B)/.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (!rps || !requests) throw new Error(`wrk said:\n${out}`);
  return {
    requestsPerSecond: Number(rps[1]),
    total: Number(requests[1]),
    p50Ms: duration(p50?.[1]),
    p99Ms: duration(p99?.[1]),
    bytesPerSecond: Number(transfer?.[1] ?? 0) * (SIZES[transfer?.[2] ?? 'B'] ?? 1),
    errors: Number(non2xx?.[1] ?? 0) + (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
  };
}

// The floor of the stack streamgate is built on: Node's HTTP server and undici's `dispatch`, bytes
// passed through, no token check, no header filtering, no metrics.
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

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** nginx in the foreground under `prefix` with `conf`; resolves once it listens on `port`. */
async function startNginx(prefix: string, conf: string, port: number): Promise<ChildProcess> {
  if (NGINX === undefined) throw new Error('nginx is not installed: apt-get install -y nginx');
  const check = spawnSync(NGINX, ['-t', '-p', prefix, '-c', conf], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t: ${check.stderr}`);
  const child = spawn(NGINX, ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
  for (let i = 0; !(await listening(port)); i += 1) {
    if (i > 100 || child.exitCode !== null) throw new Error(`nginx did not start on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return child;
}

const TEMP_PATHS = (dir: string) =>
  ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `${kind}_temp_path ${dir}/temp_${kind};`)
    .join('\n  ');

/** The origin: files from disk with sendfile, keep-alive, one worker. */
function originConfig(dir: string, port: number): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  ${TEMP_PATHS(dir)}
  types { video/mp2t ts; application/vnd.apple.mpegurl m3u8; application/octet-stream bin; }
  server {
    listen 127.0.0.1:${port};
    root ${dir}/files;
    location /media/live/ { add_header Cache-Control "max-age=1"; }
    location / { add_header Cache-Control "max-age=60"; }
  }
}
`;
}

/**
 * The anchor: nginx alone, secure_link with the Gcore formula, the same cache and the same I/O settings
 * as the front (sendfile, tcp_nopush), so that front ÷ anchor measures the front's own work.
 */
function anchorConfig(dir: string, port: number, originPort: number): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  ${TEMP_PATHS(dir)}
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=anchor:32m max_size=1g inactive=10m use_temp_path=off;
  upstream origin { server 127.0.0.1:${originPort}; keepalive 64; }
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
      proxy_cache anchor;
      proxy_cache_key $uri;
      proxy_cache_lock on;
      proxy_buffers 16 64k;
      proxy_buffer_size 64k;
      proxy_busy_buffers_size 128k;
    }
  }
}
`;
}

/** CPU time (user + system) of processes so far, in µs; undefined where /proc is not available. */
function cpuMicros(pids: readonly number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
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

/** The processes a process started (nginx's workers, a cluster's workers). */
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

interface Measured {
  readonly target: Target;
  readonly url: string;
  readonly headers?: Record<string, string>;
  /** The serving processes whose CPU is counted. */
  readonly pids: () => number[];
  /** Answers that count as success (the auth endpoint answers 204). */
  readonly status?: number;
}

export async function runGatewayBench(options: GatewayBenchOptions = {}): Promise<GatewayBenchReport> {
  const seconds = options.seconds ?? Number(process.env.BENCH_SECONDS ?? 5);
  const rounds = options.rounds ?? Number(process.env.BENCH_ROUNDS ?? 3);
  const log = options.log ?? ((line: string) => console.log(line));
  const distDir = options.distDir ?? join(root, 'dist');
  const main = join(distDir, 'cli', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first`);
  if (NGINX === undefined) throw new Error('the gateway bench needs nginx: apt-get install -y nginx');

  const children: ChildProcess[] = [];
  const scratch = mkdtempSync(join(tmpdir(), 'streamgate-bench-'));
  // Started as root, nginx runs its workers as nobody, who must reach the files and the cache.
  chmodSync(scratch, 0o755);
  try {
    // The origin's files.
    const dirs = {
      origin: join(scratch, 'origin'),
      anchor: join(scratch, 'anchor'),
      front: join(scratch, 'front'),
    };
    for (const dir of Object.values(dirs)) mkdirSync(dir, { mode: 0o755 });
    mkdirSync(join(dirs.origin, 'files', 'media', 'live'), { recursive: true, mode: 0o755 });
    writeFileSync(join(dirs.origin, 'files', 'media', 'small.bin'), Buffer.alloc(1024, 0x61));
    writeFileSync(join(dirs.origin, 'files', 'media', 'segment.ts'), Buffer.alloc(150_000, 0x47));
    writeFileSync(join(dirs.origin, 'files', 'media', 'large.ts'), Buffer.alloc(1024 * 1024, 0x47));
    writeFileSync(join(dirs.origin, 'files', 'media', 'live', 'index.m3u8'), PLAYLIST);

    const originPort = await freePort();
    writeFileSync(join(dirs.origin, 'nginx.conf'), originConfig(dirs.origin, originPort));
    const origin = await startNginx(dirs.origin, join(dirs.origin, 'nginx.conf'), originPort);
    children.push(origin);
    const originUrl = `http://127.0.0.1:${originPort}`;

    const anchorPort = await freePort();
    writeFileSync(join(dirs.anchor, 'nginx.conf'), anchorConfig(dirs.anchor, anchorPort, originPort));
    const anchor = await startNginx(dirs.anchor, join(dirs.anchor, 'nginx.conf'), anchorPort);
    children.push(anchor);

    const undiciPath = createRequire(import.meta.url).resolve('undici');
    const bare = await startChild(
      process.execPath,
      ['-e', BARE_PROXY(undiciPath, originUrl)],
      /^PORT (\d+)$/,
    );
    children.push(bare.child);

    // One configuration for every gateway: a catch-all Gcore zone, mint, the front trusted.
    const input = {
      log: { level: 'warn' as const },
      trustedProxies: ['127.0.0.1'],
      zones: [
        { name: 'bench', origin: originUrl, scheme: 'gcore', secrets: [SECRET], tokens: 'mint' as const },
      ],
    };
    const configFile = join(scratch, 'config.json');
    writeFileSync(configFile, JSON.stringify(input));
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
          '--config',
          configFile,
          '--port',
          '0',
          '--log-level',
          'info',
          ...extra,
        ],
        ready,
      );
      children.push(started.child);
      return { child: started.child, url: started.match[1] ?? '' };
    };
    const single = await startGateway(['--workers', '1'], /"url":"(http:\/\/[^"]+)"/);
    const clustered = await startGateway(['--workers', 'auto'], /"role":"primary".*"url":"(http:\/\/[^"]+)"/);
    const behindFront = await startGateway(['--workers', '1'], /"url":"(http:\/\/[^"]+)"/);

    const frontPort = await freePort();
    const generated = nginxConfig(configOrThrow(input), {
      listen: { host: '127.0.0.1', port: frontPort },
      gateways: [behindFront.url],
      prefix: dirs.front,
      workerProcesses: 1,
    });
    if (!generated.ok) throw new Error(generated.problems.join('\n'));
    writeFileSync(
      join(dirs.front, 'nginx.conf'),
      generated.text.replace(/access_log \S+ streamgate;/, 'access_log off;'),
    );
    const front = await startNginx(dirs.front, join(dirs.front, 'nginx.conf'), frontPort);
    children.push(front);

    const expires = Math.floor(Date.now() / 1000) + 3600;
    const rows: GatewayBenchRow[] = [];
    const plans: Array<{
      file: File;
      path: string;
      bytes: number;
      connections: number;
      targets: Measured[];
    }> = [];
    for (const { file, path, bytes, connections } of FILES) {
      const signed = signUrl(path, { scheme: 'gcore', secret: SECRET, expires });
      const directory = signUrl(path, { scheme: 'gcore', secret: SECRET, expires, dir: true });
      const targets: Measured[] = [
        { target: 'origin', url: `${originUrl}${path}`, pids: () => childPids(origin.pid) },
      ];
      if (file === '1 KiB') {
        targets.push({
          target: 'bare Node proxy',
          url: `http://127.0.0.1:${bare.match[1]}${path}`,
          pids: () => [bare.child.pid ?? 0],
        });
      }
      if (file !== 'playlist') {
        targets.push({
          target: 'nginx secure_link',
          url: `http://127.0.0.1:${anchorPort}${signed}`,
          pids: () => childPids(anchor.pid),
        });
      }
      const frontPids = () => [...childPids(front.pid), behindFront.child.pid ?? 0];
      targets.push({
        target: 'nginx front + streamgate',
        url: `http://127.0.0.1:${frontPort}${signed}`,
        pids: frontPids,
      });
      if (file === '150 KB segment') {
        targets.push({
          target: 'nginx front, directory token',
          url: `http://127.0.0.1:${frontPort}${directory}`,
          pids: frontPids,
        });
      }
      targets.push(
        {
          target: 'streamgate, 1 worker',
          url: `${single.url}${signed}`,
          pids: () => [single.child.pid ?? 0],
        },
        {
          target: 'streamgate, auto workers',
          url: `${clustered.url}${signed}`,
          pids: () => [clustered.child.pid ?? 0, ...childPids(clustered.child.pid)],
        },
      );
      if (file === '1 KiB') {
        targets.push({
          target: '/_streamgate/auth',
          url: `${single.url}/_streamgate/auth`,
          headers: { 'X-Original-URI': signed, 'X-Forwarded-For': '198.51.100.7' },
          pids: () => [single.child.pid ?? 0],
          status: 204,
        });
      }
      plans.push({ file, path, bytes, connections, targets });
    }

    const perRound = new Map<string, number[]>();
    for (const { file, bytes, connections, targets } of plans) {
      for (const target of targets) {
        const check = await fetch(target.url, { headers: target.headers ?? {} });
        const length = (await check.arrayBuffer()).byteLength;
        const body = target.status === 204 ? 0 : bytes;
        if (check.status !== (target.status ?? 200) || (body > 0 && length !== body)) {
          throw new Error(`${target.target} answered ${check.status} with ${length} bytes for ${file}`);
        }
        await load(target.url, connections, 2, target.headers ?? {});
      }
      const slices = new Map<Target, Load[]>();
      const cpu = new Map<Target, number[]>();
      for (let round = 0; round < rounds; round += 1) {
        // Every other round runs the targets in reverse order, so that neither side of a pair (anchor,
        // front) always runs first after a cache warm-up or a neighbour's burst on a shared machine.
        for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
          const pids = target.pids();
          const before = cpuMicros(pids);
          const result = await load(target.url, connections, seconds, target.headers ?? {});
          const after = cpuMicros(pids);
          slices.set(target.target, [...(slices.get(target.target) ?? []), result]);
          perRound.set(`${file}|${target.target}`, [
            ...(perRound.get(`${file}|${target.target}`) ?? []),
            result.requestsPerSecond,
          ]);
          if (before !== undefined && after !== undefined && result.total > 0) {
            cpu.set(target.target, [...(cpu.get(target.target) ?? []), (after - before) / result.total]);
          }
        }
      }
      for (const { target } of targets) {
        const results = slices.get(target) ?? [];
        const cpuFigures = cpu.get(target);
        rows.push({
          file,
          target,
          requestsPerSecond: median(results.map((r) => r.requestsPerSecond)),
          p50Ms: median(results.map((r) => r.p50Ms)),
          p99Ms: median(results.map((r) => r.p99Ms)),
          megabytesPerSecond: median(results.map((r) => r.bytesPerSecond / 1048576)),
          cpuMicrosPerRequest: cpuFigures && cpuFigures.length > 0 ? median(cpuFigures) : undefined,
          errors: results.reduce((sum, r) => sum + r.errors, 0),
        });
        log(
          `  ${file} ${target}: ${Math.round(rows[rows.length - 1]?.requestsPerSecond ?? 0)} req/s (median of ${rounds})`,
        );
      }
    }

    const find = (file: File, target: Target) =>
      rows.find((row) => row.file === file && row.target === target);
    const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || !b ? NaN : a / b);
    // front ÷ anchor within each round (the two slices run back to back), then the median and range of
    // those: steadier than the ratio of the two medians when the machine's speed drifts between rounds.
    const paired = (file: File) => {
      const fronts = perRound.get(`${file}|nginx front + streamgate`) ?? [];
      const anchors = perRound.get(`${file}|nginx secure_link`) ?? [];
      const each = fronts.map((front, round) => ratio(front, anchors[round]));
      return { median: median(each), low: Math.min(...each), high: Math.max(...each) };
    };
    const pairs = { segment: paired('150 KB segment'), large: paired('1 MiB') };
    const ratios = { segment: pairs.segment.median, large: pairs.large.median };
    const range = (pair: { low: number; high: number }) => `${pair.low.toFixed(2)}–${pair.high.toFixed(2)}`;
    const text = table(
      rows.map((row) => {
        const anchorRow = find(row.file, 'nginx secure_link');
        const originRow = find(row.file, 'origin');
        return {
          file: row.file,
          target: row.target,
          'req/s': Math.round(row.requestsPerSecond),
          'p50 ms': row.p50Ms,
          'p99 ms': row.p99Ms,
          'MiB/s': row.megabytesPerSecond,
          'CPU µs/req': row.cpuMicrosPerRequest === undefined ? '—' : Math.round(row.cpuMicrosPerRequest),
          'vs anchor':
            anchorRow === undefined || row.target === 'origin' || row.target === '/_streamgate/auth'
              ? '—'
              : ratio(row.requestsPerSecond, anchorRow.requestsPerSecond).toFixed(2),
          'vs origin':
            row.target === 'origin'
              ? '—'
              : ratio(row.requestsPerSecond, originRow?.requestsPerSecond).toFixed(2),
          errors: row.errors,
        };
      }),
    );
    const cpuOf = (file: File, target: Target) => {
      const value = find(file, target)?.cpuMicrosPerRequest;
      return value === undefined ? '—' : `${Math.round(value)} µs`;
    };
    const cpuRatio = (file: File) =>
      ratio(
        find(file, 'nginx secure_link')?.cpuMicrosPerRequest,
        find(file, 'nginx front + streamgate')?.cpuMicrosPerRequest,
      ).toFixed(2);
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const summary =
      `${text}\n\n${cpus().length} × ${cpu}; load from ${WRK === undefined ? 'autocannon (in the bench process)' : 'wrk, one thread'}; ` +
      `origin, anchor and front are nginx with one worker each; medians of ${rounds} interleaved ${seconds}-second slices after a 2 s warm-up, every other round in reverse order. ` +
      `CPU µs/req counts the serving processes only: nginx's workers, plus the gateway behind the front; the origin's own row is the origin.\n` +
      `nginx front ÷ anchor, req/s, median of the ${rounds} rounds' pairs (range): ${ratios.segment.toFixed(2)} (${range(pairs.segment)}) on 150 KB segments, ` +
      `${ratios.large.toFixed(2)} (${range(pairs.large)}) on 1 MiB (target ≥ 0.9); ` +
      `both cache, so segments are served from nginx's cache after the first request. ` +
      `CPU per request, anchor ÷ front (the same figure, steadier on a busy machine): ${cpuRatio('150 KB segment')} on 150 KB, ` +
      `${cpuRatio('1 MiB')} on 1 MiB, ${cpuRatio('1 KiB')} on 1 KiB.\n` +
      `Playlists (rewritten per viewer): ${cpuOf('playlist', 'nginx front + streamgate')} per request through the front, ` +
      `${cpuOf('playlist', 'streamgate, 1 worker')} standalone.\n` +
      `/_streamgate/auth: ${Math.round(find('1 KiB', '/_streamgate/auth')?.requestsPerSecond ?? NaN)} req/s at ${cpuOf('1 KiB', '/_streamgate/auth')} per check, ` +
      `against ${cpuOf('1 KiB', 'streamgate, 1 worker')} per proxied 1 KiB request and ${cpuOf('1 KiB', 'bare Node proxy')} for the bare Node proxy.`;
    log(summary);
    return { rows, ratios, table: summary };
  } finally {
    for (const child of [...children].reverse()) await stop(child);
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
 * Origin fetches per viewer request for concurrent viewers of one live variant. Each viewer
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
