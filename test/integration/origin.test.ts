/**
 * The static test origin (test/helpers/origin.ts) against RFC 9110: ranges (§14), conditional requests
 * (§13), HEAD (§9.3.2), content types, path containment, request recording, and the failure routes the
 * gateway tests rely on. Expected bytes come from reading the fixture files directly.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MEDIA_ROOT,
  breakMidway,
  delay,
  generated,
  gzip,
  hang,
  patternByte,
  redirect,
  reply,
  startOrigin,
  type Origin,
} from '../helpers/origin.js';

const SEGMENT = 'vod-ts-aes/seg_003.ts';
const segmentBytes = readFileSync(join(DEFAULT_MEDIA_ROOT, SEGMENT));

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** node:http with the request target sent byte for byte (fetch would normalise `..` and `%2e`). */
function raw(
  origin: Origin,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: origin.port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
});

describe('static files', () => {
  it('serves a whole file with its length, validators and Accept-Ranges', async () => {
    const res = await fetch(`${origin.url}/${SEGMENT}`);
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    expect(body.equals(segmentBytes)).toBe(true);
    expect(res.headers.get('content-length')).toBe(String(segmentBytes.length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(Date.parse(res.headers.get('last-modified') ?? '')).not.toBeNaN();
  });

  it.each([
    ['vod-fmp4/master.m3u8', 'application/vnd.apple.mpegurl'],
    ['dash/number/manifest.mpd', 'application/dash+xml'],
    ['vod-ts-aes/seg_000.ts', 'video/mp2t'],
    ['vod-fmp4/v0/seg_000.m4s', 'video/iso.segment'],
    ['vod-fmp4/v0/init.mp4', 'video/mp4'],
    ['vod-fmp4/subs/en.vtt', 'text/vtt'],
    ['vod-ts-aes/key.bin', 'application/octet-stream'],
    ['live-src/manifest.json', 'application/json'],
  ])('labels %s as %s', async (path, type) => {
    const res = await fetch(`${origin.url}/${path}`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
  });

  it('serves files in nested rendition directories', async () => {
    const res = await fetch(`${origin.url}/vod-fmp4/v2/index.m3u8`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(readFileSync(join(DEFAULT_MEDIA_ROOT, 'vod-fmp4/v2/index.m3u8'), 'utf8'));
  });

  it('HEAD: the GET headers, Content-Length included, and no body (RFC 9110 §9.3.2)', async () => {
    const res = await raw(origin, `/${SEGMENT}`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(segmentBytes.length));
    expect(res.headers['content-type']).toBe('video/mp2t');
    expect(res.body.length).toBe(0);
  });

  it('answers 404 for a missing file and for a directory, 405 for POST', async () => {
    expect((await raw(origin, '/vod-fmp4/v0/nope.m4s')).status).toBe(404);
    expect((await raw(origin, '/vod-fmp4/v0')).status).toBe(404);
    const post = await raw(origin, `/${SEGMENT}`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it.each([
    '/../package.json',
    '/vod-fmp4/../../package.json',
    '/%2e%2e/package.json',
    '/vod-fmp4/..%2f..%2fpackage.json',
    '/vod-fmp4/%2E%2E/%2E%2E/package.json',
    '/vod-fmp4/..%5c..%5cpackage.json',
    '/vod-fmp4/master.m3u8%00.ts',
    '/%E0%A4%A',
  ])('never serves a path that leaves the root or is ambiguous: %s', async (path) => {
    const res = await raw(origin, path);
    expect(res.status).toBe(400);
    expect(res.body.toString()).not.toContain('"name"');
  });
});

describe('ranges (RFC 9110 §14)', () => {
  it('bytes=a-b gives 206 with exactly bytes a..b and Content-Range', async () => {
    const res = await raw(origin, `/${SEGMENT}`, { headers: { range: 'bytes=188-375' } });
    expect(res.status).toBe(206);
    expect(res.body.equals(segmentBytes.subarray(188, 376))).toBe(true);
    expect(res.headers['content-range']).toBe(`bytes 188-375/${segmentBytes.length}`);
    expect(res.headers['content-length']).toBe('188');
  });

  it('bytes=a- runs to the end; a last-byte-pos past the end is clipped', async () => {
    const open = await raw(origin, `/${SEGMENT}`, { headers: { range: 'bytes=1000-' } });
    expect(open.status).toBe(206);
    expect(open.body.equals(segmentBytes.subarray(1000))).toBe(true);
    const past = await raw(origin, `/${SEGMENT}`, {
      headers: { range: `bytes=10-${segmentBytes.length + 500}` },
    });
    expect(past.headers['content-range']).toBe(`bytes 10-${segmentBytes.length - 1}/${segmentBytes.length}`);
    expect(past.body.equals(segmentBytes.subarray(10))).toBe(true);
  });

  it('bytes=-n is the last n bytes', async () => {
    const res = await raw(origin, `/${SEGMENT}`, { headers: { range: 'bytes=-100' } });
    expect(res.status).toBe(206);
    expect(res.body.equals(segmentBytes.subarray(segmentBytes.length - 100))).toBe(true);
  });

  it('a first-byte-pos at or past the end is 416 with Content-Range bytes */size', async () => {
    const res = await raw(origin, `/${SEGMENT}`, { headers: { range: `bytes=${segmentBytes.length}-` } });
    expect(res.status).toBe(416);
    expect(res.headers['content-range']).toBe(`bytes */${segmentBytes.length}`);
  });

  it('several ranges, or a malformed one, are ignored: 200 with the whole file', async () => {
    for (const range of ['bytes=0-9,20-29', 'bytes=9-0', 'items=0-9']) {
      const res = await raw(origin, `/${SEGMENT}`, { headers: { range } });
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(segmentBytes.length);
    }
  });

  it('If-Range with the current ETag keeps the range; with another one sends everything (§13.1.5)', async () => {
    const etag = (await raw(origin, `/${SEGMENT}`, { method: 'HEAD' })).headers.etag!;
    const same = await raw(origin, `/${SEGMENT}`, { headers: { range: 'bytes=0-9', 'if-range': etag } });
    expect(same.status).toBe(206);
    expect(same.body.length).toBe(10);
    const other = await raw(origin, `/${SEGMENT}`, { headers: { range: 'bytes=0-9', 'if-range': '"0-0"' } });
    expect(other.status).toBe(200);
    expect(other.body.length).toBe(segmentBytes.length);
  });

  it('a range request for a playlist in a subdirectory works too', async () => {
    const text = readFileSync(join(DEFAULT_MEDIA_ROOT, 'vod-fmp4/v0/iframes.m3u8'));
    const res = await raw(origin, '/vod-fmp4/v0/iframes.m3u8', { headers: { range: 'bytes=0-6' } });
    expect(res.body.toString()).toBe('#EXTM3U');
    expect(res.headers['content-range']).toBe(`bytes 0-6/${text.length}`);
  });
});

describe('conditional requests (RFC 9110 §13)', () => {
  it('If-None-Match with the current ETag is 304 with the validators and no body', async () => {
    const first = await raw(origin, `/${SEGMENT}`);
    const res = await raw(origin, `/${SEGMENT}`, { headers: { 'if-none-match': first.headers.etag! } });
    expect(res.status).toBe(304);
    expect(res.headers.etag).toBe(first.headers.etag);
    expect(res.body.length).toBe(0);
  });

  it('If-None-Match compares weakly and accepts lists and *', async () => {
    const etag = (await raw(origin, `/${SEGMENT}`, { method: 'HEAD' })).headers.etag!;
    for (const inm of [`W/${etag}`, `"nope", ${etag}`, '*']) {
      expect((await raw(origin, `/${SEGMENT}`, { headers: { 'if-none-match': inm } })).status).toBe(304);
    }
    expect((await raw(origin, `/${SEGMENT}`, { headers: { 'if-none-match': '"nope"' } })).status).toBe(200);
  });

  it('If-Modified-Since at or after Last-Modified is 304; before it is 200', async () => {
    const lastModified = (await raw(origin, `/${SEGMENT}`, { method: 'HEAD' })).headers['last-modified']!;
    const at = await raw(origin, `/${SEGMENT}`, { headers: { 'if-modified-since': lastModified } });
    expect(at.status).toBe(304);
    const before = new Date(Date.parse(lastModified) - 1000).toUTCString();
    expect((await raw(origin, `/${SEGMENT}`, { headers: { 'if-modified-since': before } })).status).toBe(200);
  });

  it('If-None-Match that does not match wins over a fresh If-Modified-Since (§13.2.2)', async () => {
    const lastModified = (await raw(origin, `/${SEGMENT}`, { method: 'HEAD' })).headers['last-modified']!;
    const res = await raw(origin, `/${SEGMENT}`, {
      headers: { 'if-none-match': '"nope"', 'if-modified-since': lastModified },
    });
    expect(res.status).toBe(200);
  });
});

describe('request recording', () => {
  it('records method, the raw query byte for byte, and headers', async () => {
    origin.clearRequests();
    const query = 'nimblesessionid=42&b=%20x&c&wmsAuthSign=c2Vy+/w==';
    await raw(origin, `/vod-fmp4/master.m3u8?${query}`, { headers: { 'x-probe': 'one' } });
    await raw(origin, '/vod-fmp4/master.m3u8', { method: 'HEAD' });
    expect(origin.hits('/vod-fmp4/master.m3u8')).toBe(2);
    const [first, second] = origin.requestsFor('/vod-fmp4/master.m3u8');
    expect(first!.method).toBe('GET');
    expect(first!.query).toBe(query);
    expect(first!.url).toBe(`/vod-fmp4/master.m3u8?${query}`);
    expect(first!.headers['x-probe']).toBe('one');
    expect(first!.status).toBe(200);
    expect(first!.finished).toBe(true);
    expect(second!.method).toBe('HEAD');
    expect(second!.query).toBe('');
  });
});

describe('programmable routes', () => {
  it('a route overrides the file tree and can be removed again', async () => {
    const remove = origin.route('/vod-fmp4/master.m3u8', reply({ status: 503, body: 'busy' }));
    const res = await raw(origin, '/vod-fmp4/master.m3u8');
    expect(res.status).toBe(503);
    expect(res.body.toString()).toBe('busy');
    remove();
    expect((await raw(origin, '/vod-fmp4/master.m3u8')).status).toBe(200);
  });

  it('a route can serve another fixture file with the static semantics', async () => {
    const remove = origin.route(/^\/alias\//, (_req, _res, ctx) => ctx.serveFile(SEGMENT));
    const res = await raw(origin, '/alias/anything.ts', { headers: { range: 'bytes=0-187' } });
    remove();
    expect(res.status).toBe(206);
    expect(res.body.equals(segmentBytes.subarray(0, 188))).toBe(true);
  });

  it('generated: N pattern bytes, streamed only as fast as the client reads', async () => {
    const size = 64 * 1024 * 1024;
    const remove = origin.route('/big.ts', generated({ size }));
    origin.clearRequests();
    const received = await new Promise<{ bytes: number; sentWhilePaused: number; sample: number[] }>(
      (resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: origin.port, path: '/big.ts' }, (res) => {
          res.pause();
          // While nobody reads, the origin must stop at what the socket buffers hold.
          setTimeout(() => {
            const sentWhilePaused = origin.requestsFor('/big.ts')[0]!.bytesSent;
            let bytes = 0;
            const sample: number[] = [];
            res.on('data', (c: Buffer) => {
              for (const at of [0, c.length - 1]) if (sample.length < 64) sample.push(bytes + at, c[at]!);
              bytes += c.length;
            });
            res.on('end', () => resolve({ bytes, sentWhilePaused, sample }));
            res.resume();
          }, 300);
        });
        req.on('error', reject);
        req.end();
      },
    );
    remove();
    expect(received.bytes).toBe(size);
    expect(received.sentWhilePaused).toBeLessThan(size / 2);
    for (let i = 0; i < received.sample.length; i += 2) {
      expect(received.sample[i + 1]).toBe(received.sample[i]! % 251);
    }
    expect(patternByte(251 * 3 + 7)).toBe(7);
  });

  it('delay: the response comes after the delay; a client that gives up is seen as aborted', async () => {
    const remove = origin.route('/slow.m3u8', delay(5_000));
    const aborted = origin.waitForAbort('/slow.m3u8');
    await expect(fetch(`${origin.url}/slow.m3u8`, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    const record = await aborted;
    remove();
    expect(record.aborted).toBe(true);
    expect(record.finished).toBe(false);

    const quick = origin.route('/slow2.m3u8', delay(150, reply({ body: '#EXTM3U\n' })));
    const started = Date.now();
    const res = await fetch(`${origin.url}/slow2.m3u8`);
    expect(await res.text()).toBe('#EXTM3U\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    quick();
  });

  it('hang: no response at all until the client leaves', async () => {
    const remove = origin.route('/hang.ts', hang());
    const controller = new AbortController();
    const pending = fetch(`${origin.url}/hang.ts`, { signal: controller.signal });
    await origin.waitForRequests('/hang.ts', 1);
    const aborted = origin.waitForAbort('/hang.ts');
    controller.abort();
    await expect(pending).rejects.toThrow();
    const record = await aborted;
    expect(record.aborted).toBe(true);
    expect(record.bytesSent).toBe(0);
    remove();
  });

  it('breakMidway: the body stops after the promised prefix and the client sees an error', async () => {
    const remove = origin.route('/broken.ts', breakMidway({ size: 1_000_000, breakAfter: 100_000 }));
    const got = await new Promise<{ bytes: number; error: boolean }>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: origin.port, path: '/broken.ts' }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ bytes, error: false }));
        res.on('error', () => resolve({ bytes, error: true }));
        res.on('aborted', () => resolve({ bytes, error: true }));
      });
      req.on('error', () => resolve({ bytes: -1, error: true }));
      req.end();
    });
    remove();
    expect(got.error).toBe(true);
    expect(got.bytes).toBe(100_000);
  });

  it('redirect: status and Location as given', async () => {
    const remove = origin.route('/old/master.m3u8', redirect('/vod-fmp4/master.m3u8', 301));
    const res = await raw(origin, '/old/master.m3u8');
    remove();
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/vod-fmp4/master.m3u8');
  });

  it('gzip: compressed only for a client that accepts gzip, Vary: Accept-Encoding either way', async () => {
    const playlist = readFileSync(join(DEFAULT_MEDIA_ROOT, 'vod-fmp4/master.m3u8'));
    const remove = origin.route('/gz/master.m3u8', gzip({ body: playlist }));
    const zipped = await raw(origin, '/gz/master.m3u8', { headers: { 'accept-encoding': 'br, gzip;q=0.5' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('Accept-Encoding');
    expect(gunzipSync(zipped.body).equals(playlist)).toBe(true);
    const refused = await raw(origin, '/gz/master.m3u8', { headers: { 'accept-encoding': 'gzip;q=0, br' } });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.body.equals(playlist)).toBe(true);
    const plain = await raw(origin, '/gz/master.m3u8');
    expect(plain.headers['content-encoding']).toBeUndefined();
    remove();
  });
});
