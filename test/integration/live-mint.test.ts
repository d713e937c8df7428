/**
 * Issue 4, "Live": through the real gateway and a live origin that advances in real time, a 2-second
 * master link in `mint` mode gives a minute of playlist reloads and segment fetches with no 403/410,
 * while a segment URL copied out of a playlist stops working after segmentTtl. The origin is
 * Nimble-like: the master hands each viewer a `nimblesessionid` (Cache-Control: no-cache), the
 * chunklist and segments carry it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { signUrl } from '../../src/index.js';
import { SECRET, startGateway } from './support.js';

const SEGMENT_SECONDS = 2;
const WINDOW = 5;
const SEGMENT_TTL = 4;
const PLAY_SECONDS = 62;

interface LiveOrigin {
  readonly url: string;
  readonly seen: string[];
  close(): Promise<void>;
}

/** A sliding-window live HLS origin in the style of Nimble Streamer. */
async function startLiveOrigin(): Promise<LiveOrigin> {
  const started = Date.now();
  const seen: string[] = [];
  let sessions = 0;
  const segment = Buffer.alloc(2048, 0x47);
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    seen.push(url);
    const [path, query = ''] = url.split('?');
    const session = /(?:^|&)nimblesessionid=(\d+)/.exec(query)?.[1];
    const newest = Math.floor((Date.now() - started) / (SEGMENT_SECONDS * 1000)) + WINDOW;
    if (path === '/live/stream/playlist.m3u8') {
      sessions += 1;
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'no-cache' });
      res.end(
        `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nchunks.m3u8?nimblesessionid=${sessions}\n`,
      );
      return;
    }
    if (path === '/live/stream/chunks.m3u8' && session !== undefined) {
      const first = newest - WINDOW + 1;
      const lines = [
        '#EXTM3U',
        '#EXT-X-VERSION:3',
        `#EXT-X-TARGETDURATION:${SEGMENT_SECONDS}`,
        `#EXT-X-MEDIA-SEQUENCE:${first}`,
      ];
      for (let n = first; n <= newest; n += 1)
        lines.push(`#EXTINF:${SEGMENT_SECONDS}.000,`, `l_${n}.ts?nimblesessionid=${session}`);
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'no-cache' });
      res.end(`${lines.join('\n')}\n`);
      return;
    }
    const match = /^\/live\/stream\/l_(\d+)\.ts$/.exec(path ?? '');
    if (match && session !== undefined && Number(match[1]) <= newest) {
      res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': String(segment.length) });
      res.end(segment);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function uriLines(playlist: string): string[] {
  return playlist.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let origin: LiveOrigin;
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  origin = await startLiveOrigin();
  gw = await startGateway(origin.url, { tokens: 'mint', segmentTtl: SEGMENT_TTL, playlistTtl: 14_400 });
});
afterAll(async () => {
  await gw.close();
  await origin.close();
});

describe('issue 4: unbroken live playback from a 2-second master link (mint)', () => {
  it(
    'a player reloading for a minute meets no 403/410; a copied segment URL expires after segmentTtl',
    { timeout: (PLAY_SECONDS + 25) * 1000 },
    async () => {
      const master = `${gw.url}${signUrl('/live/stream/playlist.m3u8', { scheme: 'gcore', secret: SECRET, ttl: 2 })}`;
      const statuses = new Map<number, number>();
      const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

      const masterResponse = await request(master);
      count(masterResponse.statusCode);
      const masterText = await masterResponse.body.text();
      const variant = new URL(uriLines(masterText)[0] ?? '', master);
      expect(variant.search).toMatch(/^\?nimblesessionid=1&md5=[A-Za-z0-9_-]{22}&expires=\d+$/);

      // The copied-URL check runs beside the player: 200 at once, 410 once segmentTtl has passed.
      const copied = (async () => {
        await sleep(10_000);
        const playlist = await (await request(variant)).body.text();
        const segment = new URL(uriLines(playlist).at(-1) ?? '', variant);
        const fresh = await request(segment);
        await fresh.body.dump();
        await sleep((SEGMENT_TTL + 1) * 1000);
        const stale = await request(segment);
        const staleBody = await stale.body.text();
        return { fresh: fresh.statusCode, stale: stale.statusCode, staleBody };
      })();

      const fetched = new Set<string>();
      let reloads = 0;
      const deadline = Date.now() + PLAY_SECONDS * 1000;
      while (Date.now() < deadline) {
        const reloadStarted = Date.now();
        const playlistResponse = await request(variant);
        count(playlistResponse.statusCode);
        const playlist = await playlistResponse.body.text();
        reloads += 1;
        for (const line of uriLines(playlist)) {
          const name = line.split('?')[0] ?? '';
          if (fetched.has(name)) continue;
          fetched.add(name);
          const segmentResponse = await request(new URL(line, variant));
          count(segmentResponse.statusCode);
          const bytes = (await segmentResponse.body.arrayBuffer()).byteLength;
          expect(bytes).toBe(2048);
        }
        await sleep(Math.max(0, SEGMENT_SECONDS * 1000 - (Date.now() - reloadStarted)));
      }

      // The master link itself is long dead by now: the player never needed it again.
      const masterAgain = await request(master);
      await masterAgain.body.dump();
      expect(masterAgain.statusCode).toBe(410);

      expect(statuses.get(403) ?? 0).toBe(0);
      expect(statuses.get(410) ?? 0).toBe(0);
      expect([...statuses.keys()]).toEqual([200]);
      expect(reloads).toBeGreaterThanOrEqual(PLAY_SECONDS / SEGMENT_SECONDS - 2);
      // A minute of live: the window's first five, then one new segment every two seconds.
      expect(fetched.size).toBeGreaterThanOrEqual(WINDOW + PLAY_SECONDS / SEGMENT_SECONDS - 3);

      const { fresh, stale, staleBody } = await copied;
      expect(fresh).toBe(200);
      expect(stale).toBe(410);
      expect(staleBody).toContain('(expired)');

      // The origin got the viewer's session id on every chunklist and segment, and never a token.
      const upstream = origin.seen.filter((url) => !url.startsWith('/live/stream/playlist.m3u8'));
      expect(upstream.length).toBeGreaterThan(60);
      for (const url of upstream) {
        expect(url).toMatch(/\?nimblesessionid=1$/);
        expect(url).not.toMatch(/md5=|expires=/);
      }
    },
  );
});
