import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { httpGet, nowSeconds, signed, startGateway, TestOrigin, SECRET, OLD_SECRET } from './support.js';
import { signUrl } from '../../src/index.js';

const media = randomBytes(256 * 1024 + 17);

let origin: TestOrigin;
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file('/videos/video-1/seg-1.ts', { body: media, type: 'video/mp2t' });
  gw = await startGateway(origin.url);
});
afterAll(async () => {
  await gw.close();
  await origin.close();
});
afterEach(() => origin.reset());

async function get(path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  const res = await request(`${gw.url}${path}`, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

describe('a valid token is proxied to the origin, the body streamed unchanged', () => {
  it('valid → 200 with a byte-identical body', async () => {
    const res = await get(signed('/videos/video-1/seg-1.ts'));
    expect(res.status).toBe(200);
    expect(res.body.equals(media)).toBe(true);
    expect(res.headers['content-type']).toBe('video/mp2t');
    expect(res.headers['content-length']).toBe(String(media.length));
    expect(res.headers.etag).toMatch(/^"[0-9a-f]{16}"$/);
    expect(res.headers['last-modified']).toBe('Mon, 02 Nov 2026 10:00:00 GMT');
    expect(res.headers['cache-control']).toBe('max-age=60');
    expect(origin.requests).toHaveLength(1);
  });

  it('key rotation: a token signed with a later key of the list is accepted', async () => {
    const url = signUrl('/videos/video-1/seg-1.ts', { scheme: 'gcore', secret: OLD_SECRET, ttl: 60 });
    expect((await get(url)).status).toBe(200);
  });

  it('a directory token opens the files directly in its directory', async () => {
    const url = signUrl('/videos/video-1/seg-1.ts', { scheme: 'gcore', secret: SECRET, ttl: 60, dir: true });
    expect((await get(url)).status).toBe(200);
  });

  it('a path-embedded token opens the subtree and is removed before the origin', async () => {
    const url = signUrl('/videos/video-1/seg-1.ts', {
      scheme: 'gcore',
      secret: SECRET,
      ttl: 60,
      pathToken: true,
    });
    expect(url).toMatch(/\/videos\/video-1\/~[A-Za-z0-9_-]{22}~\d+\/seg-1\.ts$/);
    const res = await get(url);
    expect(res.status).toBe(200);
    expect(origin.requests[0]?.url).toBe('/videos/video-1/seg-1.ts');
  });
});

describe('denials are answered before the origin is contacted', () => {
  it('invalid → 403, naming the reason class only', async () => {
    const url = signed('/videos/video-1/seg-1.ts').replace(/md5=[^&]+/, 'md5=AAAAAAAAAAAAAAAAAAAAAA');
    const res = await get(url);
    expect(res.status).toBe(403);
    expect(res.body.toString()).toBe('403 Forbidden (invalid)\n');
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(origin.requests).toHaveLength(0);
  });

  it('expired → 410', async () => {
    const url = signUrl('/videos/video-1/seg-1.ts', {
      scheme: 'gcore',
      secret: SECRET,
      expires: nowSeconds() - 5,
    });
    const res = await get(url);
    expect(res.status).toBe(410);
    expect(res.body.toString()).toContain('(expired)');
    expect(origin.requests).toHaveLength(0);
  });

  it('missing token → 403 (missing)', async () => {
    const res = await get('/videos/video-1/seg-1.ts');
    expect(res.status).toBe(403);
    expect(res.body.toString()).toContain('(missing)');
  });

  it('a token for another file → 403; a forged token with a past expiry is 403, never 410', async () => {
    const other = signed('/videos/video-1/seg-2.ts').split('?')[1];
    expect((await get(`/videos/video-1/seg-1.ts?${other}`)).status).toBe(403);
    const forged = `/videos/video-1/seg-1.ts?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=${nowSeconds() - 100}`;
    expect((await get(forged)).status).toBe(403);
  });

  it('a dot segment → 400 before any token check', async () => {
    const res = await httpGet(gw.url, '/videos/video-1/%2e%2e/video-2/seg-1.ts');
    expect(res.status).toBe(400);
    expect(res.body.toString()).toContain('(path)');
  });

  it('denied requests never reach the origin (counted there)', async () => {
    const bad = [
      '/videos/video-1/seg-1.ts',
      '/videos/video-1/seg-1.ts?md5=x&expires=1',
      signed('/videos/video-1/seg-1.ts').replace('video-1', 'video-2'),
      signUrl('/videos/video-1/seg-1.ts', { scheme: 'gcore', secret: 'wrong-secret', ttl: 60 }),
      signUrl('/videos/video-1/seg-1.ts', { scheme: 'gcore', secret: SECRET, expires: nowSeconds() - 1 }),
    ];
    for (const path of bad) expect((await get(path)).status).toBeGreaterThanOrEqual(400);
    expect(origin.requests).toHaveLength(0);
  });

  it('methods other than GET, HEAD, OPTIONS → 405 with Allow', async () => {
    const res = await request(`${gw.url}${signed('/videos/video-1/seg-1.ts')}`, {
      method: 'POST',
      body: 'x',
    });
    await res.body.dump();
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(origin.requests).toHaveLength(0);
  });
});

describe('ranges, HEAD and conditional requests pass through', () => {
  it('Range → 206 with the right bytes and Content-Range', async () => {
    const res = await get(signed('/videos/video-1/seg-1.ts'), { range: 'bytes=1000-1999' });
    expect(res.status).toBe(206);
    expect(res.body.equals(media.subarray(1000, 2000))).toBe(true);
    expect(res.headers['content-range']).toBe(`bytes 1000-1999/${media.length}`);
    expect(origin.requests[0]?.headers.range).toBe('bytes=1000-1999');
  });

  it('HEAD → headers with the origin length and no body; HEAD goes upstream as HEAD', async () => {
    const res = await get(signed('/videos/video-1/seg-1.ts'), {}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(media.length));
    expect(res.body.length).toBe(0);
    expect(origin.requests[0]?.method).toBe('HEAD');
  });

  it('If-None-Match → 304 from the origin, passed through', async () => {
    const first = await get(signed('/videos/video-1/seg-1.ts'));
    const etag = String(first.headers.etag);
    const res = await get(signed('/videos/video-1/seg-1.ts'), { 'if-none-match': etag });
    expect(res.status).toBe(304);
    expect(res.body.length).toBe(0);
    expect(res.headers.etag).toBe(etag);
    expect(origin.requests[1]?.headers['if-none-match']).toBe(etag);
  });

  it('origin 4xx/5xx are passed through with their bodies', async () => {
    origin.route('/videos/video-1/broken.ts', (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '3' });
      res.end('origin busy');
    });
    const missing = await get(signed('/videos/video-1/nope.ts'));
    expect(missing.status).toBe(404);
    expect(missing.body.toString()).toBe('origin: not found');
    const busy = await get(signed('/videos/video-1/broken.ts'));
    expect(busy.status).toBe(503);
    expect(busy.headers['retry-after']).toBe('3');
    expect(busy.body.toString()).toBe('origin busy');
  });

  it('an origin redirect is passed to the viewer with its Location, not followed', async () => {
    origin.route('/videos/video-1/moved.ts', (_req, res) => {
      res.writeHead(302, { location: 'http://elsewhere.example/videos/video-1/seg-1.ts' });
      res.end();
    });
    const res = await get(signed('/videos/video-1/moved.ts'));
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('http://elsewhere.example/videos/video-1/seg-1.ts');
    expect(origin.requests).toHaveLength(1);
  });
});

describe('token parameters are removed, every other query parameter is kept byte for byte', () => {
  it('other query parameters arrive at the origin unchanged and in order', async () => {
    const url = signed('/videos/video-1/seg-1.ts');
    const token = url.split('?')[1] ?? '';
    const [md5, expires] = token.split('&');
    const target = `/videos/video-1/seg-1.ts?a=1&${md5}&b=%20x+y&nimblesessionid=5&${expires}&_HLS_msn=3&flag&c=%2F%3d`;
    const res = await get(target);
    expect(res.status).toBe(200);
    expect(origin.requests[0]?.url).toBe(
      '/videos/video-1/seg-1.ts?a=1&b=%20x+y&nimblesessionid=5&_HLS_msn=3&flag&c=%2F%3d',
    );
  });

  it('the upstream Host is the origin, never the viewer’s', async () => {
    await get(signed('/videos/video-1/seg-1.ts'), { host: 'viewer.example' });
    expect(origin.requests[0]?.headers.host).toBe(`127.0.0.1:${origin.port}`);
  });

  it('Cookie and Authorization stay at the gateway; media headers go through', async () => {
    await get(signed('/videos/video-1/seg-1.ts'), {
      cookie: 'session=abc',
      authorization: 'Bearer xyz',
      'user-agent': 'test-player/1.0',
      'accept-language': 'de',
    });
    const seen = origin.requests[0]?.headers ?? {};
    expect(seen.cookie).toBeUndefined();
    expect(seen.authorization).toBeUndefined();
    expect(seen['user-agent']).toBe('test-player/1.0');
    expect(seen['accept-language']).toBe('de');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-request-id']).toMatch(/^[a-z0-9]+-[a-z0-9]+$/);
  });
});

describe('RFC 9110 §7.6.1: hop-by-hop headers are dropped both ways', () => {
  it('drops Connection, Keep-Alive, TE, Proxy-*, Upgrade and headers named in Connection', async () => {
    origin.route('/videos/video-1/hop.ts', (_req, res) => {
      res.writeHead(200, {
        connection: 'keep-alive, x-origin-hop',
        'x-origin-hop': 'secret',
        'keep-alive': 'timeout=30',
        'proxy-authenticate': 'Basic',
        'x-kept': 'yes',
        'content-length': '2',
      });
      res.end('ok');
    });
    const path = signed('/videos/video-1/hop.ts');
    const response = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
      (resolve, reject) => {
        const req = httpRequest(`${gw.url}${path}`, {
          headers: {
            connection: 'keep-alive, x-client-hop',
            'x-client-hop': '1',
            'keep-alive': 'timeout=5',
            te: 'trailers',
            'proxy-authorization': 'Basic eDp5',
            'user-agent': 'hop-test',
          },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on('error', reject);
        req.end();
      },
    );
    expect(response.status).toBe(200);
    expect(response.body).toBe('ok');
    expect(response.headers['x-origin-hop']).toBeUndefined();
    expect(response.headers['proxy-authenticate']).toBeUndefined();
    expect(response.headers['keep-alive']).not.toBe('timeout=30');
    expect(response.headers['x-kept']).toBe('yes');
    const seen = origin.requests[0]?.headers ?? {};
    expect(seen['x-client-hop']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen['user-agent']).toBe('hop-test');
  });
});

describe('origin failures', () => {
  it('origin down → 502 with one log line', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const logs: string[] = [];
    const down = await startGateway(`http://127.0.0.1:${closed}`, {}, {}, logs);
    try {
      const res = await request(`${down.url}${signed('/videos/video-1/seg-1.ts')}`);
      expect(res.statusCode).toBe(502);
      expect(await res.body.text()).toContain('origin unreachable');
      const lines = logs
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((l) => l.kind === 'unreachable');
      expect(lines).toHaveLength(1);
      expect(lines[0]?.level).toBe('warn');
      expect(lines[0]?.code).toBe('ECONNREFUSED');
    } finally {
      await down.close();
    }
  });

  it('slow origin → 504 after the headers timeout', async () => {
    origin.route('/videos/video-1/slow.ts', () => {
      // never answers
    });
    const slow = await startGateway(
      origin.url,
      {},
      { timeouts: { connectMs: 1000, headersMs: 300, bodyMs: 1000 } },
    );
    try {
      const started = Date.now();
      const res = await request(`${slow.url}${signed('/videos/video-1/slow.ts')}`);
      expect(res.statusCode).toBe(504);
      expect(await res.body.text()).toContain('origin headers timeout');
      // The 300 ms headersMs, not the 30 s default: a bound far from both, for a loaded machine.
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await slow.close();
    }
  });

  it('an origin that breaks mid-body ends the viewer response with an error, not a hang', async () => {
    origin.route('/videos/video-1/cut.ts', (_req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': '100000' });
      res.write(Buffer.alloc(10_000, 1));
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const res = await request(`${gw.url}${signed('/videos/video-1/cut.ts')}`);
    expect(res.statusCode).toBe(200);
    await expect(res.body.arrayBuffer()).rejects.toThrow();
  });

  it('a viewer who disconnects aborts the origin request', async () => {
    let started!: () => void;
    const originStarted = new Promise<void>((resolve) => (started = resolve));
    const originClosed = new Promise<void>((resolve) => {
      origin.route('/videos/video-1/endless.ts', (_req, res) => {
        res.writeHead(200, { 'content-type': 'video/mp2t' });
        const timer = setInterval(() => res.write(Buffer.alloc(16_384)), 10);
        res.on('close', () => {
          clearInterval(timer);
          resolve();
        });
        started();
      });
    });
    const controller = new AbortController();
    const res = await request(`${gw.url}${signed('/videos/video-1/endless.ts')}`, {
      signal: controller.signal,
    });
    expect(res.statusCode).toBe(200);
    await originStarted;
    controller.abort();
    await expect(res.body.arrayBuffer()).rejects.toThrow();
    await originClosed;
    expect(origin.aborted).toBe(1);
  });
});

describe('denial settings per zone', () => {
  it('a zone can answer denials with a 302 to a paywall page, and change statuses', async () => {
    const paywall = await startGateway(origin.url, {
      denial: {
        redirect: 'https://paywall.example/subscribe',
        redirectOn: ['expired'],
        status: { invalid: 401 },
      },
    });
    try {
      const expired = signUrl('/videos/video-1/seg-1.ts', {
        scheme: 'gcore',
        secret: SECRET,
        expires: nowSeconds() - 5,
      });
      const res = await request(`${paywall.url}${expired}`);
      await res.body.dump();
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('https://paywall.example/subscribe');
      const invalid = await request(
        `${paywall.url}/videos/video-1/seg-1.ts?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=9999999999`,
      );
      expect(invalid.statusCode).toBe(401);
      expect(await invalid.body.text()).toContain('(invalid)');
      const path = await httpGet(paywall.url, '/videos/%2e%2e/seg-1.ts');
      expect(path.status).toBe(400);
      expect(origin.requests).toHaveLength(0);
    } finally {
      await paywall.close();
    }
  });
});

describe('Accept-Encoding: only codings the gateway can undo reach the origin', () => {
  it('drops zstd and unknown codings, keeps gzip and br with their weights', async () => {
    await get(signed('/videos/video-1/seg-1.ts'), { 'accept-encoding': 'zstd, br;q=0.9, gzip;q=0.8, foo' });
    expect(origin.requests[0]?.headers['accept-encoding']).toBe('br;q=0.9, gzip;q=0.8');
    await get(signed('/videos/video-1/seg-1.ts'), { 'accept-encoding': 'zstd' });
    expect(origin.requests[1]?.headers['accept-encoding']).toBeUndefined();
  });
});

describe('the gateway as an express application', () => {
  it('gateway.app can be mounted in another server and behaves the same', async () => {
    const { createServer } = await import('node:http');
    const server = createServer(gw.gateway.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ok = await httpGet(base, signed('/videos/video-1/seg-1.ts'));
      expect(ok.status).toBe(200);
      expect(ok.body.equals(media)).toBe(true);
      expect((await httpGet(base, '/videos/video-1/seg-1.ts')).status).toBe(403);
      expect((await httpGet(base, '/_streamgate/healthz')).body.toString()).toBe('ok');
      expect((await httpGet(base, '/_streamgate/nope')).status).toBe(404);
      expect((await httpGet(base, '//evil.example/x')).status).toBe(400);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
