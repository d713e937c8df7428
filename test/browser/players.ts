/**
 * What the player tests share: a page server with the four players from npm (Shaka Player, video.js
 * with VHS, hls.js, dash.js), gateways in front of an origin, and the network as Chromium saw it.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { Browser, Page, Response } from 'playwright-core';
import { expect } from 'vitest';
import { configOrThrow, type ConfigInput } from '../../src/config/index.js';
import { createGateway } from '../../src/gateway/index.js';

export type PlayerName = 'shaka' | 'videojs' | 'hlsjs' | 'dashjs';

const root = (relative: string): string => fileURLToPath(new URL(`../../${relative}`, import.meta.url));

const VENDOR: Readonly<Record<PlayerName, string>> = {
  shaka: 'node_modules/shaka-player/dist/shaka-player.compiled.js',
  videojs: 'node_modules/video.js/dist/video.min.js',
  hlsjs: 'node_modules/hls.js/dist/hls.min.js',
  dashjs: 'node_modules/dashjs/dist/modern/umd/dash.all.min.js',
};

export interface Server {
  readonly url: string;
  close(): Promise<void>;
}

/** The test page (test/browser/players.html) and the players' files, on 127.0.0.1. */
export async function startPlayerPage(): Promise<Server> {
  const app = express();
  app.get('/', (_req, res) => res.sendFile(root('test/browser/players.html')));
  app.get('/vendor/:player.js', (req, res) => {
    const file = VENDOR[req.params.player as PlayerName];
    if (file === undefined || !existsSync(root(file))) {
      res.status(404).send(`no player ${req.params.player}: run npm ci (it is a dev dependency)`);
      return;
    }
    res.sendFile(root(file));
  });
  return listen(app);
}

export async function listen(app: express.Express): Promise<Server> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface TestGateway extends Server {
  /** Every log line, parsed (debug level: one `proxied` or `denied` line per request). */
  readonly logs: Array<Record<string, unknown>>;
}

/** A gateway with one zone (gcore) in front of `origin`, logging every request into memory. */
export async function startTestGateway(
  origin: string,
  zone: Partial<ConfigInput['zones'][number]>,
  secret: string,
): Promise<TestGateway> {
  const logs: Array<Record<string, unknown>> = [];
  const config = configOrThrow({
    log: { level: 'debug' },
    zones: [
      {
        name: 'players',
        origin,
        scheme: 'gcore',
        secrets: [secret],
        ...zone,
      } as ConfigInput['zones'][number],
    ],
  });
  const gateway = createGateway(config, {
    defaultMetrics: false,
    logDestination: {
      write(line: string) {
        for (const one of line.split('\n'))
          if (one !== '') logs.push(JSON.parse(one) as Record<string, unknown>);
      },
    },
  });
  const listening = await gateway.listen({ host: '127.0.0.1', port: 0 });
  return { url: listening.url, logs, close: () => gateway.close() };
}

export interface Seen {
  readonly url: string;
  readonly status: number;
}

/** Every response the page received, from the network itself (not from the page's own log). */
export function watch(page: Page): Seen[] {
  const seen: Seen[] = [];
  page.on('response', (response: Response) => {
    // blob: and data: URLs are the players' own buffers, not network requests.
    if (/^https?:/.test(response.url())) seen.push({ url: response.url(), status: response.status() });
  });
  page.on('requestfailed', (request) => {
    // A request the player cancelled itself (a quality switch, a seek) is no failure of the gateway.
    if (request.failure()?.errorText !== 'net::ERR_ABORTED') seen.push({ url: request.url(), status: 0 });
  });
  return seen;
}

/** A Gcore token in the query (`md5`, `expires`) or in the path (`/~TOKEN~EXPIRES/`). */
export function carriesToken(url: string): boolean {
  const u = new URL(url);
  return (
    /\/~[A-Za-z0-9_-]{22}~\d+\//.test(u.pathname) ||
    (u.searchParams.has('md5') && u.searchParams.has('expires'))
  );
}

export async function mediaTime(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { video?: HTMLVideoElement }).video?.currentTime ?? 0);
}

export async function playerErrors(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { playerErrors: string[] }).playerErrors);
}

/** Opens the test page with one player on `src` and waits until `seconds` of media have played. */
export async function play(
  browser: Browser,
  pageUrl: string,
  player: PlayerName,
  src: string,
  type: 'hls' | 'dash',
  seconds: number,
  timeoutMs: number,
): Promise<{ page: Page; seen: Seen[] }> {
  const page = await browser.newPage();
  const seen = watch(page);
  const query = new URLSearchParams({ player, src, type });
  await page.goto(`${pageUrl}/?${query}`);
  try {
    await page.waitForFunction(
      (target) => {
        const w = window as unknown as { video?: HTMLVideoElement; playerErrors: string[] };
        return w.playerErrors.length > 0 || (w.video?.currentTime ?? 0) >= target;
      },
      seconds,
      { timeout: timeoutMs, polling: 250 },
    );
  } catch (error) {
    const statuses = seen.filter((s) => s.status >= 400 || s.status === 0).map((s) => `${s.status} ${s.url}`);
    throw new Error(
      `${player} did not play ${seconds} s of ${src} (at ${await mediaTime(page)} s; errors ${await playerErrors(page)}; failed requests ${statuses.join(', ')})`,
      { cause: error },
    );
  }
  return { page, seen };
}

/**
 * The token strategies as a player sees them: nothing went to a third party, the media were fetched, and every request
 * to the gateway was answered 200/206 and carried a token.
 */
export function expectCleanNetwork(
  seen: readonly Seen[],
  gateway: string,
  pageUrl: string,
  media: RegExp,
): void {
  const gatewayHost = new URL(gateway).host;
  const hosts = new Set(seen.map((s) => new URL(s.url).host));
  expect([...hosts].filter((h) => h !== gatewayHost && h !== new URL(pageUrl).host)).toEqual([]);
  const requests = seen.filter((s) => new URL(s.url).host === gatewayHost);
  expect(requests.filter((s) => media.test(new URL(s.url).pathname)).length).toBeGreaterThan(1);
  for (const request of requests) {
    expect([200, 206], request.url).toContain(request.status);
    expect(carriesToken(request.url), request.url).toBe(true);
  }
}

/** Runs `tasks` with at most `limit` at once (pages share two cores with the rest of the suite). */
export async function pool<T>(limit: number, tasks: ReadonlyArray<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next;
      next += 1;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
