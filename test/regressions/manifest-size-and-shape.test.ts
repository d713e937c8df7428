/**
 * A hostile or broken origin that serves manifests shaped to exhaust the gateway: nesting that made
 * the DASH rewriter's memory grow with the square of the depth (100,000 nested BaseURLs killed the
 * process), 8 MB documents that held the event loop for seconds, and many of them at once with no
 * ceiling on the memory they took. Each case goes through the real gateway from a real origin on
 * 127.0.0.1, and the gateway must answer everyone else meanwhile.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import {
  longBaseUrlChainMpd,
  manyAttributesMpd,
  nestedBaseUrlMpd,
  playlistOfSize,
  segmentListMpd,
  variableBombPlaylist,
  vodPlaylist,
  wideMpd,
} from '../helpers/hostile-manifests.js';
import { httpGet, signed, startGateway } from '../integration/support.js';

const DASH = 'application/dash+xml';
const HLS = 'application/vnd.apple.mpegurl';

let origin: Origin;
const bodies = new Map<string, { type: string; body: string }>();

beforeAll(async () => {
  origin = await startOrigin();
  const serve = (path: string, type: string, body: string): void => {
    bodies.set(path, { type, body });
  };
  serve('/attack/nested-baseurl.mpd', DASH, nestedBaseUrlMpd(100_000));
  serve(
    '/attack/nested-mixed.mpd',
    DASH,
    nestedBaseUrlMpd(100_000, ['Period', 'AdaptationSet', 'SegmentList']),
  );
  serve('/attack/long-chain.mpd', DASH, longBaseUrlChainMpd(250, 4000));
  serve('/attack/attributes.mpd', DASH, manyAttributesMpd(200_000));
  serve('/attack/wide.mpd', DASH, wideMpd(5000));
  serve('/attack/variables.m3u8', HLS, variableBombPlaylist(1 << 20, 2000));
  serve('/big/list.mpd', DASH, segmentListMpd(8_000_000));
  serve('/big/vod.m3u8', HLS, vodPlaylist(10_000));
  serve('/big/huge.m3u8', HLS, playlistOfSize(7_900_000));
  serve('/small/index.m3u8', HLS, vodPlaylist(20));
  origin.route(
    (_req, path) => bodies.has(path),
    (_req, res, ctx) => {
      const { type, body } = bodies.get(ctx.record.path)!;
      res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
  );
}, 60_000);

afterAll(async () => {
  await origin.close();
});

interface Counted {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly bytes: number;
  /** Occurrences of `marker` in the body (counted across chunk boundaries). */
  readonly markers: number;
}

/** GET that counts the body instead of keeping it (a test of memory must not hold 16 MB bodies). */
function countedGet(base: string, path: string, marker = 'md5='): Promise<Counted> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, agent: false }, (res) => {
      let bytes = 0;
      let markers = 0;
      let carry = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => {
        bytes += chunk.length;
        const text = carry + chunk;
        for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, at + marker.length)) {
          markers += 1;
        }
        carry = text.slice(Math.max(0, text.length - marker.length + 1));
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, markers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('manifests that exceed a safety limit are answered 502 with one log line', () => {
  const logs: string[] = [];
  let gateway: Awaited<ReturnType<typeof startGateway>>;

  beforeAll(async () => {
    gateway = await startGateway(origin.url, { tokens: 'mint' }, {}, logs);
  });
  afterAll(async () => {
    await gateway.close();
  });

  const refusals = (): Array<Record<string, unknown>> =>
    logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === 'manifest exceeds a safety limit; refused');

  it.each([
    [
      '100,000 Periods nested, each with a BaseURL (3.8 MB; killed the process)',
      '/attack/nested-baseurl.mpd',
      'depth',
    ],
    ['100,000 levels through Period, AdaptationSet and SegmentList', '/attack/nested-mixed.mpd', 'depth'],
    [
      '250 nested 4,000-character BaseURLs (within the depth limit, 125 M characters resolved)',
      '/attack/long-chain.mpd',
      'expansion',
    ],
    ['a 1 MiB HLS variable named 2,000 times in one URI', '/attack/variables.m3u8', 'expansion'],
  ])(
    '%s',
    async (_name, path, limit) => {
      const before = refusals().length;
      const target = signed(path);
      const response = await httpGet(gateway.url, target);
      expect(response.status).toBe(502);
      expect(response.body.toString()).toContain('manifest exceeds a safety limit');
      const lines = refusals().slice(before);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 'warn', status: 502, limit });
      // Nothing of the token reaches the log line.
      const token = new URL(target, 'http://x').searchParams.get('md5')!;
      expect(JSON.stringify(lines[0])).not.toContain(token);
      // The gateway is alive and serves the next viewer.
      const next = await httpGet(gateway.url, signed('/small/index.m3u8'));
      expect(next.status).toBe(200);
    },
    60_000,
  );

  it('counts elements against limits.manifestMaxElements', async () => {
    const strict = await startGateway(
      origin.url,
      { tokens: 'mint' },
      { limits: { manifestMaxElements: 1000 } },
    );
    try {
      const response = await httpGet(strict.url, signed('/attack/wide.mpd'));
      expect(response.status).toBe(502);
      const fine = await httpGet(gateway.url, signed('/attack/wide.mpd'));
      expect(fine.status).toBe(200);
    } finally {
      await strict.close();
    }
  });

  it('reads a start tag of 200,000 attributes in linear time (duplicate checks were quadratic)', async () => {
    const started = performance.now();
    const response = await httpGet(gateway.url, signed('/attack/attributes.mpd'));
    expect(response.status).toBe(200);
    // Quadratic, this was 2·10¹⁰ comparisons: minutes.
    expect(performance.now() - started).toBeLessThan(20_000);
  }, 60_000);
});

describe('large honest manifests are rewritten in full', () => {
  let gateway: Awaited<ReturnType<typeof startGateway>>;

  beforeAll(async () => {
    gateway = await startGateway(origin.url, { tokens: 'mint' });
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('an 8 MB SegmentList MPD: every SegmentURL gets its token', async () => {
    const segments = bodies.get('/big/list.mpd')!.body.match(/<SegmentURL /g)!.length;
    const response = await countedGet(gateway.url, signed('/big/list.mpd'));
    expect(response.status).toBe(200);
    expect(response.markers).toBe(segments + 1);
  }, 60_000);

  it('a 10,000-segment playlist and a 7.9 MB one: every URI gets its token', async () => {
    const [vod, huge] = await Promise.all([
      countedGet(gateway.url, signed('/big/vod.m3u8')),
      countedGet(gateway.url, signed('/big/huge.m3u8')),
    ]);
    expect(vod.status).toBe(200);
    expect(vod.markers).toBe(10_002);
    expect(huge.status).toBe(200);
    const uris = bodies.get('/big/huge.m3u8')!.body.match(/\.m4s\n/g)!.length + 2;
    expect(huge.markers).toBe(uris);
  }, 60_000);
});

describe('many concurrent 8 MB manifests', () => {
  it('stay within limits.manifestMemoryBytes: the rest get 503 with Retry-After, other viewers are served, the process lives', async () => {
    const logs: string[] = [];
    const gateway = await startGateway(
      origin.url,
      { tokens: 'mint' },
      { limits: { manifestMemoryBytes: 48 * 1024 * 1024 } },
      logs,
    );
    try {
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }, 20);
      let storming = true;
      const others: number[] = [];
      const otherStatuses: number[] = [];
      const watcher = (async () => {
        while (storming) {
          const started = performance.now();
          const [small, segment] = await Promise.all([
            httpGet(gateway.url, signed('/small/index.m3u8')),
            httpGet(gateway.url, signed('/vod-ts-aes/seg_000.ts')),
          ]);
          others.push(performance.now() - started);
          otherStatuses.push(small.status, segment.status);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      const storm = await Promise.all(
        Array.from({ length: 10 }, () => countedGet(gateway.url, signed('/big/list.mpd'))),
      );
      storming = false;
      await watcher;
      clearInterval(sampler);

      const statuses = storm.map((r) => r.status);
      expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
      expect(statuses).toContain(200);
      expect(statuses).toContain(503);
      for (const refused of storm.filter((r) => r.status === 503)) {
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      }
      const budgetLines = logs.filter((line) => line.includes('manifest memory budget'));
      expect(budgetLines).toHaveLength(statuses.filter((s) => s === 503).length);
      // Everyone else was answered, and promptly (an 8 MiB rewrite on the event loop took seconds).
      expect(otherStatuses.every((status) => status === 200)).toBe(true);
      expect(Math.max(...others)).toBeLessThan(1500);
      // Buffers, rewrite threads and all: bounded (the test's own origin and client included).
      expect(rssPeak - rssBefore).toBeLessThan(1024 * 1024 * 1024);
      const metrics = await httpGet(gateway.url, '/_streamgate/metrics');
      expect(metrics.body.toString()).toMatch(/^streamgate_manifest_memory_bytes 0$/m);
    } finally {
      await gateway.close();
    }
  }, 120_000);
});
