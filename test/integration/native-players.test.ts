import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticOrigin, type StaticOrigin } from '../../src/demo/static-origin.js';
import { signUrl } from '../../src/index.js';
import { startTestGateway, type TestGateway } from '../browser/players.js';

/** The access log's line for a request the gateway answered (the origin's answer or a manifest). */
const isProxied = (line: { msg?: unknown; status?: unknown; target?: unknown }): boolean =>
  line.msg === 'access' && Number(line.status) < 400 && !String(line.target).startsWith('/_streamgate/');
/** The access log's line for a request the gateway refused. */
const isDenied = (line: { msg?: unknown; status?: unknown }): boolean =>
  line.msg === 'access' && Number(line.status) >= 400;

// Players built on GStreamer and on libavformat (ffmpeg, ffprobe, mpv, …), from Debian's packages,
// pulling HLS and DASH through a mint gateway; every request they make is read back from the gateway's
// own log. A missing tool is skipped with the install command on a developer's machine and fails in CI.

const INSTALL =
  'sudo apt-get install -y gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav ffmpeg';
const have = (tool: string, flag: string): boolean =>
  spawnSync(tool, [flag], { stdio: 'ignore' }).status === 0;
const TOOLS = { gst: have('gst-launch-1.0', '--version'), ffmpeg: have('ffmpeg', '-version') };
const missing = Object.entries(TOOLS)
  .filter(([, present]) => !present)
  .map(([name]) => name);
if (missing.length > 0 && !process.env.CI)
  console.warn(`native player tests skipped (${missing}): ${INSTALL}`);

const SECRET = 'native-players-secret';

interface Run {
  readonly code: number | null;
  readonly output: string;
}

function runTool(command: string, args: readonly string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.slice(-2000) });
    });
  });
}

/** playbin with sinks that do not wait for the clock: exits 0 at end of stream. */
const gstreamer = (url: string): Promise<Run> =>
  runTool(
    'gst-launch-1.0',
    [
      '-q',
      'playbin',
      `uri=${url}`,
      'video-sink=fakesink sync=false',
      'audio-sink=fakesink sync=false',
      'text-sink=fakesink sync=false',
    ],
    60_000,
  );

/**
 * Every stream of the presentation demuxed and decoded for 8 s; -xerror turns a bad packet into a
 * failure. Not to the end: ffmpeg 5.1 asks for one $Number$ segment past the end of a static MPD (404).
 */
const ffmpeg = (url: string): Promise<Run> =>
  runTool(
    'ffmpeg',
    [
      '-hide_banner',
      '-nostdin',
      '-v',
      'error',
      '-xerror',
      '-i',
      url,
      '-map',
      '0',
      '-t',
      '8',
      '-f',
      'null',
      '-',
    ],
    90_000,
  );

const STREAMS = [
  { id: 'HLS fMP4 (3 renditions, audio, subtitles)', path: '/vod/vod-fmp4/master.m3u8', media: /\.m4s$/ },
  { id: 'HLS TS with AES-128', path: '/vod/vod-ts-aes/master.m3u8', media: /\.ts$/ },
  { id: 'DASH $Number$', path: '/vod/dash/number/manifest.mpd', media: /\.m4s$/ },
  {
    id: 'DASH one directory per Representation',
    path: '/vod/dash/per-representation/manifest.mpd',
    media: /\.m4s$/,
  },
  // BaseURL + SegmentBase: ffmpeg reads it as one file per Representation, its BaseURL as text.
  { id: 'DASH SegmentBase (leaf BaseURL)', path: '/vod/dash/single/segmentbase.mpd', media: /\.mp4$/ },
] as const;

describe.skipIf(missing.length > 0 && !process.env.CI)(
  'GStreamer and ffmpeg play through the gateway',
  () => {
    let origin: StaticOrigin;
    let gateway: TestGateway;
    let withoutPathTokens: TestGateway;

    beforeAll(async () => {
      if (missing.length > 0) throw new Error(`CI=true and ${missing.join(', ')} missing: ${INSTALL}`);
      origin = await startStaticOrigin({
        root: fileURLToPath(new URL('../../fixtures/media', import.meta.url)),
        mount: '/vod',
      });
      // No manifest cache: every request, manifests included, is one `proxied` log line.
      gateway = await startTestGateway(
        origin.url,
        { tokens: 'mint', cache: { livePlaylists: false } },
        SECRET,
      );
      withoutPathTokens = await startTestGateway(
        origin.url,
        { tokens: 'mint', cache: { livePlaylists: false }, pathTokens: false },
        SECRET,
      );
    });
    afterAll(async () => {
      await gateway?.close();
      await withoutPathTokens?.close();
      await origin?.close();
    });

    const players = { gstreamer, ffmpeg } as const;
    for (const [name, player] of Object.entries(players)) {
      for (const stream of STREAMS) {
        // One retry: a player process starved on a loaded two-core machine once hung past its timeout
        // with every request answered; a real failure fails both runs.
        it(
          `${name} plays ${stream.id}: exit 0, every request in the gateway log answered 200/206, none denied`,
          { retry: 1, timeout: 120_000 },
          async () => {
            const from = gateway.logs.length;
            const url = `${gateway.url}${signUrl(stream.path, { scheme: 'gcore', secret: SECRET, ttl: 60 })}`;
            const run = await player(url);
            const answered = gateway.logs
              .slice(from)
              .filter((l) => l.msg === 'access')
              .map((l) => `${String(l.status)} ${String(l.target)} ${String(l.ms)} ms`);
            expect(run.code, `${run.output}\ngateway answered:\n${answered.join('\n')}`).toBe(0);
            const lines = gateway.logs.slice(from);
            const requests = lines.filter((l) => isProxied(l) || isDenied(l));
            expect(lines.filter((l) => isDenied(l))).toEqual([]);
            for (const request of requests)
              expect([200, 206], String(request.target)).toContain(request.status);
            const media = requests.filter((l) => stream.media.test(String(l.target).split('?')[0] ?? ''));
            expect(media.length, 'media requests through the gateway').toBeGreaterThan(1);
            expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
          },
        );
      }
    }

    // pathTokens: false: mint gives a leaf BaseURL its own query token instead of a path form. GStreamer
    // keeps the query (ffmpeg 5.1 does not: README "Token rules").
    it(
      'gstreamer plays DASH SegmentBase (leaf BaseURL) in a mint zone without path tokens',
      { retry: 1, timeout: 120_000 },
      async () => {
        const path = '/vod/dash/single/segmentbase.mpd';
        const url = `${withoutPathTokens.url}${signUrl(path, { scheme: 'gcore', secret: SECRET, ttl: 60 })}`;
        const run = await gstreamer(url);
        expect(run.code, run.output).toBe(0);
        const lines = withoutPathTokens.logs.filter((l) => isProxied(l) || isDenied(l));
        expect(lines.filter((l) => isDenied(l))).toEqual([]);
        const media = lines.filter((l) => /\.mp4\?(?:.*&)?md5=/.test(String(l.target)));
        expect(media.length, 'query-token media requests').toBeGreaterThan(1);
        expect(lines.filter((l) => String(l.target).includes('/~'))).toEqual([]);
      },
    );
  },
);
