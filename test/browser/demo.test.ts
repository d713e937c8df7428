import { mkdirSync } from 'node:fs';
import type { Browser, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from '../../src/demo/server.js';
import { chromiumStatus, INSTALL_HINT, launchChromium } from './chromium.js';

const status = chromiumStatus();
if (status === 'missing')
  console.warn(`browser tests skipped: /usr/bin/chromium not found — ${INSTALL_HINT}`);

interface Seen {
  url: string;
  status: number;
}

/** Every response the page received, from the network itself (not from the page's own log). */
function watch(page: Page): Seen[] {
  const seen: Seen[] = [];
  page.on('response', (response: Response) => {
    // blob: and data: URLs are the player's own workers and buffers, not network requests.
    if (/^https?:/.test(response.url())) seen.push({ url: response.url(), status: response.status() });
  });
  page.on('requestfailed', (request) => seen.push({ url: request.url(), status: 0 }));
  return seen;
}

function carriesToken(url: string): boolean {
  const u = new URL(url);
  return (
    /\/~[A-Za-z0-9_-]{22}~\d+\//.test(u.pathname) ||
    (u.searchParams.has('md5') && u.searchParams.has('expires'))
  );
}

async function currentTime(page: Page): Promise<number> {
  return page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).currentTime);
}

async function waitForMedia(page: Page, seconds: number, timeoutMs: number): Promise<void> {
  await page.waitForFunction(
    (target) => (document.getElementById('video') as HTMLVideoElement).currentTime >= target,
    seconds,
    { timeout: timeoutMs, polling: 250 },
  );
}

describe.skipIf(status === 'missing')('the demo plays protected streams in Chromium', () => {
  let demo: Demo;
  let browser: Browser;

  beforeAll(async () => {
    if (status === 'missing-in-ci')
      throw new Error(`CI=true and /usr/bin/chromium is missing: ${INSTALL_HINT}`);
    demo = await startDemo({ segmentTtl: 30 });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  function assertNetwork(seen: Seen[], mediaPattern: RegExp): Seen[] {
    const gateway = new URL(demo.gatewayUrl).host;
    const page = new URL(demo.pageUrl).host;
    const hosts = new Set(seen.map((s) => new URL(s.url).host));
    // No request left for a third party; everything is the page or the gateway.
    expect([...hosts].filter((h) => h !== gateway && h !== page)).toEqual([]);
    const media = seen.filter((s) => new URL(s.url).host === gateway);
    expect(media.filter((s) => mediaPattern.test(new URL(s.url).pathname)).length).toBeGreaterThan(0);
    for (const request of media) {
      expect([200, 206], request.url).toContain(request.status);
      expect(carriesToken(request.url), request.url).toBe(true);
    }
    return media;
  }

  it('VOD HLS (fMP4, 3 renditions, separate audio) plays ≥ 10 s with subtitles loaded and a cue shown', async () => {
    const page = await browser.newPage();
    const seen = watch(page);
    await page.goto(`${demo.pageUrl}?stream=vod-fmp4&ttl=3600`);
    await page.waitForFunction(
      () => !(document.getElementById('subtitles') as HTMLSelectElement).disabled,
      null,
      {
        timeout: 20_000,
      },
    );
    await page.selectOption('#subtitles', { index: 1 });
    await waitForMedia(page, 10, 40_000);
    const cues = await page.evaluate(() => {
      const video = document.getElementById('video') as HTMLVideoElement;
      return Array.from(video.textTracks).map((t) => ({
        mode: t.mode,
        cues: t.cues?.length ?? 0,
        active: t.activeCues?.length ?? 0,
      }));
    });
    expect(cues.some((t) => t.mode === 'showing' && t.cues > 0)).toBe(true);
    const media = assertNetwork(seen, /\.m4s$|\.mp4$/);
    expect(media.some((s) => s.url.includes('.vtt'))).toBe(true);
    // The run's screenshot goes to the ignored test-results/; the README's copy in docs/ is replaced only
    // on request (UPDATE_SCREENSHOTS=1 npx vitest run test/browser/demo.test.ts), so a test run never
    // leaves the work tree changed.
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/demo-playing.png' });
    if (process.env.UPDATE_SCREENSHOTS === '1') await page.screenshot({ path: 'docs/demo-playing.png' });
    await page.close();
  }, 90_000);

  it('VOD HLS in MPEG-TS with AES-128 plays, and the key request carried a token', async () => {
    const page = await browser.newPage();
    const seen = watch(page);
    await page.goto(`${demo.pageUrl}?stream=vod-ts-aes&ttl=3600`);
    await waitForMedia(page, 6, 40_000);
    const media = assertNetwork(seen, /\.ts$/);
    const keys = media.filter((s) => /\.(key|bin)$/.test(new URL(s.url).pathname));
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.status === 200 && carriesToken(k.url))).toBe(true);
    await page.close();
  }, 90_000);

  it.each(['dash-number', 'dash-timeline'])(
    'DASH VOD (%s) plays ≥ 10 s in dash.js, every request 200/206 and tokenised',
    async (stream) => {
      const page = await browser.newPage();
      const seen = watch(page);
      await page.goto(`${demo.pageUrl}?stream=${stream}&ttl=3600`);
      await waitForMedia(page, 10, 45_000);
      const media = assertNetwork(seen, /\.m4s$/);
      expect(media.some((s) => s.url.includes('.mpd'))).toBe(true);
      await page.close();
    },
    90_000,
  );

  // The two live minutes run side by side (their own pages): each is a minute of wall time.
  const liveMinutes = [
    {
      name: 'live DASH in mint mode from a 2-second MPD link plays ≥ 60 s in dash.js without a stall',
      stream: 'live-dash',
      media: /\.m4s$/,
      // MPD refreshes kept working for a minute after the 2-second link expired.
      reload: '.mpd',
    },
    {
      name: 'live HLS in mint mode from a 2-second master link plays ≥ 60 s without a stall',
      stream: 'live',
      media: /\.ts$/,
      // The master link was dead within 2 s; playlist reloads kept working for a minute on minted tokens.
      reload: '.m3u8',
    },
  ];
  for (const live of liveMinutes) {
    it.concurrent(
      live.name,
      async () => {
        const page = await browser.newPage();
        const seen = watch(page);
        await page.goto(`${demo.pageUrl}?stream=${live.stream}&ttl=2`);
        await page.waitForFunction(
          () => (document.getElementById('video') as HTMLVideoElement).currentTime > 0,
          null,
          { timeout: 30_000 },
        );
        const start = await currentTime(page);
        await page.evaluate(() => {
          const video = document.getElementById('video') as HTMLVideoElement;
          (window as unknown as { stalls: number }).stalls = 0;
          video.addEventListener('waiting', () => {
            (window as unknown as { stalls: number }).stalls += 1;
          });
        });
        await waitForMedia(page, start + 60, 90_000);
        expect(await page.evaluate(() => (window as unknown as { stalls: number }).stalls)).toBe(0);
        const media = assertNetwork(seen, live.media);
        expect(media.filter((s) => s.url.includes(live.reload)).length).toBeGreaterThan(10);
        await page.close();
      },
      150_000,
    );
  }

  it('an expired link shows the 410 message and plays nothing', async () => {
    const page = await browser.newPage();
    await page.goto(`${demo.pageUrl}?stream=vod-fmp4&variant=expired`);
    await page.waitForSelector('#message:not([hidden])', { timeout: 15_000 });
    expect(await page.textContent('#message')).toMatch(/expired \(410\)/);
    expect(await currentTime(page)).toBe(0);
    await page.close();
  }, 30_000);

  it('a tampered link shows the 403 message and plays nothing', async () => {
    const page = await browser.newPage();
    await page.goto(`${demo.pageUrl}?stream=vod-fmp4&variant=tampered`);
    await page.waitForSelector('#message:not([hidden])', { timeout: 15_000 });
    expect(await page.textContent('#message')).toMatch(/denied \(403\)/);
    expect(await currentTime(page)).toBe(0);
    await page.close();
  }, 30_000);
});

/** An ectoken in `?token=`: base64url of IV, ciphertext and tag, at most 512 characters (Edgio ectoken v3). */
function ectokenOf(url: string): string | undefined {
  const token = new URL(url).searchParams.get('token');
  return token !== null && /^[A-Za-z0-9_-]{39,512}$/.test(token) ? token : undefined;
}

describe.skipIf(status === 'missing')('the demo plays through an ectoken zone in Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    if (status === 'missing-in-ci')
      throw new Error(`CI=true and /usr/bin/chromium is missing: ${INSTALL_HINT}`);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  it.each(['forward', 'mint'] as const)(
    'VOD HLS plays ≥ 8 s with the zone on ectoken in %s mode, every request 200/206 with an ectoken',
    async (tokens) => {
      const demo = await startDemo({ scheme: 'ectoken', tokens, segmentTtl: 30 });
      const page = await browser.newPage();
      try {
        const seen = watch(page);
        await page.goto(`${demo.pageUrl}?stream=vod-fmp4&ttl=3600`);
        await waitForMedia(page, 8, 40_000);
        const gateway = new URL(demo.gatewayUrl).host;
        const hosts = new Set(seen.map((s) => new URL(s.url).host));
        expect([...hosts].filter((h) => h !== gateway && h !== new URL(demo.pageUrl).host)).toEqual([]);
        const media = seen.filter((s) => new URL(s.url).host === gateway);
        expect(media.filter((s) => /\.m4s$/.test(new URL(s.url).pathname)).length).toBeGreaterThan(2);
        for (const request of media) {
          expect([200, 206], request.url).toContain(request.status);
          expect(ectokenOf(request.url), request.url).toBeDefined();
        }
        const distinct = new Set(media.map((s) => ectokenOf(s.url)));
        // forward hands every nested URI the master link's own token (its ec_url_allow is the stream's
        // directory, a prefix over the renditions' subdirectories); mint encrypts one per resource.
        if (tokens === 'forward') expect(distinct.size).toBe(1);
        else expect(distinct.size).toBeGreaterThan(media.length / 2);
      } finally {
        await page.close();
        await demo.close();
      }
    },
    90_000,
  );
});
