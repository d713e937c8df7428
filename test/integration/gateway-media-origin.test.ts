/**
 * The gateway in front of the shared test origin (test/helpers/origin.ts): real fixture media with that
 * origin's own RFC 9110 semantics (ranges, validators), and its failure routes. An origin written
 * independently of the gateway checks the pass-through claims a second time.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { signUrl } from '../../src/index.js';
import {
  breakMidway,
  DEFAULT_MEDIA_ROOT,
  generated,
  gzip,
  hang,
  redirect,
  startOrigin,
  type Origin,
} from '../helpers/origin.js';
import { SECRET, signed, startGateway } from './support.js';

const fixture = (path: string) =>
  readFileSync(fileURLToPath(new URL(`.${path}`, `file://${DEFAULT_MEDIA_ROOT}`)));

let origin: Origin;
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  origin = await startOrigin();
  gw = await startGateway(
    origin.url,
    { tokens: 'mint', segmentTtl: 60 },
    { timeouts: { connectMs: 1000, headersMs: 400, bodyMs: 2000 } },
  );
});
afterAll(async () => {
  await gw.close();
  await origin.close();
});
afterEach(() => origin.clearRequests());

/** Every URI of a playlist: URI lines and URI="…" attributes. */
function uris(playlist: string): string[] {
  const out: string[] = [];
  for (const line of playlist.split(/\r?\n/)) {
    if (line === '') continue;
    if (!line.startsWith('#')) out.push(line);
    else for (const match of line.matchAll(/URI="([^"]*)"/g)) out.push(match[1] ?? '');
  }
  return out;
}

/** Walks a VOD the way a player would, from one short master link, fetching every nested resource. */
async function crawl(master: string): Promise<Map<string, { status: number; bytes: Buffer }>> {
  const seen = new Map<string, { status: number; bytes: Buffer }>();
  const queue = [master];
  while (queue.length > 0) {
    const url = queue.shift() ?? '';
    const key = new URL(url).pathname;
    if (seen.has(key)) continue;
    const res = await request(url);
    const bytes = Buffer.from(await res.body.arrayBuffer());
    seen.set(key, { status: res.statusCode, bytes });
    if (key.endsWith('.m3u8') && res.statusCode === 200) {
      for (const uri of uris(bytes.toString('utf8'))) queue.push(new URL(uri, url).href);
    }
  }
  return seen;
}

describe('a whole VOD through the gateway from one 2-minute master link (mint)', () => {
  it.each(['/vod-fmp4/master.m3u8', '/vod-ts-aes/master.m3u8'])(
    '%s: every nested resource is 200 and byte-identical',
    async (path) => {
      const seen = await crawl(`${gw.url}${signUrl(path, { scheme: 'gcore', secret: SECRET, ttl: 120 })}`);
      expect(seen.size).toBeGreaterThan(10);
      for (const [resource, { status, bytes }] of seen) {
        expect(status, resource).toBe(200);
        if (!resource.endsWith('.m3u8')) expect(bytes.equals(fixture(resource)), resource).toBe(true);
      }
      // The origin saw every request without a token parameter.
      for (const record of origin.requests) expect(record.query).toBe('');
    },
  );
});

describe('RFC 9110 semantics of the origin pass through', () => {
  const segment = '/vod-ts-aes/seg_003.ts';

  it('Range → 206 with the origin’s bytes and Content-Range', async () => {
    const res = await request(`${gw.url}${signed(segment)}`, { headers: { range: 'bytes=188-1127' } });
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(res.statusCode).toBe(206);
    expect(body.equals(fixture(segment).subarray(188, 1128))).toBe(true);
    expect(res.headers['content-range']).toBe(`bytes 188-1127/${fixture(segment).length}`);
  });

  it('validators: If-None-Match and If-Modified-Since → 304', async () => {
    const first = await request(`${gw.url}${signed(segment)}`);
    await first.body.dump();
    const etag = String(first.headers.etag);
    const lastModified = String(first.headers['last-modified']);
    expect(etag).not.toBe('undefined');
    const byEtag = await request(`${gw.url}${signed(segment)}`, { headers: { 'if-none-match': etag } });
    await byEtag.body.dump();
    expect(byEtag.statusCode).toBe(304);
    const byDate = await request(`${gw.url}${signed(segment)}`, {
      headers: { 'if-modified-since': lastModified },
    });
    await byDate.body.dump();
    expect(byDate.statusCode).toBe(304);
  });

  it('HEAD → the origin’s length, no body', async () => {
    const res = await request(`${gw.url}${signed(segment)}`, { method: 'HEAD' });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(fixture(segment).length));
    expect(origin.requests.at(-1)?.method).toBe('HEAD');
  });
});

describe('origin failures, with the shared origin’s failure routes', () => {
  it('a hanging origin → 504', async () => {
    origin.route('/fail/hang.ts', hang());
    const res = await request(`${gw.url}${signed('/fail/hang.ts')}`);
    expect(res.statusCode).toBe(504);
    await res.body.dump();
  });

  it('a body broken midway → the viewer’s response errors instead of completing', async () => {
    origin.route('/fail/broken.ts', breakMidway({ size: 1_000_000, breakAfter: 200_000, reset: true }));
    const res = await request(`${gw.url}${signed('/fail/broken.ts')}`);
    expect(res.statusCode).toBe(200);
    await expect(res.body.arrayBuffer()).rejects.toThrow();
  });

  it('a viewer who leaves aborts the origin exchange', async () => {
    origin.route('/fail/big.ts', generated({ size: 200 * 1024 * 1024 }));
    const controller = new AbortController();
    const res = await request(`${gw.url}${signed('/fail/big.ts')}`, { signal: controller.signal });
    const aborted = origin.waitForAbort('/fail/big.ts', 5000);
    const reader = res.body[Symbol.asyncIterator]();
    await reader.next();
    controller.abort();
    const record = await aborted;
    expect(record.aborted).toBe(true);
    expect(record.bytesSent).toBeLessThan(200 * 1024 * 1024);
  });

  it('a redirect is handed to the viewer, not followed', async () => {
    origin.route('/fail/moved.ts', redirect('/vod-ts-aes/seg_000.ts', 307));
    const res = await request(`${gw.url}${signed('/fail/moved.ts')}`);
    await res.body.dump();
    expect(res.statusCode).toBe(307);
    expect(res.headers.location).toBe('/vod-ts-aes/seg_000.ts');
    expect(origin.hits('/vod-ts-aes/seg_000.ts')).toBe(0);
  });

  it('a gzip playlist from an origin that ignores Accept-Encoding: identity is still rewritten', async () => {
    origin.route('/live/gz/index.m3u8', gzip({ body: fixture('/vod-ts-aes/index.m3u8'), force: true }));
    const path = signed('/live/gz/index.m3u8');
    const res = await request(`${gw.url}${path}`);
    const text = await res.body.text();
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(origin.requests.at(-1)?.headers['accept-encoding']).toBe('identity');
    const nested = uris(text);
    expect(nested.length).toBe(16);
    for (const uri of nested) expect(uri).toMatch(/\?md5=[A-Za-z0-9_-]{22}&expires=\d+$/);
  });
});
