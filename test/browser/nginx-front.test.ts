/**
 * The deployment that scales past one process, end to end: Debian's nginx started unprivileged with the
 * configuration `streamgate nginx-config` writes, three `streamgate serve` processes behind it, the
 * demo's origins (fixtures/media VOD, the live simulator plain and Nimble-style), and real players in
 * Chromium loading 2-second entry links. nginx checks and moves every segment; the gateways see only
 * manifests (and the auth questions of the ectoken zone). One gateway is killed during live playback and
 * playback goes on through the others.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configOrThrow, type ConfigInput } from '../../src/config/index.js';
import { startLiveOrigin, type LiveOrigin } from '../../src/demo/live-origin.js';
import { startStaticOrigin, type StaticOrigin } from '../../src/demo/static-origin.js';
import { signUrl } from '../../src/index.js';
import { NGINX_HINT, nginxStatus, startNginxFront, type RunningNginx } from '../helpers/nginx.js';
import { chromiumStatus, INSTALL_HINT, launchChromium } from './chromium.js';

/** The access log's line for a request the gateway answered (the origin's answer or a manifest). */
const isProxied = (line: { msg?: unknown; status?: unknown; target?: unknown }): boolean =>
  line.msg === 'access' && Number(line.status) < 400 && !String(line.target).startsWith('/_streamgate/');
/** The access log's line for a request the gateway refused. */
const isDenied = (line: { msg?: unknown; status?: unknown }): boolean =>
  line.msg === 'access' && Number(line.status) >= 400;

const root = (relative: string) => fileURLToPath(new URL(`../../${relative}`, import.meta.url));
const cli = root('bin/streamgate.js');
const browserStatus = chromiumStatus();
const frontStatus = nginxStatus();
const missing = browserStatus === 'missing' || frontStatus === 'missing';
if (missing) {
  console.warn(
    `nginx front browser tests skipped: ${browserStatus === 'missing' ? `chromium not found — ${INSTALL_HINT}` : `nginx not found — ${NGINX_HINT}`}`,
  );
}

const SECRET = randomBytes(18).toString('hex');
const AZURE_KEY = randomBytes(16).toString('hex');

interface Instance {
  readonly child: ChildProcess;
  readonly url: string;
  readonly lines: Array<Record<string, unknown>>;
}

/** `streamgate serve --config FILE` as its own process, on a free port; its JSON log lines kept. */
async function startInstance(configFile: string): Promise<Instance> {
  const child = spawn('node', [cli, 'serve', '--config', configFile, '--port', '0'], {
    env: { PATH: process.env.PATH },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(line);
      if (typeof line.url === 'string' && String(line.msg).startsWith('listening')) resolve(line.url);
    });
    child.once('exit', (code) =>
      reject(new Error(`streamgate serve exited ${code}: ${stderr.slice(0, 800)}`)),
    );
  });
  return { child, url, lines };
}

interface Seen {
  readonly url: string;
  readonly status: number;
  readonly at: number;
}

function watch(page: Page): Seen[] {
  const seen: Seen[] = [];
  page.on('response', (response) => {
    if (/^https?:/.test(response.url()))
      seen.push({ url: response.url(), status: response.status(), at: Date.now() });
  });
  page.on('requestfailed', (request) => seen.push({ url: request.url(), status: 0, at: Date.now() }));
  return seen;
}

async function played(page: Page): Promise<number> {
  return page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).currentTime);
}

async function playUntil(page: Page, seconds: number, timeoutMs: number): Promise<void> {
  await page.waitForFunction(
    (target) => (document.getElementById('video') as HTMLVideoElement).currentTime >= target,
    seconds,
    { timeout: timeoutMs, polling: 250 },
  );
}

const PLAYER_PAGE = `<!doctype html><meta charset="utf-8"><title>front</title>
<video id="video" muted autoplay playsinline controls width="640"></video>
<script src="/hls.js"></script><script src="/dash.js"></script>
<script>
  // Like a publisher's page: the players are loaded, then the backend signs the link, then it plays.
  const params = new URLSearchParams(location.search);
  const video = document.getElementById('video');
  fetch('/api/sign?' + params).then((res) => res.text()).then((src) => {
    if (params.get('type') === 'dash') {
      const player = dashjs.MediaPlayer().create();
      player.initialize(video, src, true);
    } else {
      const hls = new Hls({ subtitleDisplay: true });
      hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => { hls.subtitleTrack = 0; });
      hls.loadSource(src);
      hls.attachMedia(video);
      video.play().catch(() => {});
    }
  });
</script>`;

describe.skipIf(missing)('nginx front + three gateways: players in Chromium (issue: data plane)', () => {
  let browser: Browser;
  let front: RunningNginx;
  let pageUrl: string;
  let scratch: string;
  const instances: Instance[] = [];
  const origins: Array<StaticOrigin | LiveOrigin> = [];
  let server: ReturnType<ReturnType<typeof express>['listen']>;

  beforeAll(async () => {
    if (browserStatus === 'missing-in-ci')
      throw new Error(`CI=true and chromium is missing: ${INSTALL_HINT}`);
    if (frontStatus === 'missing-in-ci') throw new Error(`CI=true and nginx is missing: ${NGINX_HINT}`);
    if (!existsSync(root('dist/cli/main.js'))) throw new Error('dist/ is missing: run "npm run build" first');
    const vod = await startStaticOrigin({ root: root('fixtures/media'), mount: '/vod' });
    const azure = await startStaticOrigin({ root: root('fixtures/media'), mount: '/azure' });
    const live = await startLiveOrigin({
      sourceDir: root('fixtures/media/live-src'),
      dashSourceDir: root('fixtures/media/live-dash-src'),
      style: 'plain',
    });
    const nimble = await startLiveOrigin({
      sourceDir: root('fixtures/media/live-src'),
      style: 'nimble',
      app: 'nimble',
    });
    origins.push(vod, azure, live, nimble);
    const zone = { scheme: 'gcore', secrets: [SECRET], tokens: 'mint' as const, segmentTtl: 30 };
    const input: ConfigInput = {
      log: { level: 'debug' },
      trustedProxies: ['127.0.0.1'],
      zones: [
        { name: 'vod', pathPrefix: '/vod', origin: vod.url, ...zone },
        { name: 'live', pathPrefix: '/live', origin: live.url, ...zone },
        { name: 'nimble', pathPrefix: '/nimble', origin: nimble.url, ...zone },
        {
          name: 'azure',
          pathPrefix: '/azure',
          origin: azure.url,
          scheme: 'ectoken',
          secrets: [AZURE_KEY],
          tokens: 'mint',
        },
      ],
    };
    scratch = mkdtempSync(join(tmpdir(), 'sg-fleet-'));
    const configFile = join(scratch, 'config.json');
    writeFileSync(configFile, JSON.stringify(input), { mode: 0o600 });
    instances.push(...(await Promise.all([0, 1, 2].map(() => startInstance(configFile)))));
    front = await startNginxFront(configOrThrow(input), {
      gateways: instances.map((instance) => instance.url),
    });

    const app = express();
    app.get('/', (_req, res) => res.type('html').send(PLAYER_PAGE));
    // The publisher's backend: a 2-second entry link through the front, signed when the page asks.
    app.get('/api/sign', (req, res) => {
      const scheme = req.query.scheme === 'ectoken' ? 'ectoken' : 'gcore';
      res.type('text').send(
        signUrl(`${front.url}${String(req.query.path)}`, {
          scheme,
          secret: scheme === 'gcore' ? SECRET : AZURE_KEY,
          ttl: 2,
          ...(scheme === 'ectoken' ? { dir: true } : {}),
        }),
      );
    });
    app.get('/hls.js', (_req, res) => res.sendFile(root('node_modules/hls.js/dist/hls.min.js')));
    app.get('/dash.js', (_req, res) =>
      res.sendFile(root('node_modules/dashjs/dist/modern/umd/dash.all.min.js')),
    );
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await front?.stop();
    for (const instance of instances) instance.child.kill('SIGTERM');
    await Promise.all(origins.map((origin) => origin.close()));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  function media(seen: readonly Seen[]): Seen[] {
    const host = new URL(front.url).host;
    const page = new URL(pageUrl).host;
    expect(seen.filter((s) => new URL(s.url).host !== host && new URL(s.url).host !== page)).toEqual([]);
    return seen.filter((s) => new URL(s.url).host === host);
  }

  async function open(
    path: string,
    type: 'hls' | 'dash',
    scheme: 'gcore' | 'ectoken' = 'gcore',
  ): Promise<{ page: Page; seen: Seen[] }> {
    const page = await browser.newPage();
    const seen = watch(page);
    await page.goto(`${pageUrl}?type=${type}&scheme=${scheme}&path=${encodeURIComponent(path)}`);
    return { page, seen };
  }

  it('hls.js plays VOD fMP4 with subtitles from a 2-second link; segments and subtitles come from nginx', async () => {
    const { page, seen } = await open('/vod/vod-fmp4/master.m3u8', 'hls');
    await playUntil(page, 8, 40_000);
    await page.waitForFunction(
      () =>
        Array.from((document.getElementById('video') as HTMLVideoElement).textTracks).some(
          (t) => (t.cues?.length ?? 0) > 0,
        ),
      null,
      { timeout: 15_000 },
    );
    const requests = media(seen);
    for (const request of requests) expect([200, 206], request.url).toContain(request.status);
    expect(requests.some((r) => r.url.includes('.vtt'))).toBe(true);
    expect(requests.filter((r) => /\.m4s\?/.test(r.url)).length).toBeGreaterThan(3);
    await page.close();
  }, 90_000);

  it('dash.js plays DASH from a 2-second link (template segments on directory tokens, the nginx chain)', async () => {
    const { page, seen } = await open('/vod/dash/number/manifest.mpd', 'dash');
    await playUntil(page, 8, 45_000);
    const requests = media(seen);
    for (const request of requests) expect([200, 206], request.url).toContain(request.status);
    expect(requests.filter((r) => r.url.includes('.m4s')).length).toBeGreaterThan(3);
    await page.close();
  }, 90_000);

  it('an ectoken zone plays through /_streamgate/auth: nginx asks the gateways, then moves the bytes', async () => {
    const { page, seen } = await open('/azure/vod-fmp4/master.m3u8', 'hls', 'ectoken');
    await playUntil(page, 6, 40_000);
    for (const request of media(seen)) expect([200, 206], request.url).toContain(request.status);
    const checked = front
      .accessLog()
      .filter((line) => String(line.path).startsWith('/azure/') && String(line.path).endsWith('.m4s'));
    expect(checked.length).toBeGreaterThan(2);
    expect(checked.every((line) => line.check === 'gateway-auth' && line.status === 200)).toBe(true);
    await page.close();
  }, 90_000);

  it('the live Nimble-style stream plays from a 2-second link, and on when its gateway is killed', async () => {
    const { page, seen } = await open('/nimble/demo/playlist.m3u8', 'hls');
    await playUntil(page, 0.1, 30_000);
    const start = await played(page);
    await playUntil(page, start + 8, 30_000);
    // The instance that serves this stream's chunk list (hash on the path): kill it, no goodbye.
    const serving = instances.filter((instance) =>
      instance.lines.some((line) => isProxied(line) && String(line.target).includes('chunks.m3u8')),
    );
    expect(serving.length).toBe(1);
    const victim = serving[0]!;
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    const before = await played(page);
    await playUntil(page, before + 16, 40_000);
    const after = media(seen).filter((s) => s.at > killedAt);
    expect(after.filter((s) => s.url.includes('chunks.m3u8')).length).toBeGreaterThan(3);
    for (const request of after) expect([200, 206], request.url).toContain(request.status);
    // Another instance took the chunk list over; the survivors log it.
    const survivors = instances.filter((instance) => instance !== victim);
    expect(
      survivors.some((instance) =>
        instance.lines.some((line) => isProxied(line) && String(line.target).includes('chunks.m3u8')),
      ),
    ).toBe(true);
    // Every request is still checked: each media answer of the front came from a check.
    const log = front.accessLog().filter((line) => String(line.path).startsWith('/nimble/'));
    expect(log.length).toBeGreaterThan(10);
    for (const line of log) {
      expect(['nginx', 'nginx-chain', 'gateway'], JSON.stringify(line)).toContain(line.check);
      expect([200, 206], JSON.stringify(line)).toContain(line.status);
    }
    // A segment the player fetched, replayed with its token tampered with: still refused after the kill.
    const segment = after.find((s) => /\.ts\?/.test(s.url))!;
    const tampered = segment.url.replace(/md5=(.)/, (_m, c: string) => `md5=${c === 'A' ? 'B' : 'A'}`);
    expect((await fetch(tampered)).status).toBe(403);
    await page.close();
  }, 120_000);

  it('tampered, expired and missing tokens get 403, 410 and 403 from nginx itself', async () => {
    const path = '/vod/vod-fmp4/v0/seg_001.m4s';
    const good = signUrl(`${front.url}${path}`, { scheme: 'gcore', secret: SECRET, ttl: 60 });
    const expired = signUrl(`${front.url}${path}`, {
      scheme: 'gcore',
      secret: SECRET,
      expires: Math.floor(Date.now() / 1000) - 5,
    });
    const tampered = good.replace(/md5=(.)/, (_m, c: string) => `md5=${c === 'A' ? 'B' : 'A'}`);
    for (const [url, expected] of [
      [good, 200],
      [tampered, 403],
      [expired, 410],
      [`${front.url}${path}`, 403],
    ] as const) {
      const res = await fetch(url);
      await res.arrayBuffer();
      expect(res.status, url).toBe(expected);
      // nginx answered (the gateways send no Server header).
      expect(res.headers.get('server')).toBe('nginx');
    }
  });

  it('the gateways’ logs show manifests only: not one segment went through a gateway', () => {
    const proxied = instances.flatMap((instance) => instance.lines.filter((line) => isProxied(line)));
    expect(proxied.length).toBeGreaterThan(4);
    for (const line of proxied) expect(String(line.target)).toMatch(/\.(?:m3u8|mpd)(?:\?|$)/);
    const denied = instances.flatMap((instance) => instance.lines.filter((line) => isDenied(line)));
    expect(denied.map((line) => [line.reason, line.target, line.detail])).toEqual([]);
  });
});
