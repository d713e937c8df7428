/**
 * `/_streamgate/metrics` answered anyone who could reach the media port: zone names, request counts per
 * status and reason, origin latencies — a map of the service for whoever asks. With an admin listener
 * (`admin: { host, port }`, `serve --admin-port N`) metrics and health are served there only, and the
 * media port answers 404 for them, like any other reserved path, without ever asking an origin.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, signed, startGateway, TestOrigin, SECRET } from '../integration/support.js';

const cli = new URL('../../bin/streamgate.js', import.meta.url).pathname;

let origin: TestOrigin;
let releaseSlow: () => void = () => {};
const slowHeld = new Promise<void>((resolve) => (releaseSlow = resolve));

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file('/videos/seg-1.ts', { body: 'segment', type: 'video/mp2t' });
  origin.route('/videos/slow.ts', (_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': '20' });
    res.write('0123456789');
    // The second half waits for the test: the stream is in flight for as long as it needs.
    void slowHeld.then(() => res.end('0123456789'));
  });
});
afterAll(async () => {
  await origin.close();
});

describe('admin listener (library)', () => {
  it('serves metrics and health; the media port answers 404 for both and never asks the origin', async () => {
    const gw = await startGateway(origin.url, {}, { admin: { host: '127.0.0.1', port: 0 } });
    const admin = await gw.gateway.listenAdmin();
    try {
      expect((await httpGet(gw.url, signed('/videos/seg-1.ts'))).status).toBe(200);
      origin.reset();
      for (const path of ['/_streamgate/metrics', '/_streamgate/healthz', '/_streamgate/metrics?x=1']) {
        const res = await httpGet(gw.url, path);
        expect(res.status, path).toBe(404);
        expect(res.body.toString(), path).not.toContain('streamgate_');
      }
      expect(origin.requests).toHaveLength(0);

      const metrics = await httpGet(admin.url, '/_streamgate/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(metrics.body.toString()).toContain(
        'streamgate_requests_total{zone="test",status="200",reason="ok"} 1',
      );
      expect(metrics.body.toString()).toContain(
        'streamgate_requests_total{zone="-",status="404",reason="reserved"} 3',
      );
      const health = await httpGet(admin.url, '/_streamgate/healthz');
      expect([health.status, health.body.toString()]).toEqual([200, 'ok']);
    } finally {
      await gw.close();
    }
  });

  it('the admin port serves nothing else: no media, no proxying, 405 for other methods', async () => {
    const gw = await startGateway(origin.url, {}, { admin: { host: '127.0.0.1', port: 0 } });
    const admin = await gw.gateway.listenAdmin();
    try {
      origin.reset();
      expect((await httpGet(admin.url, signed('/videos/seg-1.ts'))).status).toBe(404);
      expect((await httpGet(admin.url, '/_streamgate/nope')).status).toBe(404);
      expect((await httpGet(admin.url, '/_streamgate/metrics', {}, 'POST')).status).toBe(405);
      expect(origin.requests).toHaveLength(0);
    } finally {
      await gw.close();
    }
  });

  it('healthz on the admin port says 503 while the media port drains on shutdown', async () => {
    const gw = await startGateway(
      origin.url,
      {},
      { admin: { host: '127.0.0.1', port: 0 }, shutdownGraceMs: 3000 },
    );
    const admin = await gw.gateway.listenAdmin();
    const stream = await request(`${gw.url}${signed('/videos/slow.ts')}`);
    const closing = gw.close();
    const health = await httpGet(admin.url, '/_streamgate/healthz');
    expect(health.status).toBe(503);
    releaseSlow();
    expect(await stream.body.text()).toBe('01234567890123456789');
    await closing;
  });

  it('refuses to bind an admin listener the configuration does not have', async () => {
    const gw = await startGateway(origin.url);
    try {
      await expect(gw.gateway.listenAdmin()).rejects.toThrow(/admin: not configured/);
      // Without one, the media port keeps serving them (as before).
      expect((await httpGet(gw.url, '/_streamgate/healthz')).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});

describe('serve --admin-port (real CLI)', () => {
  it('announces both listeners; metrics and health on the admin port only; SIGTERM exits 0', async () => {
    const child = spawn(
      'node',
      [
        cli,
        'serve',
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
      ],
      { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const lines: Array<Record<string, unknown>> = [];
      const ready = new Promise<void>((resolve) => {
        createInterface({ input: child.stdout! }).on('line', (text) => {
          lines.push(JSON.parse(text) as Record<string, unknown>);
          if (
            lines.some((line) => line.adminUrl !== undefined) &&
            lines.some((line) => line.url !== undefined)
          ) {
            resolve();
          }
        });
      });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await Promise.race([
        ready,
        once(child, 'exit').then(() => {
          throw new Error(`serve exited before listening: ${stderr}`);
        }),
      ]);
      const media = String(lines.find((line) => line.url !== undefined)?.url);
      const adminUrl = String(lines.find((line) => line.adminUrl !== undefined)?.adminUrl);
      expect(adminUrl).not.toBe(media);
      expect((await httpGet(media, signed('/videos/seg-1.ts'))).status).toBe(200);
      expect((await httpGet(media, '/_streamgate/metrics')).status).toBe(404);
      const metrics = await httpGet(adminUrl, '/_streamgate/metrics');
      expect(metrics.body.toString()).toContain(
        'streamgate_requests_total{zone="default",status="200",reason="ok"} 1',
      );
      expect((await httpGet(adminUrl, '/_streamgate/healthz')).status).toBe(200);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);

  it(
    '--check shows the admin listener; a bad --admin-port or STREAMGATE_ADMIN_PORT is refused',
    { timeout: 60_000 },
    () => {
      const zone = ['--origin', 'http://127.0.0.1:9', '--scheme', 'gcore', '--secret', 'k'];
      const check = spawnSync('node', [cli, 'serve', ...zone, '--admin-port', '9090', '--check'], {
        encoding: 'utf8',
      });
      expect(check.status).toBe(0);
      expect(check.stdout).toContain('admin 127.0.0.1:9090 (metrics and health; not on the media port)');
      const bad = spawnSync('node', [cli, 'serve', ...zone, '--admin-port', '99999', '--check'], {
        encoding: 'utf8',
      });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('--admin-port must be a port number 0–65535');
      const env = spawnSync('node', [cli, 'serve', ...zone, '--check'], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, STREAMGATE_ADMIN_PORT: 'x' },
      });
      expect(env.status).toBe(2);
      expect(env.stderr).toContain('STREAMGATE_ADMIN_PORT: must be a port number');
    },
  );
});
