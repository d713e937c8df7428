import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticOrigin, type StaticOrigin } from '../../src/demo/static-origin.js';
import { signUrl } from '../../src/index.js';
import { chromiumStatus, INSTALL_HINT, launchChromium } from './chromium.js';
import {
  expectCleanNetwork,
  play,
  playerErrors,
  startPlayerPage,
  startTestGateway,
  type PlayerName,
  type Server,
  type TestGateway,
} from './players.js';

// Shaka Player and video.js (VHS), from npm, in Debian's Chromium, on every layout of fixtures/media/
// through the gateway in each strategy the layout allows. hls.js and dash.js are in demo.test.ts.

const status = chromiumStatus();
if (status === 'missing') console.warn(`player tests skipped: /usr/bin/chromium not found — ${INSTALL_HINT}`);

const SECRET = 'players-test-secret';
const PLAYERS: readonly PlayerName[] = ['shaka', 'videojs'];
/** Media seconds each run must play; every layout here has 2 s segments, so this spans segments. */
const SECONDS = 4;

interface Stream {
  readonly id: string;
  readonly type: 'hls' | 'dash';
  readonly path: string;
  readonly media: RegExp;
  /** Another request that must have been made, tokenised (subtitles, the AES-128 key). */
  readonly also?: RegExp;
}

const STREAMS: Readonly<Record<string, Stream>> = {
  'hls-fmp4-subtitles': {
    id: 'hls-fmp4-subtitles',
    type: 'hls',
    path: '/vod/vod-fmp4/master.m3u8',
    media: /\.m4s$/,
    also: /\.vtt$/,
  },
  'hls-ts-aes128': {
    id: 'hls-ts-aes128',
    type: 'hls',
    path: '/vod/vod-ts-aes/master.m3u8',
    media: /\.ts$/,
    also: /key\.bin$/,
  },
  'dash-number': { id: 'dash-number', type: 'dash', path: '/vod/dash/number/manifest.mpd', media: /\.m4s$/ },
  'dash-timeline': {
    id: 'dash-timeline',
    type: 'dash',
    path: '/vod/dash/timeline/manifest.mpd',
    media: /\.m4s$/,
  },
  'dash-segmentlist': {
    id: 'dash-segmentlist',
    type: 'dash',
    path: '/vod/dash/list/manifest.mpd',
    media: /\.m4s$/,
  },
  'dash-segmentbase': {
    id: 'dash-segmentbase',
    type: 'dash',
    path: '/vod/dash/single/segmentbase.mpd',
    media: /\.mp4$/,
  },
  'dash-per-representation': {
    id: 'dash-per-representation',
    type: 'dash',
    path: '/vod/dash/per-representation/manifest.mpd',
    media: /\/seg_\d+\.m4s$/,
  },
};

type Zone = 'mint' | 'mint, pathTokens: false' | 'forward' | 'forward, forwardUncovered: path' | 'path';

/**
 * Which layouts each zone plays. forward copies a directory token, which opens files directly in its
 * directory: the flat layouts; those with renditions in subdirectories need forwardUncovered: path.
 */
const MATRIX: ReadonlyArray<readonly [Zone, readonly string[]]> = [
  ['mint', Object.keys(STREAMS)],
  // Without path tokens a leaf BaseURL gets its own query token where mint would write a path form
  // (README "Token rules"): browser players keep it through the BaseURL resolution.
  ['mint, pathTokens: false', ['dash-segmentbase']],
  ['forward', ['hls-ts-aes128', 'dash-segmentlist', 'dash-segmentbase']],
  ['forward, forwardUncovered: path', ['hls-fmp4-subtitles', 'dash-per-representation']],
  ['path', ['hls-fmp4-subtitles', 'dash-timeline', 'dash-per-representation']],
];

/** Pages playing at once: two cores are shared with the rest of the suite. */
let running = 0;
const waiting: Array<() => void> = [];
async function slot<T>(run: () => Promise<T>): Promise<T> {
  if (running >= 3) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  try {
    return await run();
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

describe.skipIf(status === 'missing')(
  'Shaka Player and video.js play every layout through the gateway',
  () => {
    let browser: Browser;
    let origin: StaticOrigin;
    let page: Server;
    const gateways = new Map<Zone, TestGateway>();

    beforeAll(async () => {
      if (status === 'missing-in-ci')
        throw new Error(`CI=true and /usr/bin/chromium is missing: ${INSTALL_HINT}`);
      origin = await startStaticOrigin({
        root: fileURLToPath(new URL('../../fixtures/media', import.meta.url)),
        mount: '/vod',
      });
      page = await startPlayerPage();
      const zones: Record<Zone, Parameters<typeof startTestGateway>[1]> = {
        mint: { tokens: 'mint', segmentTtl: 30 },
        'mint, pathTokens: false': { tokens: 'mint', segmentTtl: 30, pathTokens: false },
        forward: { tokens: 'forward' },
        'forward, forwardUncovered: path': { tokens: 'forward', forwardUncovered: 'path' },
        path: { tokens: 'path' },
      };
      for (const [zone, settings] of Object.entries(zones) as Array<[Zone, typeof zones.mint]>) {
        gateways.set(zone, await startTestGateway(origin.url, settings, SECRET));
      }
      browser = await launchChromium();
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      for (const gateway of gateways.values()) await gateway.close();
      await page?.close();
      await origin?.close();
    });

    const link = (zone: Zone, path: string): string => {
      const gateway = gateways.get(zone)!;
      const signed = signUrl(path, {
        scheme: 'gcore',
        secret: SECRET,
        ttl: 300,
        // mint starts from the file itself; forward from its directory; path puts that in the path.
        ...(zone.startsWith('mint') ? {} : zone === 'path' ? { pathToken: true } : { dir: true }),
      });
      return `${gateway.url}${signed}`;
    };

    for (const [zone, ids] of MATRIX) {
      describe.concurrent(`tokens: ${zone}`, () => {
        for (const id of ids) {
          const stream = STREAMS[id]!;
          for (const player of PLAYERS) {
            // One retry: a page starved of CPU on a loaded two-core machine can stall between segments
            // with every request answered; a real failure (a 403, a player error) fails both runs.
            it(
              `${player} plays ${stream.id} ≥ ${SECONDS} s, every request 200/206 with a token`,
              { retry: 1, timeout: 120_000 },
              async () => {
                await slot(async () => {
                  const gateway = gateways.get(zone)!;
                  const { page: tab, seen } = await play(
                    browser,
                    page.url,
                    player,
                    link(zone, stream.path),
                    stream.type,
                    SECONDS,
                    45_000,
                  );
                  try {
                    expect(await playerErrors(tab)).toEqual([]);
                    expectCleanNetwork(seen, gateway.url, page.url, stream.media);
                    if (zone === 'mint, pathTokens: false') {
                      const inPath = seen.filter((s) => /\/~[^/]*~/.test(new URL(s.url).pathname));
                      expect(inPath.map((s) => s.url)).toEqual([]);
                    }
                    if (stream.also) {
                      const also = stream.also;
                      expect(
                        seen.some((s) => also.test(new URL(s.url).pathname) && s.status === 200),
                        `${also} fetched`,
                      ).toBe(true);
                    }
                  } finally {
                    await tab.close();
                  }
                });
              },
            );
          }
        }
      });
    }
  },
);
