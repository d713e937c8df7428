import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { Browser, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticOrigin, type StaticOrigin } from '../../src/demo/static-origin.js';
import { createGateway, signCookies, signUrl, type Gateway } from '../../src/index.js';
import { chromiumStatus, INSTALL_HINT, launchChromium } from './chromium.js';

/**
 * Akamai (token in the query, and the cookie strategy) and CloudFront (signed cookies) zones play in
 * Chromium through the real gateway, in hls.js (withCredentials) and Shaka Player (a request filter
 * allowing cross-site credentials). The player page and the gateway are different origins on the same
 * site, as a publisher's page and its CDN host are.
 */

const status = chromiumStatus();
if (status === 'missing')
  console.warn(`browser tests skipped: /usr/bin/chromium not found — ${INSTALL_HINT}`);

const root = (relative: string) => fileURLToPath(new URL(`../../${relative}`, import.meta.url));
const AKAMAI_KEY = '0123456789abcdef0123456789abcdef';
const CF_PRIVATE = readFileSync(root('test/vectors/keys/cloudfront-a.private.pem'), 'utf8');
const MASTER = '/vod/vod-fmp4/master.m3u8';

const PAGE = `<!doctype html><meta charset="utf-8"><title>player</title>
<video id="video" muted autoplay playsinline width="320"></video>
<script src="/vendor/hls.min.js"></script><script src="/vendor/shaka-player.compiled.js"></script>
<script>
(async () => {
  const params = new URLSearchParams(location.search);
  const video = document.getElementById('video');
  const src = params.get('src');
  window.failures = [];
  if (params.get('player') === 'shaka') {
    shaka.polyfill.installAll();
    const player = new shaka.Player();
    await player.attach(video);
    // The cookie strategy: nested requests carry the gateway's cookie, cross-origin.
    player.getNetworkingEngine().registerRequestFilter((_type, request) => {
      request.allowCrossSiteCredentials = true;
    });
    player.addEventListener('error', (event) => window.failures.push(String(event.detail && event.detail.code)));
    try { await player.load(src); } catch (error) { window.failures.push(String(error && error.code)); }
  } else {
    const hls = new Hls({ xhrSetup: (xhr) => { xhr.withCredentials = true; } });
    hls.on(Hls.Events.ERROR, (_event, data) => { if (data.fatal) window.failures.push(data.details); });
    hls.loadSource(src);
    hls.attachMedia(video);
  }
})();
</script>`;

interface Seen {
  url: string;
  status: number;
}

function watch(page: Page): Seen[] {
  const seen: Seen[] = [];
  page.on('response', (response: Response) => {
    if (/^https?:/.test(response.url())) seen.push({ url: response.url(), status: response.status() });
  });
  page.on('requestfailed', (request) => seen.push({ url: request.url(), status: 0 }));
  return seen;
}

async function played(page: Page, seconds: number): Promise<void> {
  await page.waitForFunction(
    (target) => (document.getElementById('video') as HTMLVideoElement).currentTime >= target,
    seconds,
    { timeout: 45_000, polling: 250 },
  );
}

describe.skipIf(status === 'missing')(
  'Akamai and CloudFront zones play in Chromium (hls.js and Shaka)',
  () => {
    let browser: Browser;
    let origin: StaticOrigin;
    let pageServer: ReturnType<express.Express['listen']>;
    let pageUrl = '';
    const gateways: Gateway[] = [];
    const closers: Array<() => Promise<void>> = [];

    /** A gateway with one zone in front of the fixtures, answering the player page's origin with credentials. */
    async function gateway(zone: { readonly scheme: string } & Record<string, unknown>): Promise<string> {
      const built = createGateway({
        listen: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        cors: { allowedOrigins: [pageUrl.replace(/\/$/, '')] },
        zones: [
          { name: 'vod', pathPrefix: '/vod', origin: origin.url, playlistTtl: 3600, segmentTtl: 60, ...zone },
        ],
      });
      gateways.push(built);
      const listening = await built.listen();
      closers.push(() => listening.close());
      return listening.url;
    }

    beforeAll(async () => {
      if (status === 'missing-in-ci')
        throw new Error(`CI=true and /usr/bin/chromium is missing: ${INSTALL_HINT}`);
      origin = await startStaticOrigin({ root: root('fixtures/media'), mount: '/vod', host: '127.0.0.1' });
      const app = express();
      app.get('/', (_req, res) => res.type('html').send(PAGE));
      app.get('/vendor/hls.min.js', (_req, res) => res.sendFile(root('node_modules/hls.js/dist/hls.min.js')));
      app.get('/vendor/shaka-player.compiled.js', (_req, res) =>
        res.sendFile(root('node_modules/shaka-player/dist/shaka-player.compiled.js')),
      );
      // The publisher's backend hands the viewer CloudFront signed cookies for the stream's directory
      // (cookies ignore ports, so the gateway on this host receives them).
      app.get('/api/cloudfront-cookies', (req, res) => {
        const cookies = signCookies(`${String(req.query.gateway)}${MASTER}`, {
          scheme: 'cloudfront',
          privateKey: CF_PRIVATE,
          keyPairId: 'KA1B2C3D4E5F6',
          ttl: 600,
          dir: true,
        });
        res.setHeader('set-cookie', cookies);
        res.type('text').send('ok');
      });
      pageServer = app.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => pageServer.once('listening', () => resolve()));
      pageUrl = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/`;
      browser = await launchChromium();
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      for (const close of closers) await close();
      pageServer?.closeAllConnections();
      await new Promise<void>((resolve) => (pageServer ? pageServer.close(() => resolve()) : resolve()));
      await origin?.close();
    });

    it('Akamai, token in the query (mint): hls.js plays ≥ 6 s, every request 200/206 with a __token__', async () => {
      const url = await gateway({ scheme: 'akamai', secrets: [AKAMAI_KEY], tokens: 'mint' });
      const master = signUrl(`${url}${MASTER}`, { scheme: 'akamai', secret: AKAMAI_KEY, ttl: 600 });
      const context = await browser.newContext();
      const page = await context.newPage();
      const seen = watch(page);
      await page.goto(`${pageUrl}?player=hls&src=${encodeURIComponent(master)}`);
      await played(page, 6);
      const media = seen.filter((s) => s.url.startsWith(url));
      expect(media.filter((s) => s.url.includes('.m4s')).length).toBeGreaterThan(2);
      for (const request of media) {
        expect([200, 206], request.url).toContain(request.status);
        expect(new URL(request.url).searchParams.get('__token__'), request.url).toMatch(
          /^(?:st=\d+~)?exp=\d+~.*hmac=[0-9a-f]{64}$/,
        );
      }
      await context.close();
    }, 90_000);

    it.each(['hls', 'shaka'] as const)(
      'Akamai cookie strategy (hdnts → hdntl): %s plays ≥ 6 s; only the entry URL carries a token',
      async (player) => {
        const url = await gateway({
          scheme: 'akamai',
          secrets: [AKAMAI_KEY],
          tokens: 'cookie',
          akamai: { param: 'hdnts' },
        });
        const master = signUrl(`${url}${MASTER}`, {
          scheme: 'akamai',
          secret: AKAMAI_KEY,
          ttl: 600,
          param: 'hdnts',
        });
        const context = await browser.newContext();
        const page = await context.newPage();
        const seen = watch(page);
        await page.goto(`${pageUrl}?player=${player}&src=${encodeURIComponent(master)}`);
        await played(page, 6);
        expect(await page.evaluate(() => (window as unknown as { failures: string[] }).failures)).toEqual([]);
        const media = seen.filter((s) => s.url.startsWith(url));
        expect(media.filter((s) => s.url.includes('.m4s')).length).toBeGreaterThan(2);
        for (const request of media) {
          expect([200, 206], request.url).toContain(request.status);
          const tokened = /[?&](hdnts|hdntl|__token__)=/.test(request.url);
          expect(tokened, request.url).toBe(request.url.includes('master.m3u8'));
        }
        const cookies = await context.cookies(`${url}/vod/vod-fmp4/`);
        expect(cookies.find((cookie) => cookie.name === 'hdntl')).toMatchObject({
          httpOnly: true,
          path: '/vod/vod-fmp4/',
          sameSite: 'Lax',
        });
        await context.close();
      },
      90_000,
    );

    it('CloudFront signed cookies from the publisher: Shaka and hls.js play the plain URL; without them 403', async () => {
      const publicKey = root('test/vectors/keys/cloudfront-a.public.pem');
      const url = await gateway({
        scheme: 'cloudfront',
        tokens: 'cookie',
        cloudfront: {
          keyPairs: [{ id: 'KA1B2C3D4E5F6', publicKeyFile: publicKey }],
          privateKeyFile: root('test/vectors/keys/cloudfront-a.private.pem'),
        },
      });
      for (const player of ['shaka', 'hls'] as const) {
        const context = await browser.newContext();
        const page = await context.newPage();
        const seen = watch(page);
        await page.goto(`${pageUrl}api/cloudfront-cookies?gateway=${encodeURIComponent(url)}`);
        await page.goto(`${pageUrl}?player=${player}&src=${encodeURIComponent(`${url}${MASTER}`)}`);
        await played(page, 6);
        const media = seen.filter((s) => s.url.startsWith(url));
        expect(media.filter((s) => s.url.includes('.m4s')).length).toBeGreaterThan(2);
        for (const request of media) {
          expect([200, 206], request.url).toContain(request.status);
          expect(request.url, 'no CloudFront field in a URL').not.toMatch(/Signature=|Policy=|Key-Pair-Id=/);
        }
        await context.close();
      }
      const bare = await browser.newContext();
      const page = await bare.newPage();
      const seen = watch(page);
      await page.goto(`${pageUrl}?player=hls&src=${encodeURIComponent(`${url}${MASTER}`)}`);
      await page.waitForFunction(
        () => (window as unknown as { failures: string[] }).failures.length > 0,
        null,
        { timeout: 20_000 },
      );
      expect(
        seen.filter((s) => s.url.startsWith(url)),
        JSON.stringify(seen),
      ).toEqual([{ url: `${url}${MASTER}`, status: 403 }]);
      await bare.close();
    }, 150_000);
  },
);
