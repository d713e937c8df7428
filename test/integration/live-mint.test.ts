/**
 * Live: through the real gateway and the live origin simulator (test/helpers/live-origin.ts,
 * a sliding window over the fixture segments advancing in real time), a 2-second master link in `mint`
 * mode gives a minute of playlist reloads and segment fetches with no 403/410, while a segment URL
 * copied out of a playlist stops working after segmentTtl. Two players run side by side: one on a
 * plain origin, one on a Nimble-like origin (a per-viewer nimblesessionid in the master playlist,
 * required on every chunklist and chunk, Cache-Control: no-cache).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { signUrl } from '../../src/index.js';
import { startLiveOrigin, type LiveOrigin } from '../helpers/live-origin.js';
import { SECRET, startGateway } from './support.js';

const SOURCE = fileURLToPath(new URL('../../fixtures/media/live-src/', import.meta.url));
const SEGMENT_SECONDS = 2;
const WINDOW = 5;
const SEGMENT_TTL = 4;
const PLAY_SECONDS = 62;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function uriLines(playlist: string): string[] {
  return playlist.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

interface PlayerReport {
  readonly statuses: ReadonlyMap<number, number>;
  readonly reloads: number;
  readonly segments: number;
  readonly variant: URL;
  readonly masterAgain: number;
  readonly copied: { readonly fresh: number; readonly stale: number; readonly staleBody: string };
}

/**
 * A player: loads the master once, then reloads the media playlist every target duration and fetches
 * each segment it has not fetched yet. Beside it, a segment URL is copied out of a playlist and tried
 * again after segmentTtl.
 */
async function play(master: string): Promise<PlayerReport> {
  const statuses = new Map<number, number>();
  const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

  const masterResponse = await request(master);
  count(masterResponse.statusCode);
  const variant = new URL(uriLines(await masterResponse.body.text())[0] ?? '', master);

  const copied = (async () => {
    await sleep(10_000);
    const playlist = await (await request(variant)).body.text();
    const segment = new URL(uriLines(playlist).at(-1) ?? '', variant);
    const fresh = await request(segment);
    await fresh.body.dump();
    await sleep((SEGMENT_TTL + 1) * 1000);
    const stale = await request(segment);
    return { fresh: fresh.statusCode, stale: stale.statusCode, staleBody: await stale.body.text() };
  })();

  const fetched = new Set<string>();
  let reloads = 0;
  const deadline = Date.now() + PLAY_SECONDS * 1000;
  while (Date.now() < deadline) {
    const reloadStarted = Date.now();
    const response = await request(variant);
    count(response.statusCode);
    const playlist = await response.body.text();
    reloads += 1;
    for (const line of uriLines(playlist)) {
      const name = line.split('?')[0] ?? '';
      if (fetched.has(name)) continue;
      fetched.add(name);
      const segment = await request(new URL(line, variant));
      count(segment.statusCode);
      const bytes = (await segment.body.arrayBuffer()).byteLength;
      expect(bytes, name).toBeGreaterThan(1000);
    }
    await sleep(Math.max(0, SEGMENT_SECONDS * 1000 - (Date.now() - reloadStarted)));
  }
  const again = await request(master);
  await again.body.dump();
  return {
    statuses,
    reloads,
    segments: fetched.size,
    variant,
    masterAgain: again.statusCode,
    copied: await copied,
  };
}

let nimble: LiveOrigin;
let plain: LiveOrigin;
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  nimble = await startLiveOrigin({ sourceDir: SOURCE, style: 'nimble', windowSize: WINDOW, app: 'live' });
  plain = await startLiveOrigin({ sourceDir: SOURCE, style: 'plain', windowSize: WINDOW, app: 'tv' });
  const zone = {
    scheme: 'gcore',
    secrets: [SECRET],
    tokens: 'mint' as const,
    segmentTtl: SEGMENT_TTL,
    playlistTtl: 14_400,
  };
  gw = await startGateway(
    nimble.url,
    {},
    {
      zones: [
        { name: 'nimble', pathPrefix: '/live', origin: nimble.url, ...zone },
        { name: 'plain', pathPrefix: '/tv', origin: plain.url, ...zone },
      ],
    },
  );
});
afterAll(async () => {
  await gw.close();
  await nimble.close();
  await plain.close();
});

describe('unbroken live playback from a 2-second master link (mint)', () => {
  it(
    'players reloading for a minute meet no 403/410; a copied segment URL expires after segmentTtl',
    { timeout: (PLAY_SECONDS + 30) * 1000 },
    async () => {
      const link = (path: string) => `${gw.url}${signUrl(path, { scheme: 'gcore', secret: SECRET, ttl: 2 })}`;
      const [viaNimble, viaPlain] = await Promise.all([
        play(link(nimble.entryPath('stream'))),
        play(link(plain.entryPath('stream'))),
      ]);

      for (const report of [viaNimble, viaPlain]) {
        expect([...report.statuses.keys()]).toEqual([200]);
        expect(report.reloads).toBeGreaterThanOrEqual(PLAY_SECONDS / SEGMENT_SECONDS - 2);
        // The window's first segments, then one new segment every two seconds.
        expect(report.segments).toBeGreaterThanOrEqual(WINDOW + PLAY_SECONDS / SEGMENT_SECONDS - 3);
        // The master link itself is long dead: the player never needed it again.
        expect(report.masterAgain).toBe(410);
        expect(report.copied.fresh).toBe(200);
        expect(report.copied.stale).toBe(410);
        expect(report.copied.staleBody).toContain('(expired)');
      }
      expect(viaNimble.variant.search).toMatch(/^\?nimblesessionid=\d+&md5=[A-Za-z0-9_-]{22}&expires=\d+$/);

      // Nimble got the viewer's session id on every chunklist and chunk, and never a token.
      const session = nimble.sessionIds[0];
      const upstream = nimble.requests.filter((r) => r.kind === 'media' || r.kind === 'segment');
      expect(upstream.length).toBeGreaterThan(60);
      for (const r of upstream) {
        expect(r.query).toBe(`nimblesessionid=${session}`);
      }
      for (const r of plain.requests) expect(r.query).toBe('');
    },
  );
});
