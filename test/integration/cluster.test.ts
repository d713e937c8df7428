import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerExecArgv } from '../../src/cli/cluster.js';
import { signUrl } from '../../src/index.js';
import { DEFAULT_MEDIA_ROOT, startOrigin, type Origin } from '../helpers/origin.js';

// `serve --workers N` through the real CLI: a primary and N worker processes on one port, in front of a
// real origin. What must hold: requests spread over the workers and are checked by each; the metrics
// endpoint counts every worker's requests whichever worker answers the scrape; a worker that dies is
// replaced; SIGTERM stops them all; a worker that cannot start stops the primary instead of a restart loop.

const cli = new URL('../../bin/streamgate.js', import.meta.url).pathname;
const SECRET = 'cluster-test-key';
const SEGMENT = '/vod-ts-aes/seg_000.ts';
const segmentBytes = readFileSync(`${DEFAULT_MEDIA_ROOT}vod-ts-aes/seg_000.ts`);
/** A zone whose origin is never reached: for runs that stop before any request. */
const UNUSED_ZONE = ['--origin', 'http://127.0.0.1:9', '--scheme', 'gcore', '--secret', 'k'];

interface LogLine {
  readonly msg?: string;
  readonly role?: string;
  readonly worker?: number;
  readonly pid?: number;
  readonly url?: string;
  readonly adminUrl?: string;
  readonly workers?: number;
  readonly status?: number;
}

interface Cluster {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  readonly stderr: () => string;
  /** Resolves with the first log line (already seen or still to come) that passes the test. */
  waitFor(test: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

function startCluster(args: string[], env: NodeJS.ProcessEnv = {}): Cluster {
  const child = spawn('node', [cli, 'serve', ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      return;
    }
    for (const wake of [...waiters]) wake();
  });
  const waitFor = (test: (line: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = lines.find(test);
        if (found === undefined) return false;
        clearTimeout(timer);
        waiters.splice(waiters.indexOf(wake), 1);
        resolve(found);
        return true;
      };
      const wake = (): void => void check();
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(wake), 1);
        reject(new Error(`no such log line within ${timeoutMs} ms; stderr: ${stderr.slice(0, 500)}`));
      }, timeoutMs);
      waiters.push(wake);
      check();
    });
  return { child, lines, stderr: () => stderr, waitFor };
}

/** GET over a connection of its own (Connection: close), so that consecutive requests can meet different workers. */
function get(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const ok200 = 'streamgate_requests_total{zone="default",status="200",reason="ok"}';
const invalid403 = 'streamgate_requests_total{zone="default",status="403",reason="invalid"}';

describe('serve --workers 2: one port, two gateway processes', () => {
  let origin: Origin;
  let cluster: Cluster;
  let base = '';
  const signed = (): string =>
    signUrl(SEGMENT, { scheme: 'gcore', secret: SECRET, expires: Math.floor(Date.now() / 1000) + 600 });

  beforeAll(async () => {
    origin = await startOrigin();
    cluster = startCluster([
      '--workers',
      '2',
      '--origin',
      origin.url,
      '--scheme',
      'gcore',
      '--secret',
      SECRET,
      '--port',
      '0',
      '--log-level',
      'debug',
    ]);
    const ready = await cluster.waitFor(
      (line) => line.role === 'primary' && line.msg?.startsWith('listening') === true,
    );
    expect(ready.workers).toBe(2);
    base = ready.url ?? '';
  }, 30_000);

  afterAll(async () => {
    if (cluster.child.exitCode === null) {
      cluster.child.kill('SIGKILL');
      await once(cluster.child, 'exit');
    }
    await origin.close();
  });

  it('both workers listen on the one port the primary announces', () => {
    const workers = cluster.lines.filter(
      (line) => line.msg?.startsWith('listening on') && line.worker !== undefined,
    );
    expect(new Set(workers.map((line) => line.worker))).toEqual(new Set([1, 2]));
    expect(new Set(workers.map((line) => line.url))).toEqual(new Set([base]));
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
  });

  it('spreads requests over the workers, each checking the token; bad tokens never reach the origin', async () => {
    origin.clearRequests();
    for (let i = 0; i < 20; i += 1) {
      const answer = await get(`${base}${signed()}`);
      expect(answer.status).toBe(200);
      expect(answer.body.equals(segmentBytes)).toBe(true);
    }
    const tampered = signed().replace(/md5=./, (match) => (match.endsWith('A') ? 'md5=B' : 'md5=A'));
    expect((await get(`${base}${tampered}`)).status).toBe(403);
    expect(origin.hits(SEGMENT)).toBe(20);
    // The access line is written when the response closes: possibly just after the client has it.
    const served = (): LogLine[] =>
      cluster.lines.filter((line) => line.msg === 'access' && line.status === 200);
    await cluster.waitFor(() => served().length >= 20);
    const proxiedBy = served().map((line) => line.worker);
    expect(proxiedBy).toHaveLength(20);
    expect(new Set(proxiedBy)).toEqual(new Set([1, 2]));
  });

  it('answers /_streamgate/metrics with every worker counted, whichever worker is asked', async () => {
    for (let i = 0; i < 4; i += 1) {
      const answer = await get(`${base}/_streamgate/metrics`);
      expect(answer.status).toBe(200);
      const text = answer.body.toString('utf8');
      expect(metricValue(text, ok200)).toBe(20);
      expect(metricValue(text, invalid403)).toBe(1);
    }
  });

  it('replaces a worker that dies, and keeps serving', async () => {
    const victim = cluster.lines.find((line) => line.msg?.startsWith('listening on') && line.worker === 1);
    expect(victim?.pid).toBeGreaterThan(0);
    process.kill(victim!.pid!, 'SIGKILL');
    await cluster.waitFor((line) => line.role === 'primary' && line.msg === 'worker died; starting another');
    await cluster.waitFor((line) => line.msg?.startsWith('listening on') === true && line.worker === 3);
    for (let i = 0; i < 4; i += 1) expect((await get(`${base}${signed()}`)).status).toBe(200);
  });

  it('stops every worker gracefully on SIGTERM and exits 0', async () => {
    const exited = once(cluster.child, 'exit');
    cluster.child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    const stopped = cluster.lines.filter((line) => line.msg === 'stopped');
    expect(new Set(stopped.map((line) => line.worker ?? line.role))).toEqual(new Set([2, 3, 'primary']));
  }, 20_000);
});

describe('serve --workers 2 --admin-port: the primary serves metrics and health for the cluster', () => {
  it('metrics on the admin port sum every worker; the media port answers 404 for them; SIGTERM stops all', async () => {
    const origin = await startOrigin();
    const cluster = startCluster([
      '--workers',
      '2',
      '--origin',
      origin.url,
      '--scheme',
      'gcore',
      '--secret',
      SECRET,
      '--port',
      '0',
      '--admin-port',
      '0',
    ]);
    try {
      const admin = await cluster.waitFor((line) => line.role === 'primary' && line.adminUrl !== undefined);
      const ready = await cluster.waitFor(
        (line) => line.role === 'primary' && line.msg?.startsWith('listening') === true,
      );
      const media = ready.url ?? '';
      const adminUrl = admin.adminUrl ?? '';
      expect(adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
      const signed = signUrl(SEGMENT, { scheme: 'gcore', secret: SECRET, ttl: 600 });
      for (let i = 0; i < 10; i += 1) expect((await get(`${media}${signed}`)).status).toBe(200);
      const served = (): LogLine[] =>
        cluster.lines.filter((line) => line.msg === 'access' && line.status === 200);
      await cluster.waitFor(() => served().length >= 10);
      expect(new Set(served().map((line) => line.worker))).toEqual(new Set([1, 2]));
      expect((await get(`${media}/_streamgate/metrics`)).status).toBe(404);
      expect((await get(`${media}/_streamgate/healthz`)).status).toBe(404);
      const metrics = await get(`${adminUrl}/_streamgate/metrics`);
      expect(metrics.status).toBe(200);
      expect(metricValue(metrics.body.toString('utf8'), ok200)).toBe(10);
      expect((await get(`${adminUrl}/_streamgate/healthz`)).status).toBe(200);
      const exited = once(cluster.child, 'exit');
      cluster.child.kill('SIGTERM');
      expect(((await exited) as [number | null])[0]).toBe(0);
      await expect(get(`${adminUrl}/_streamgate/healthz`)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      if (cluster.child.exitCode === null) cluster.child.kill('SIGKILL');
      await origin.close();
    }
  }, 30_000);
});

describe('serve --workers: bad settings and workers that cannot start', () => {
  it('refuses --workers 0 and a non-number, and a bad STREAMGATE_WORKERS, naming the setting', () => {
    const common = ['serve', ...UNUSED_ZONE, '--check'];
    for (const value of ['0', 'two', '-1', '1.5']) {
      const result = spawnSync('node', [cli, ...common, `--workers=${value}`], { encoding: 'utf8' });
      expect(result.status, value).toBe(2);
      expect(result.stderr).toContain('--workers must be a number of processes 1–256 or auto');
    }
    const fromEnv = spawnSync('node', [cli, ...common], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, STREAMGATE_WORKERS: 'many' },
    });
    expect(fromEnv.status).toBe(2);
    expect(fromEnv.stderr).toContain('STREAMGATE_WORKERS: must be a number of processes or auto');
    const tooMany = spawnSync('node', [cli, ...common, '--workers', '999'], { encoding: 'utf8' });
    expect(tooMany.status).toBe(2);
    expect(tooMany.stderr).toContain('workers: must be a number of processes 1–256, or auto');
    const auto = spawnSync('node', [cli, ...common, '--workers', 'auto'], { encoding: 'utf8' });
    expect(auto.status).toBe(0);
    const cpus = availableParallelism();
    if (cpus > 1) expect(auto.stdout).toContain(`, ${cpus} worker processes`);
    else expect(auto.stdout).not.toContain('worker processes');
  });

  it('stops with status 1, not a restart loop, when the workers cannot listen', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const cluster = startCluster(['--workers', '2', ...UNUSED_ZONE, '--port', String(port)]);
      const [code] = (await once(cluster.child, 'exit')) as [number | null];
      expect(code).toBe(1);
      expect(cluster.lines.some((line) => line.msg === 'worker failed to start; stopping')).toBe(true);
      expect(cluster.lines.filter((line) => line.msg === 'worker died; starting another')).toHaveLength(0);
    } finally {
      blocker.close();
    }
  }, 30_000);
});

describe('workerExecArgv: the Node options a worker is started with', () => {
  it("keeps the primary's options but not those that name the code to run", () => {
    expect(workerExecArgv(['--max-old-space-size=512', '--enable-source-maps'])).toEqual([
      '--max-old-space-size=512',
      '--enable-source-maps',
    ]);
    expect(
      workerExecArgv([
        '--input-type=module',
        '-e',
        'run()',
        '--max-old-space-size=512',
        '--eval=x',
        '-p',
        'y',
      ]),
    ).toEqual(['--max-old-space-size=512']);
    expect(workerExecArgv(['--input-type', 'module', '--print=1', '--trace-warnings'])).toEqual([
      '--trace-warnings',
    ]);
  });
});
