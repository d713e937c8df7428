import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { ListenerError } from '../cli/startup.js';
import { configOrThrow } from '../config/index.js';
import { createGateway, type ListeningGateway } from '../gateway/index.js';
import { signTarget } from '../tokens/sign.js';
import { schemeByName } from '../tokens/registry.js';
import type { SchemeName } from '../tokens/scheme.js';
import { startLiveOrigin } from './live-origin.js';
import { startStaticOrigin } from './static-origin.js';

const root = (relative: string) => fileURLToPath(new URL(`../../${relative}`, import.meta.url));

export interface DemoStream {
  readonly id: string;
  readonly title: string;
  readonly type: 'hls' | 'dash';
  readonly path: string;
  readonly live: boolean;
}

export const DEMO_STREAMS: readonly DemoStream[] = [
  {
    id: 'vod-fmp4',
    title: 'VOD · HLS fMP4, 3 renditions, audio + subtitles',
    type: 'hls',
    path: '/vod/vod-fmp4/master.m3u8',
    live: false,
  },
  {
    id: 'vod-ts-aes',
    title: 'VOD · HLS MPEG-TS, AES-128',
    type: 'hls',
    path: '/vod/vod-ts-aes/master.m3u8',
    live: false,
  },
  {
    id: 'live',
    title: 'Live · HLS (sliding window)',
    type: 'hls',
    path: '/live/demo/master.m3u8',
    live: true,
  },
  {
    id: 'live-nimble',
    title: 'Live · HLS, Nimble-style session ids',
    type: 'hls',
    path: '/nimble/demo/playlist.m3u8',
    live: true,
  },
  {
    id: 'live-dash',
    title: 'Live · DASH (dynamic MPD, $Number$)',
    type: 'dash',
    path: '/live/demo/manifest.mpd',
    live: true,
  },
  {
    id: 'dash-number',
    title: 'VOD · DASH SegmentTemplate $Number$',
    type: 'dash',
    path: '/vod/dash/number/manifest.mpd',
    live: false,
  },
  {
    id: 'dash-timeline',
    title: 'VOD · DASH SegmentTimeline $Time$',
    type: 'dash',
    path: '/vod/dash/timeline/manifest.mpd',
    live: false,
  },
];

export interface DemoOptions {
  readonly host?: string;
  /** Port of the demo page; 0 picks a free one. */
  readonly port?: number;
  /** Port of the gateway; 0 picks a free one. */
  readonly gatewayPort?: number;
  readonly scheme?: SchemeName;
  /** How the gateway tokenises nested URIs (README, "The token strategies"); forward links are signed for their directory. */
  readonly tokens?: 'mint' | 'forward';
  readonly segmentTtl?: number;
  readonly logLevel?: 'silent' | 'info' | 'warn' | 'debug';
}

export interface Demo {
  readonly pageUrl: string;
  readonly gatewayUrl: string;
  readonly scheme: SchemeName;
  readonly tokens: 'mint' | 'forward';
  close(): Promise<void>;
}

function vendorFile(relative: string): string {
  const path = root(`node_modules/${relative}`);
  if (!existsSync(path)) {
    throw new Error(
      `the demo needs ${relative}: run "npm ci" in the streamgate checkout (it is a dev dependency)`,
    );
  }
  return path;
}

/**
 * The whole product on one machine: a VOD origin serving the committed fixtures, a live origin
 * simulator (plain and Nimble-style), the gateway in front of both with tokens required, and a
 * publisher page whose backend signs links with the library.
 */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const host = options.host ?? '127.0.0.1';
  // Whatever started is stopped again if a later part cannot: a failed demo must leave nothing running.
  const started: Array<() => Promise<void>> = [];
  const stopStarted = async (): Promise<void> => {
    await Promise.all(started.splice(0).map((close) => close().catch(() => undefined)));
  };
  try {
    return await startDemoParts(options, host, started);
  } catch (error) {
    await stopStarted();
    throw error;
  }
}

async function startDemoParts(
  options: DemoOptions,
  host: string,
  started: Array<() => Promise<void>>,
): Promise<Demo> {
  const schemeName = options.scheme ?? 'gcore';
  const scheme = schemeByName(schemeName)!;
  const tokens = options.tokens ?? 'mint';
  // Hex: ectoken (Azure) keys are letters and digits only; the MD5 schemes take any text.
  const secret = randomBytes(18).toString('hex');

  const vod = await startStaticOrigin({ root: root('fixtures/media'), mount: '/vod', host });
  started.push(() => vod.close());
  const live = await startLiveOrigin({
    sourceDir: root('fixtures/media/live-src'),
    dashSourceDir: root('fixtures/media/live-dash-src'),
    style: 'plain',
    host,
  });
  started.push(() => live.close());
  const nimble = await startLiveOrigin({
    sourceDir: root('fixtures/media/live-src'),
    style: 'nimble',
    app: 'nimble',
    host,
  });
  started.push(() => nimble.close());
  const zone = {
    scheme: schemeName,
    secrets: [secret],
    tokens,
    playlistTtl: 14_400,
    segmentTtl: options.segmentTtl ?? 30,
  } as const;
  const config = configOrThrow({
    listen: { host, port: options.gatewayPort ?? 0 },
    log: { level: options.logLevel ?? 'warn' },
    zones: [
      { name: 'vod', pathPrefix: '/vod', origin: vod.url, ...zone },
      { name: 'live', pathPrefix: '/live', origin: live.url, ...zone },
      { name: 'nimble', pathPrefix: '/nimble', origin: nimble.url, ...zone },
    ],
  });
  const gateway = createGateway(config);
  started.push(() => gateway.close());
  let listening: ListeningGateway;
  try {
    listening = await gateway.listen();
  } catch (error) {
    throw new ListenerError('gateway', host, config.listen.port, error);
  }
  const gatewayUrl = listening.url.replace(/\/$/, '');

  const app = express();
  app.disable('x-powered-by');
  app.get('/api/streams', (_req, res) => {
    res.json(DEMO_STREAMS.map(({ id, title, type, live: isLive }) => ({ id, title, type, live: isLive })));
  });
  // The publisher's backend: what the vendors' PHP snippets do, done with the library.
  app.get('/api/sign', (req, res) => {
    const stream = DEMO_STREAMS.find((s) => s.id === req.query.stream);
    const ttl = Number(req.query.ttl ?? 3600);
    if (!stream || !Number.isInteger(ttl) || ttl < 1 || ttl > 86_400) {
      res.status(400).json({ error: 'stream must be one of /api/streams and ttl 1–86400 seconds' });
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const variant = String(req.query.variant ?? 'valid');
    const expires = variant === 'expired' ? now - 60 : now + ttl;
    let url = signTarget(`${gatewayUrl}${stream.path}`, {
      scheme,
      secret,
      expires,
      scope: tokens === 'forward' ? 'directory' : 'file',
    });
    if (variant === 'tampered') {
      // One character of the token changed: what a viewer who edits a link gets.
      url = url.replace(
        /([?&](?:md5|token)=)(.)/,
        (_m, name: string, first: string) => `${name}${first === 'A' ? 'B' : 'A'}`,
      );
    }
    res.json({ url, expires });
  });
  app.get('/vendor/hls.min.js', (_req, res) => res.sendFile(vendorFile('hls.js/dist/hls.min.js')));
  app.get('/vendor/dash.all.min.js', (_req, res) =>
    res.sendFile(vendorFile('dashjs/dist/modern/umd/dash.all.min.js')),
  );
  app.get('/embed', (_req, res) => res.sendFile(root('player-demo/embed.html')));
  app.use(express.static(root('player-demo'), { index: 'index.html' }));

  const pagePort = options.port ?? 0;
  const server = createServer(app);
  started.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(pagePort, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    throw new ListenerError('page', host, pagePort, error);
  }
  const { port } = server.address() as AddressInfo;

  return {
    pageUrl: `http://${host}:${port}/`,
    gatewayUrl,
    scheme: schemeName,
    tokens,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await listening.close();
      await gateway.close();
      await Promise.all([vod.close(), live.close(), nimble.close()]);
    },
  };
}
