import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerExecArgv } from '../../src/cli/cluster.js';
import { signUrl } from '../../src/index.js';
import { DEFAULT_MEDIA_ROOT, startOrigin, type Origin } from '../helpers/origin.js';
import {
  CLI,
  getOnce as get,
  startServeProcess as startCluster,
  type LogLine,
  type ServeProcess as Cluster,
} from '../helpers/serve-process.js';

// `serve --workers N` through the real CLI: a primary and N worker processes on one port, in front of a
// real origin. What must hold: requests spread over the workers and are checked by each; the metrics
// endpoint counts every worker's requests whichever worker answers the scrape; a worker that dies is
// replaced; SIGTERM stops them all; a worker that cannot start stops the primary instead of a restart loop.
// Every wait is for an event (a log line, an exit), never a fixed time: these run on loaded machines.

const SECRET = 'cluster-test-key';
const SEGMENT = '/vod-ts-aes/seg_000.ts';
const segmentBytes = readFileSync(`${DEFAULT_MEDIA_ROOT}vod-ts-aes/seg_000.ts`);
/** A zone whose origin is never reached: for runs that stop before any request. */
const UNUSED_ZONE = ['--origin', 'http://127.0.0.1:9', '--scheme', 'gcore', '--secret', 'k'];

/** The command's exit status and output, run to its end without blocking the test process. */
function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn('node', [CLI, ...args], { env: { PATH: process.env.PATH, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
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
  }, 60_000);

  afterAll(async () => {
    await cluster.kill();
    await origin.close();
  });

  it('both workers listen on the one port the primary announces', async () => {
    // Each worker's own line may come after the primary's: they write to the pipe independently.
    for (const id of [1, 2]) {
      await cluster.waitFor((line) => line.msg?.startsWith('listening on') === true && line.worker === id);
    }
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

  it('replaces a worker that dies, and keeps serving', { timeout: 60_000 }, async () => {
    const victim = cluster.lines.find((line) => line.msg?.startsWith('listening on') && line.worker === 1);
    expect(victim?.pid).toBeGreaterThan(0);
    process.kill(victim!.pid!, 'SIGKILL');
    await cluster.waitFor((line) => line.role === 'primary' && line.msg === 'worker died; starting another');
    await cluster.waitFor((line) => line.msg?.startsWith('listening on') === true && line.worker === 3);
    for (let i = 0; i < 4; i += 1) expect((await get(`${base}${signed()}`)).status).toBe(200);
  });

  it('stops every worker gracefully on SIGTERM and exits 0', { timeout: 60_000 }, async () => {
    cluster.child.kill('SIGTERM');
    expect(await cluster.closed).toBe(0);
    const stopped = cluster.lines.filter((line) => line.msg === 'stopped');
    expect(new Set(stopped.map((line) => line.worker ?? line.role))).toEqual(new Set([2, 3, 'primary']));
  });
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
      cluster.child.kill('SIGTERM');
      expect(await cluster.closed).toBe(0);
      await expect(get(`${adminUrl}/_streamgate/healthz`)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await cluster.kill();
      await origin.close();
    }
  }, 60_000);
});

describe('serve --workers: bad settings and workers that cannot start', () => {
  it(
    'refuses --workers 0 and a non-number, and a bad STREAMGATE_WORKERS, naming the setting',
    { timeout: 60_000 },
    async () => {
      const common = ['serve', ...UNUSED_ZONE, '--check'];
      const values = ['0', 'two', '-1', '1.5'];
      // Seven processes at once: run one after another, they took most of a 20 s budget on a loaded machine.
      const [fromEnv, tooMany, auto, ...bad] = await Promise.all([
        runCli(common, { STREAMGATE_WORKERS: 'many' }),
        runCli([...common, '--workers', '999']),
        runCli([...common, '--workers', 'auto']),
        ...values.map((value) => runCli([...common, `--workers=${value}`])),
      ]);
      bad.forEach((result, index) => {
        expect(result.status, values[index]).toBe(2);
        expect(result.stderr).toContain('--workers must be a number of processes 1–256 or auto');
      });
      expect(fromEnv.status).toBe(2);
      expect(fromEnv.stderr).toContain('STREAMGATE_WORKERS: must be a number of processes or auto');
      expect(tooMany.status).toBe(2);
      expect(tooMany.stderr).toContain('workers: must be a number of processes 1–256, or auto');
      expect(auto.status).toBe(0);
      const cpus = availableParallelism();
      if (cpus > 1) expect(auto.stdout).toContain(`, ${cpus} worker processes`);
      else expect(auto.stdout).not.toContain('worker processes');
    },
  );

  it('stops with status 1, not a restart loop, when the workers cannot listen', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const cluster = startCluster(['--workers', '2', ...UNUSED_ZONE, '--port', String(port)]);
      expect(await cluster.closed).toBe(1);
      expect(cluster.lines.some((line) => line.msg === 'worker failed to start; stopping')).toBe(true);
      expect(cluster.lines.filter((line) => line.msg === 'worker died; starting another')).toHaveLength(0);
    } finally {
      blocker.close();
    }
  }, 60_000);
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
