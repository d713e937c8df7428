/**
 * The event loop serves every viewer: no request may hold it. An 8 MB MPD and a 10,000-segment
 * playlist are rewritten through the real gateway while the loop's delay is measured (perf_hooks
 * monitorEventLoopDelay); rewritten on the loop, the MPD alone held it for seconds.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configOrThrow } from '../../src/config/index.js';
import { createGateway, type Gateway, type ListeningGateway } from '../../src/gateway/index.js';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { segmentListMpd, vodPlaylist } from '../helpers/hostile-manifests.js';
import { SECRET, signed } from './support.js';

let origin: Origin;
let gateway: Gateway;
let listening: ListeningGateway;

beforeAll(async () => {
  origin = await startOrigin();
  const mpd = segmentListMpd(8_000_000);
  const playlist = vodPlaylist(10_000);
  origin.route('/big/list.mpd', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/dash+xml' });
    res.end(mpd);
  });
  origin.route('/big/vod.m3u8', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
    res.end(playlist);
  });
  const config = configOrThrow({
    log: { level: 'silent' },
    zones: [{ name: 'test', origin: origin.url, scheme: 'gcore', secrets: [SECRET], tokens: 'mint' }],
  });
  // Process metrics on, as in production: the loop's delay is exported.
  gateway = createGateway(config, { defaultMetrics: true });
  listening = await gateway.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await gateway.close();
  await origin.close();
});

/** Status and size of a response, the body dropped as it comes. */
function fetchSize(path: string): Promise<{ status: number; bytes: number }> {
  const { hostname, port } = new URL(listening.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('event-loop delay while large manifests are rewritten', () => {
  it('stays far below a rewrite’s duration for an 8 MB MPD and a 10,000-segment playlist', async () => {
    // The first large manifest starts the rewrite thread; measured from the second on.
    await fetchSize(signed('/big/vod.m3u8'));
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const started = performance.now();
    const [mpd, playlist] = await Promise.all([
      fetchSize(signed('/big/list.mpd')),
      fetchSize(signed('/big/vod.m3u8')),
    ]);
    const elapsed = performance.now() - started;
    delay.disable();
    expect(mpd.status).toBe(200);
    expect(mpd.bytes).toBeGreaterThan(8_000_000);
    expect(playlist.status).toBe(200);
    const p99 = delay.percentile(99) / 1e6;
    const max = delay.max / 1e6;
    console.log(
      `event-loop delay over ${elapsed.toFixed(0)} ms: p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms`,
    );
    // On the event loop the MPD's rewrite alone took 2–8 s. What remains here is the origin's and the
    // client's own work in this process (encoding and receiving 8–16 MB) and the copy of the result; the
    // bound leaves room for a loaded 2-core CI machine.
    expect(max).toBeLessThan(750);
    expect(p99).toBeLessThan(750);
  }, 60_000);

  it('is exported with its p99 (streamgate_nodejs_eventloop_lag_p99_seconds)', async () => {
    const response = await fetchText('/_streamgate/metrics');
    const p99 = /^streamgate_nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(response)?.[1];
    expect(p99).toBeDefined();
    expect(Number(p99)).toBeGreaterThan(0);
    expect(response).toMatch(/^streamgate_nodejs_eventloop_lag_max_seconds \S+$/m);
  });
});

function fetchText(path: string): Promise<string> {
  const { hostname, port } = new URL(listening.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
