/**
 * Large manifests under load, through a gateway in a child process of its own (its memory and event
 * loop measured alone): the event-loop delay while 8 MB MPDs are rewritten, how long other viewers
 * wait meanwhile, and the peak resident memory for 40 concurrent 8 MB manifests with the default
 * limits (limits.manifestMemoryBytes 256 MiB, rewrite threads of 768 MB heap each).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { rewriteDash } from '../src/manifest/dash/index.js';
import { signUrl } from '../src/index.js';
import { segmentListMpd, playlistOfSize, vodPlaylist } from '../test/helpers/hostile-manifests.js';
import { table } from './measure.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECRET = 'bench-secret-key';

const ORIGIN = (dir: string): string => `
const http = require('node:http');
const fs = require('node:fs');
const files = {
  '/big/list.mpd': [fs.readFileSync(${JSON.stringify(join(dir, 'list.mpd'))}), 'application/dash+xml'],
  '/big/huge.m3u8': [fs.readFileSync(${JSON.stringify(join(dir, 'huge.m3u8'))}), 'application/vnd.apple.mpegurl'],
  '/small/index.m3u8': [fs.readFileSync(${JSON.stringify(join(dir, 'small.m3u8'))}), 'application/vnd.apple.mpegurl'],
};
http.createServer((req, res) => {
  const file = files[req.url.split('?')[0]];
  if (!file) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'content-type': file[1], 'content-length': file[0].length });
  res.end(file[0]);
}).listen(0, '127.0.0.1', function () { console.log('PORT ' + this.address().port); });
`;

const GATEWAY = (distDir: string, origin: string): string => `
const { createGateway } = await import(${JSON.stringify(join(distDir, 'gateway', 'index.js'))});
const gateway = createGateway({
  log: { level: 'error' },
  zones: [{ name: 'bench', origin: ${JSON.stringify(origin)}, scheme: 'gcore', secrets: [${JSON.stringify(SECRET)}], tokens: 'mint' }],
});
const listening = await gateway.listen({ host: '127.0.0.1', port: 0 });
console.log('URL ' + listening.url);
`;

async function startChild(args: string[], pattern: RegExp): Promise<{ child: ChildProcess; found: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const found = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = pattern.exec(line);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code}: ${stderr.slice(0, 500)}`)));
  });
  return { child, found };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** Resident memory of a process from /proc (Linux): now, and the high-water mark since it started. */
function residentMb(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

function get(base: string, path: string): Promise<{ status: number; bytes: number; ms: number }> {
  const { hostname, port } = new URL(base);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const signed = (path: string): string =>
  signUrl(path, { scheme: 'gcore', secret: SECRET, ttl: 3600 } as Parameters<typeof signUrl>[1]);

function metric(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

export interface ManifestLoadOptions {
  /** Compiled sources to run the gateway from (default: the package's dist/). */
  readonly distDir?: string;
  readonly log?: (line: string) => void;
}

export async function runManifestLoadBench(options: ManifestLoadOptions = {}): Promise<string> {
  const log = options.log ?? ((line: string) => console.log(line));
  const distDir = options.distDir ?? join(root, 'dist');
  if (!existsSync(join(distDir, 'gateway', 'index.js')))
    throw new Error(`${distDir}: run "npm run build" first`);
  const scratch = mkdtempSync(join(tmpdir(), 'streamgate-manifest-bench-'));
  const mpd = segmentListMpd(8_000_000);
  writeFileSync(join(scratch, 'list.mpd'), mpd);
  writeFileSync(join(scratch, 'huge.m3u8'), playlistOfSize(7_900_000));
  writeFileSync(join(scratch, 'small.m3u8'), vodPlaylist(20));
  const children: ChildProcess[] = [];
  const rows: Array<Record<string, string | number>> = [];
  try {
    // On the event loop, as before rewrite threads: the loop is held for the whole rewrite.
    const manifestUrl = new URL(signed('/big/list.mpd'), 'http://127.0.0.1');
    const started = performance.now();
    rewriteDash(mpd, {
      manifestUrl,
      tokenize: () => ({
        kind: 'query',
        params: [
          ['md5', 'x'],
          ['expires', '1'],
        ],
      }),
    });
    const inlineMs = performance.now() - started;
    rows.push({
      measure: 'one 8 MB MPD rewritten on the event loop (this process, no gateway)',
      'loop delay p99 ms': '—',
      'loop delay max ms': inlineMs,
      'other viewers p99 ms': inlineMs,
      'peak RSS MB': '—',
      statuses: '—',
    });

    const origin = await startChild(['-e', ORIGIN(scratch)], /^PORT (\d+)$/);
    children.push(origin.child);
    const originUrl = `http://127.0.0.1:${origin.found}`;
    const startGateway = async (): Promise<{ child: ChildProcess; url: string }> => {
      const started = await startChild(
        ['--input-type=module', '-e', GATEWAY(distDir, originUrl)],
        /^URL (\S+)$/,
      );
      children.push(started.child);
      return { child: started.child, url: started.found };
    };

    // Event-loop delay of the gateway while 8 MB MPDs are rewritten one after another, with a viewer
    // asking for a small playlist every 20 ms.
    {
      const gateway = await startGateway();
      await get(gateway.url, signed('/big/list.mpd'));
      await get(gateway.url, '/_streamgate/metrics');
      let running = true;
      const small: number[] = [];
      const viewer = (async () => {
        while (running) {
          small.push((await get(gateway.url, signed('/small/index.m3u8'))).ms);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      const statuses: number[] = [];
      for (let i = 0; i < 5; i += 1) statuses.push((await get(gateway.url, signed('/big/list.mpd'))).status);
      running = false;
      await viewer;
      const metrics = await new Promise<string>((resolve, reject) => {
        const { hostname, port } = new URL(gateway.url);
        httpRequest({ hostname, port, path: '/_streamgate/metrics', agent: false }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      rows.push({
        measure: '5 × 8 MB MPD through the gateway, one at a time',
        'loop delay p99 ms': metric(metrics, 'streamgate_nodejs_eventloop_lag_p99_seconds'),
        'loop delay max ms': metric(metrics, 'streamgate_nodejs_eventloop_lag_max_seconds'),
        'other viewers p99 ms': percentile(small, 99),
        'peak RSS MB': residentMb(gateway.child.pid!)?.peak ?? NaN,
        statuses: statuses.join(' '),
      });
      log(`  event loop: ${JSON.stringify(rows[rows.length - 1])}`);
      await stop(gateway.child);
    }

    // 40 concurrent 8 MB manifests against a fresh gateway: its peak resident memory.
    for (const [name, path] of [
      ['40 concurrent 8 MB MPDs', '/big/list.mpd'],
      ['40 concurrent 7.9 MB playlists', '/big/huge.m3u8'],
    ] as const) {
      const gateway = await startGateway();
      const before = residentMb(gateway.child.pid!);
      let running = true;
      const small: number[] = [];
      const viewer = (async () => {
        while (running) {
          small.push((await get(gateway.url, signed('/small/index.m3u8'))).ms);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      const responses = await Promise.all(Array.from({ length: 40 }, () => get(gateway.url, signed(path))));
      running = false;
      await viewer;
      const after = residentMb(gateway.child.pid!);
      const count = (status: number): number => responses.filter((r) => r.status === status).length;
      rows.push({
        measure: `${name} (RSS before ${before?.rss.toFixed(0) ?? '?'} MB)`,
        'loop delay p99 ms': '—',
        'loop delay max ms': '—',
        'other viewers p99 ms': percentile(small, 99),
        'peak RSS MB': after?.peak ?? NaN,
        statuses: `${count(200)} × 200, ${count(503)} × 503, ${responses.length - count(200) - count(503)} other`,
      });
      log(`  ${JSON.stringify(rows[rows.length - 1])}`);
      await stop(gateway.child);
    }
  } finally {
    for (const child of children) await stop(child);
    rmSync(scratch, { recursive: true, force: true });
  }
  return table(rows);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const distDir = process.argv[2];
  console.log(await runManifestLoadBench(distDir === undefined ? {} : { distDir }));
}
