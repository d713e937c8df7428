import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveOrigin, type LiveOrigin } from '../../src/demo/live-origin.js';
import { startStaticOrigin, type StaticOrigin } from '../../src/demo/static-origin.js';
import { signUrl } from '../../src/index.js';
import { chromiumStatus, INSTALL_HINT, launchChromium } from './chromium.js';
import {
  mediaTime,
  playerErrors,
  startPlayerPage,
  startTestGateway,
  watch,
  type PlayerName,
  type Seen,
  type Server,
  type TestGateway,
} from './players.js';

/** The access log's line for a request the gateway answered (the origin's answer or a manifest). */
const isProxied = (line: { msg?: unknown; status?: unknown; target?: unknown }): boolean =>
  line.msg === 'access' && Number(line.status) < 400 && !String(line.target).startsWith('/_streamgate/');
/** The access log's line for a request the gateway refused. */
const isDenied = (line: { msg?: unknown; status?: unknown }): boolean =>
  line.msg === 'access' && Number(line.status) >= 400;

// Live, from an entry link that expires 5 s after signing: a minute of playback without one 403 or 410.
// Every player runs in the same minute, so the section costs about 70 s of wall time, not five minutes:
// dash.js and Shaka on live DASH from ffmpeg's DASH muxer (its MPD names no Location; the gateway adds
// one), hls.js, Shaka and GStreamer on the Nimble-style live HLS of src/demo/live-origin.ts, GStreamer
// on the simulator's live DASH through the session redirect (it ignores Location), and a control:
// dash.js through a gateway that inserts no Location, and GStreamer through one that does not redirect,
// get a 410 within seconds.

const status = chromiumStatus();
const tools = ['ffmpeg', 'gst-launch-1.0'].filter(
  (tool) => spawnSync(tool, [tool === 'ffmpeg' ? '-version' : '--version'], { stdio: 'ignore' }).status !== 0,
);
const skip = status === 'missing' || (tools.length > 0 && !process.env.CI);
if (skip) console.warn(`live player tests skipped: chromium, ffmpeg and GStreamer needed — ${INSTALL_HINT}`);

const SECRET = 'live-players-secret';
const ENTRY_TTL = 5;
const PLAY_SECONDS = 60;
const fixtures = (relative: string): string =>
  fileURLToPath(new URL(`../../fixtures/media/${relative}`, import.meta.url));

/**
 * A live DASH stream as an ffmpeg user writes one: lavfi test sources, ffmpeg's DASH muxer, an MPD
 * players reload every 2 s (minimumUpdatePeriod). $Number$ without a SegmentTimeline: dash.js 5.2 stops
 * at its first segment on ffmpeg 5.1's live timeline, with or without the gateway.
 */
function startFfmpegDash(dir: string): ChildProcess {
  return spawn(
    'ffmpeg',
    [
      ...['-hide_banner', '-nostdin', '-v', 'error', '-re'],
      ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p'],
      ...['-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '64k', '-ac', '1'],
      ...['-f', 'dash', '-seg_duration', '2', '-window_size', '15', '-extra_window_size', '15'],
      ...['-update_period', '2', '-use_template', '1', '-use_timeline', '0'],
      ...[
        '-init_seg_name',
        'init-$RepresentationID$.m4s',
        '-media_seg_name',
        'seg-$RepresentationID$-$Number%05d$.m4s',
      ],
      'manifest.mpd',
    ],
    { cwd: dir, stdio: 'ignore' },
  );
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

interface Viewer {
  readonly label: string;
  readonly page: Page;
  readonly seen: Seen[];
  readonly gateway: string;
}

/** GStreamer playing at the clock's pace (sync=true) until stopped; its output kept for the report. */
function gstreamer(url: string): { child: ChildProcess; output: () => string; exited: () => boolean } {
  const child = spawn(
    'gst-launch-1.0',
    ['playbin', `uri=${url}`, 'video-sink=fakesink sync=true', 'audio-sink=fakesink sync=true'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let exited = false;
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.on('exit', () => (exited = true));
  return { child, output: () => output.slice(-3000), exited: () => exited };
}

describe.skipIf(skip)('a minute of live playback from a 5-second entry link, every player at once', () => {
  let browser: Browser;
  let page: Server;
  let ffDir: string;
  let encoder: ChildProcess;
  let ffOrigin: StaticOrigin;
  let nimble: LiveOrigin;
  let simulator: LiveOrigin;
  let gateway: TestGateway;
  let control: TestGateway;
  let nimbleGateway: TestGateway;
  let simGateway: TestGateway;
  let simControl: TestGateway;

  beforeAll(async () => {
    if (status === 'missing-in-ci')
      throw new Error(`CI=true and /usr/bin/chromium is missing: ${INSTALL_HINT}`);
    if (tools.length > 0)
      throw new Error(`CI=true and ${tools.join(', ')} missing: apt-get install ffmpeg gstreamer1.0-tools …`);
    ffDir = mkdtempSync(join(tmpdir(), 'streamgate-live-dash-'));
    encoder = startFfmpegDash(ffDir);
    ffOrigin = await startStaticOrigin({ root: ffDir, mount: '/live/ff' });
    nimble = await startLiveOrigin({ sourceDir: fixtures('live-src'), style: 'nimble', app: 'nimble' });
    simulator = await startLiveOrigin({
      sourceDir: fixtures('live-src'),
      dashSourceDir: fixtures('live-dash-src'),
      style: 'plain',
      app: 'sim',
    });
    const mint = { tokens: 'mint', playlistTtl: 3600, segmentTtl: 30 } as const;
    gateway = await startTestGateway(ffOrigin.url, mint, SECRET);
    // The control: the same stream through a gateway that inserts no Location.
    control = await startTestGateway(ffOrigin.url, { ...mint, dashLocation: false }, SECRET);
    nimbleGateway = await startTestGateway(nimble.url, mint, SECRET);
    simGateway = await startTestGateway(simulator.url, { ...mint, dashSessionRedirect: true }, SECRET);
    simControl = await startTestGateway(simulator.url, mint, SECRET);
    page = await startPlayerPage();
    browser = await launchChromium();
    // Three segments written: players joining now find a live edge.
    await waitFor(() => existsSync(join(ffDir, 'seg-0-00003.m4s')), 30_000, "ffmpeg's first segments");
  }, 60_000);

  afterAll(async () => {
    encoder?.kill('SIGTERM');
    await browser?.close();
    for (const server of [
      gateway,
      control,
      nimbleGateway,
      simGateway,
      simControl,
      page,
      ffOrigin,
      nimble,
      simulator,
    ]) {
      await server?.close();
    }
    if (ffDir) rmSync(ffDir, { recursive: true, force: true });
  });

  const entry = (gatewayUrl: string, path: string): string =>
    `${gatewayUrl}${signUrl(path, { scheme: 'gcore', secret: SECRET, ttl: ENTRY_TTL })}`;

  async function open(
    label: string,
    player: PlayerName,
    gatewayUrl: string,
    path: string,
    type: 'hls' | 'dash',
  ) {
    const tab = await browser.newPage();
    const seen = watch(tab);
    await tab.goto(`${page.url}/?${new URLSearchParams({ player, type })}`);
    await tab.waitForFunction(
      () => typeof (window as unknown as { startPlayer?: unknown }).startPlayer === 'function',
    );
    // Signed now, with the player loaded: the link's 5 seconds are the player's, not the page load's.
    await tab.evaluate(
      (src) => (window as unknown as { startPlayer(src: string): void }).startPlayer(src),
      entry(gatewayUrl, path),
    );
    return { label, page: tab, seen, gateway: gatewayUrl } satisfies Viewer;
  }

  /** Media time once playing, then a minute more; never a 403 or 410 on the way. */
  async function minute(viewer: Viewer): Promise<void> {
    const { page: tab, seen, label } = viewer;
    const refused = (): Seen[] => seen.filter((s) => s.status === 403 || s.status === 410);
    const explain = async (): Promise<string> =>
      `${label}: at ${await mediaTime(tab)} s, errors ${JSON.stringify(await playerErrors(tab))}, refused ${refused()
        .map((s) => `${s.status} ${s.url}`)
        .slice(0, 3)
        .join(', ')}`;
    const deadline = Date.now() + 110_000;
    let start = 0;
    while (start === 0) {
      if (Date.now() > deadline || refused().length > 0) throw new Error(`never started: ${await explain()}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      start = await mediaTime(tab);
    }
    while ((await mediaTime(tab)) < start + PLAY_SECONDS) {
      if (Date.now() > deadline || refused().length > 0) throw new Error(await explain());
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(refused(), label).toEqual([]);
    expect(await playerErrors(tab), label).toEqual([]);
    // The entry link died a minute ago; the MPD or playlist kept being reloaded through the gateway.
    const reloads = seen.filter((s) => /\.(mpd|m3u8)$/.test(new URL(s.url).pathname) && s.status === 200);
    expect(reloads.length, `${label} manifest reloads`).toBeGreaterThan(10);
  }

  it('dash.js and Shaka (live DASH, ffmpeg), hls.js, Shaka and GStreamer (Nimble HLS), GStreamer (DASH, session redirect) play ≥ 60 s with no 403/410; without the Location dash.js, without the redirect GStreamer, gets a 410', async () => {
    const viewers = await Promise.all([
      open('dash.js, ffmpeg live DASH', 'dashjs', gateway.url, '/live/ff/manifest.mpd', 'dash'),
      open('Shaka, ffmpeg live DASH', 'shaka', gateway.url, '/live/ff/manifest.mpd', 'dash'),
      open('hls.js, Nimble live HLS', 'hlsjs', nimbleGateway.url, nimble.entryPath('hlsjs'), 'hls'),
      open('Shaka, Nimble live HLS', 'shaka', nimbleGateway.url, nimble.entryPath('shaka'), 'hls'),
    ]);
    const controlViewer = await open(
      'dash.js, no Location',
      'dashjs',
      control.url,
      '/live/ff/manifest.mpd',
      'dash',
    );
    const gstHls = gstreamer(entry(nimbleGateway.url, nimble.entryPath('gst')));
    const gstDash = gstreamer(entry(simGateway.url, simulator.mpdPath('gst')));
    const gstControl = gstreamer(entry(simControl.url, simulator.mpdPath('control')));
    const started = Date.now();
    try {
      // Without a Location dash.js reloads from the entry link: 410 within seconds of its expiry. So
      // does GStreamer without the session redirect, although the simulator's MPD names a Location.
      await waitFor(
        () => controlViewer.seen.some((s) => s.status === 410),
        40_000,
        'the control to get a 410',
      );
      await controlViewer.page.close();
      await waitFor(
        () => simControl.logs.some((l) => isDenied(l) && l.status === 410),
        40_000,
        'GStreamer without the session redirect to get a 410',
      );
      gstControl.child.kill('SIGINT');
      await Promise.all(viewers.map(minute));
      // GStreamer: at least a minute of playing at the clock's pace, still fetching media at the end.
      await waitFor(() => Date.now() - started > (PLAY_SECONDS + 5) * 1000, 90_000, 'a minute of GStreamer');
      for (const [label, run, logs, prefix, media] of [
        ['GStreamer, Nimble live HLS', gstHls, nimbleGateway.logs, '/nimble/gst/', /\.ts$/],
        ['GStreamer, live DASH, session redirect', gstDash, simGateway.logs, '/sim/gst/', /\.m4s$/],
      ] as const) {
        expect(run.exited(), `${label} exited early: ${run.output()}`).toBe(false);
        const mine = logs.filter((l) => String(l.target ?? '').startsWith(prefix));
        expect(
          mine.filter((l) => isDenied(l)),
          label,
        ).toEqual([]);
        const segments = mine.filter((l) => isProxied(l) && media.test(String(l.target).split('?')[0]!));
        for (const segment of segments)
          expect([200, 206], `${label} ${segment.target}`).toContain(segment.status);
        const late = segments.filter((l) => Date.parse(String(l.time)) > started + PLAY_SECONDS * 1000);
        expect(late.length, `${label} still fetching media after a minute`).toBeGreaterThan(0);
      }
    } finally {
      gstHls.child.kill('SIGINT');
      gstDash.child.kill('SIGINT');
      gstControl.child.kill('SIGINT');
      for (const viewer of viewers) await viewer.page.close().catch(() => {});
    }
  }, 200_000);
});
