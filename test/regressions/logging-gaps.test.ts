/**
 * Logging gaps that hid attacks: manifest requests (master and media playlists, MPDs, also through the
 * live cache) got no log line at any level, a directly proxied manifest was logged with `bytes: 0`, and
 * only denials were written at info. Now every request gets exactly one `access` line — method, zone,
 * status, reason, bytes, duration, client address, user agent, cache outcome, request id — and
 * `log.access` samples or turns it off.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/index.js';
import { httpGet, signed, startGateway, TestOrigin } from '../integration/support.js';

const SEGMENT = 'ts-bytes-0123456789';
const LIVE = [
  '#EXTM3U',
  '#EXT-X-TARGETDURATION:6',
  '#EXT-X-MEDIA-SEQUENCE:1',
  '#EXTINF:6,',
  'seg-1.ts',
  '',
].join('\n');
const MASTER = ['#EXTM3U', '#EXT-X-STREAM-INF:BANDWIDTH=1000', 'index.m3u8', ''].join('\n');
const UA = 'TestPlayer/1.0 (logging-gaps)';

let origin: TestOrigin;
let held: Promise<void> = Promise.resolve();

/** Holds the origin's live playlist until the returned function is called. */
function hold(): () => void {
  let release: () => void = () => {};
  held = new Promise((resolve) => (release = resolve));
  return () => {
    release();
    held = Promise.resolve();
  };
}

/** Resolves once `ready` holds; asks again every 10 ms (10 s at most: the limit for a hang only). */
async function until(ready: () => boolean | Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    if (await ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the condition did not come true within 10 s');
}

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file('/live/seg-1.ts', { body: SEGMENT, type: 'video/mp2t' });
  origin.file('/live/master.m3u8', { body: MASTER, type: 'application/vnd.apple.mpegurl' });
  origin.route('/live/index.m3u8', (_req, res) => {
    // Held while a test needs two viewers to share one fetch (see `hold`), however slow the machine.
    void held.then(() => {
      res.writeHead(200, {
        'content-type': 'application/vnd.apple.mpegurl',
        'content-length': String(LIVE.length),
      });
      res.end(LIVE);
    });
  });
  origin.file('/vod/index.m3u8', { body: LIVE, type: 'application/vnd.apple.mpegurl' });
  origin.route('/live/broken.ts', (_req, res) => res.socket?.destroy());
});
afterAll(async () => {
  await origin.close();
});

type Line = Record<string, unknown>;

async function withGateway(
  log: NonNullable<ConfigInput['log']>,
  run: (url: string, lines: () => Line[]) => Promise<void>,
): Promise<void> {
  const logs: string[] = [];
  const gw = await startGateway(
    origin.url,
    {},
    {
      log,
      zones: [
        { name: 'live', pathPrefix: '/live', origin: origin.url, scheme: 'gcore', secrets: ['k1'] },
        {
          name: 'vod',
          pathPrefix: '/vod',
          origin: origin.url,
          scheme: 'gcore',
          secrets: ['k1'],
          cache: { livePlaylists: false },
        },
      ],
    },
    logs,
  );
  try {
    await run(gw.url, () => logs.map((text) => JSON.parse(text) as Line));
  } finally {
    await gw.close();
  }
}

const sign = (path: string): string => signed(path, { secret: 'k1' });

/** The access lines of one request id; the access line is written when the response closes. */
async function accessLines(lines: () => Line[], id: string): Promise<Line[]> {
  const of = (): Line[] => lines().filter((line) => line.reqId === id && line.msg === 'access');
  await until(() => of().length > 0).catch(() => undefined);
  return of();
}

describe('one access line per request', () => {
  it('media, manifests (direct, cache miss, hit, coalesced), HEAD, denials, 404s, reserved paths, origin failures', async () => {
    await withGateway({ level: 'info' }, async (url, lines) => {
      const ask = (id: string, target: string, method = 'GET') =>
        httpGet(url, target, { 'x-request-id': id, 'user-agent': UA }, method);

      const media = await ask('media', sign('/live/seg-1.ts'));
      const direct = await ask('direct', sign('/vod/index.m3u8'));
      // The second viewer joins the first one's fetch: the origin answers only once the gateway has
      // counted it as coalesced.
      const release = hold();
      const missing = ask('miss', sign('/live/index.m3u8'));
      await until(() => origin.requests.some((request) => request.url.startsWith('/live/index.m3u8')));
      const joining = ask('coalesced', sign('/live/index.m3u8'));
      await until(async () =>
        (await httpGet(url, '/_streamgate/metrics')).body
          .toString()
          .includes('streamgate_manifest_cache_total{zone="live",result="coalesced"} 1'),
      );
      release();
      const [miss, coalesced] = await Promise.all([missing, joining]);
      const hit = await ask('hit', sign('/live/index.m3u8'));
      const master = await ask('master', sign('/live/master.m3u8'));
      await ask('head', sign('/vod/index.m3u8'), 'HEAD');
      await ask('denied', '/live/seg-1.ts?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=9999999999');
      await ask('no-zone', sign('/other/x.ts'));
      await ask('health', '/_streamgate/healthz');
      await ask('reserved', '/_streamgate/nope');
      await ask('method', sign('/live/seg-1.ts'), 'DELETE');
      await ask('broken', sign('/live/broken.ts'));

      const expectations: Array<[string, Partial<Line>]> = [
        [
          'media',
          { method: 'GET', zone: 'live', status: 200, reason: 'ok', bytes: SEGMENT.length, cache: '-' },
        ],
        ['direct', { zone: 'vod', status: 200, reason: 'ok', bytes: direct.body.length, cache: 'bypass' }],
        ['miss', { zone: 'live', status: 200, bytes: miss.body.length, cache: 'miss' }],
        ['coalesced', { zone: 'live', status: 200, cache: 'coalesced' }],
        ['hit', { zone: 'live', status: 200, bytes: hit.body.length, cache: 'hit' }],
        ['master', { zone: 'live', status: 200, bytes: master.body.length }],
        ['head', { method: 'HEAD', zone: 'vod', status: 200, bytes: 0 }],
        ['denied', { zone: 'live', status: 403, reason: 'invalid' }],
        ['no-zone', { zone: '-', status: 404, reason: 'no_zone' }],
        ['health', { zone: '-', status: 200, bytes: 2 }],
        ['reserved', { zone: '-', status: 404 }],
        ['method', { method: 'DELETE', status: 405, reason: 'method' }],
        ['broken', { zone: 'live', status: 502, reason: 'broken' }],
      ];
      expect(media.body.toString()).toBe(SEGMENT);
      expect((coalesced as { status: number }).status).toBe(200);
      for (const [id, expected] of expectations) {
        const found = await accessLines(lines, id);
        expect(found, id).toHaveLength(1);
        const line = found[0]!;
        expect(line, id).toMatchObject({ level: 'info', ...expected, ip: '127.0.0.1', ua: UA });
        expect(typeof line.ms, id).toBe('number');
        expect(typeof line.target, id).toBe('string');
      }
      expect((await accessLines(lines, 'denied'))[0]?.detail).toMatch(/signature/);
      expect((await accessLines(lines, 'media'))[0]?.target).toMatch(
        /^\/live\/seg-1\.ts\?md5=REDACTED&expires=\d+$/,
      );
      expect(media.status + direct.status + miss.status + hit.status).toBe(800);
    });
  });

  it('a CONNECT and bytes that are no request get a line too', async () => {
    await withGateway({ level: 'info' }, async (url, lines) => {
      const { port } = new URL(url);
      for (const bytes of [
        'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
        'BOGUS\r\n\r\n',
      ]) {
        await new Promise<void>((resolve) => {
          const socket = connect(Number(port), '127.0.0.1');
          socket.on('data', () => undefined);
          socket.on('error', () => undefined);
          socket.on('close', () => resolve());
          socket.write(bytes);
        });
      }
      const access = (): Line[] => lines().filter((line) => line.msg === 'access');
      await until(() => access().length >= 2);
      expect(access()).toEqual([
        expect.objectContaining({ method: 'CONNECT', status: 405, reason: 'method', ip: '127.0.0.1' }),
        expect.objectContaining({ status: 400, reason: 'malformed', ip: '127.0.0.1' }),
      ]);
    });
  });
});

describe('log.access settings', () => {
  async function run(log: NonNullable<ConfigInput['log']>): Promise<Line[]> {
    let read: () => Line[] = () => [];
    await withGateway(log, async (url, lines) => {
      for (let i = 0; i < 20; i += 1) await httpGet(url, sign('/live/seg-1.ts'));
      await httpGet(url, '/live/seg-1.ts');
      read = lines;
    });
    // Read once the gateway has closed: every response has closed too, so every line is written.
    return read().filter((line) => line.msg === 'access');
  }

  it('sample: 0 keeps denials and failures only', async () => {
    const lines = await run({ level: 'info', access: { sample: 0 } });
    expect(lines.map((line) => line.status)).toEqual([403]);
  });

  it('sample: 0.5 writes some successful requests, not all, and every denial', async () => {
    const lines = await run({ level: 'info', access: { sample: 0.5 } });
    const ok = lines.filter((line) => line.status === 200).length;
    // 20 draws at one half: outside 1–19 has a probability of 2 · 2⁻²⁰.
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThan(20);
    expect(lines.filter((line) => line.status === 403)).toHaveLength(1);
  });

  it('enabled: false, or a level above info, writes none', async () => {
    expect(await run({ level: 'info', access: { enabled: false } })).toEqual([]);
    expect(await run({ level: 'warn' })).toEqual([]);
  });
});
