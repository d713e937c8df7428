import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { signUrl } from '../../src/index.js';
import { httpGet, SECRET, signed, startGateway, TestOrigin } from './support.js';

let origin: TestOrigin;

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file('/videos/video-1/seg-1.ts', { body: 'segment-1', type: 'video/mp2t' });
  origin.file('/videos/video-10/seg-1.ts', { body: 'segment-10', type: 'video/mp2t' });
  origin.file('/premium/a.ts', { body: 'premium', type: 'video/mp2t' });
});
afterAll(async () => {
  await origin.close();
});
afterEach(() => origin.reset());

describe('CORS for browser players', () => {
  it('a preflight is answered 204 by the gateway with methods and headers, never reaching the origin', async () => {
    const gw = await startGateway(origin.url);
    try {
      const res = await request(`${gw.url}/videos/video-1/seg-1.ts`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://player.example',
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'range',
        },
      });
      await res.body.dump();
      expect(res.statusCode).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.headers['access-control-allow-methods']).toBe('GET, HEAD, OPTIONS');
      expect(String(res.headers['access-control-allow-headers'])).toMatch(/\bRange\b/);
      expect(origin.requests).toHaveLength(0);
    } finally {
      await gw.close();
    }
  });

  it('responses and denials carry CORS headers and expose the headers players read', async () => {
    const gw = await startGateway(origin.url);
    try {
      const ok = await request(`${gw.url}${signed('/videos/video-1/seg-1.ts')}`, {
        headers: { origin: 'https://player.example' },
      });
      await ok.body.dump();
      expect(ok.headers['access-control-allow-origin']).toBe('*');
      const exposed = String(ok.headers['access-control-expose-headers']);
      for (const name of ['Content-Length', 'Content-Range', 'Accept-Ranges', 'ETag', 'Date']) {
        expect(exposed).toContain(name);
      }
      const denied = await request(`${gw.url}/videos/video-1/seg-1.ts`, {
        headers: { origin: 'https://player.example' },
      });
      await denied.body.dump();
      expect(denied.statusCode).toBe(403);
      expect(denied.headers['access-control-allow-origin']).toBe('*');
    } finally {
      await gw.close();
    }
  });

  it('with an allow-list, only listed origins are echoed, with Vary: Origin', async () => {
    const gw = await startGateway(origin.url, {}, { cors: { allowedOrigins: ['https://player.example'] } });
    try {
      const allowed = await request(`${gw.url}${signed('/videos/video-1/seg-1.ts')}`, {
        headers: { origin: 'https://player.example' },
      });
      await allowed.body.dump();
      expect(allowed.headers['access-control-allow-origin']).toBe('https://player.example');
      expect(String(allowed.headers.vary)).toMatch(/Origin/);
      const other = await request(`${gw.url}${signed('/videos/video-1/seg-1.ts')}`, {
        headers: { origin: 'https://evil.example' },
      });
      await other.body.dump();
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await request(`${gw.url}/videos/video-1/seg-1.ts`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      await preflight.body.dump();
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await gw.close();
    }
  });
});

describe('the client IP is the socket address, or X-Forwarded-For from a trusted proxy', () => {
  const forIp = (ip: string) =>
    signUrl('/videos/video-1/seg-1.ts', { scheme: 'gcore', secret: SECRET, ttl: 60, ip });

  it('without trusted proxies, X-Forwarded-For is ignored', async () => {
    const gw = await startGateway(origin.url, { bindIp: true });
    try {
      const spoofed = await request(`${gw.url}${forIp('203.0.113.7')}`, {
        headers: { 'x-forwarded-for': '203.0.113.7' },
      });
      await spoofed.body.dump();
      expect(spoofed.statusCode).toBe(403);
      const own = await request(`${gw.url}${forIp('127.0.0.1')}`, {
        headers: { 'x-forwarded-for': '203.0.113.7' },
      });
      await own.body.dump();
      expect(own.statusCode).toBe(200);
      expect(origin.requests[0]?.headers['x-forwarded-for']).toBe('127.0.0.1');
    } finally {
      await gw.close();
    }
  });

  it('from a trusted proxy, the right-most untrusted X-Forwarded-For address is the client', async () => {
    const gw = await startGateway(
      origin.url,
      { bindIp: true },
      { trustedProxies: ['127.0.0.0/8', '10.0.0.0/8'] },
    );
    try {
      // The left-most entry is whatever the client claimed; 10.1.2.3 is a trusted hop.
      const headers = { 'x-forwarded-for': '198.51.100.1, 203.0.113.7, 10.1.2.3' };
      const res = await request(`${gw.url}${forIp('203.0.113.7')}`, { headers });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
      const claimed = await request(`${gw.url}${forIp('198.51.100.1')}`, { headers });
      await claimed.body.dump();
      expect(claimed.statusCode).toBe(403);
      expect(origin.requests[0]?.headers['x-forwarded-for']).toBe(
        '198.51.100.1, 203.0.113.7, 10.1.2.3, 127.0.0.1',
      );
    } finally {
      await gw.close();
    }
  });

  it('an IPv6 client address works (token bound to ::1)', async () => {
    const gw = await startGateway(origin.url, { bindIp: true });
    const v6 = await gw.gateway.listen({ host: '::1', port: 0 }).catch(() => undefined);
    try {
      if (v6 === undefined) return; // no IPv6 loopback on this machine
      const res = await request(`${v6.url}${forIp('::1')}`);
      await res.body.dump();
      expect(res.statusCode).toBe(200);
      const wrong = await request(`${v6.url}${forIp('127.0.0.1')}`);
      await wrong.body.dump();
      expect(wrong.statusCode).toBe(403);
    } finally {
      await gw.close();
    }
  });
});

describe('zones: longest path prefix wins, segment by segment; Host selects zones that name one', () => {
  it('routes /video-1 and /video-10 apart and never lets one zone’s token open another zone', async () => {
    const other = await TestOrigin.start();
    other.file('/videos/video-10/seg-1.ts', { body: 'from-other-origin' });
    const gw = await startGateway(
      origin.url,
      { name: 'v1', pathPrefix: '/videos/video-1' },
      {
        zones: [
          {
            name: 'v1',
            pathPrefix: '/videos/video-1',
            origin: origin.url,
            scheme: 'gcore',
            secrets: [SECRET],
          },
          {
            name: 'v10',
            pathPrefix: '/videos/video-10/',
            origin: other.url,
            scheme: 'gcore',
            secrets: ['other-key'],
          },
          {
            name: 'prem',
            pathPrefix: '/premium',
            origin: origin.url,
            scheme: 'gcore',
            secrets: ['premium-key'],
          },
        ],
      },
    );
    try {
      const v1 = await httpGet(gw.url, signed('/videos/video-1/seg-1.ts'));
      expect(v1.body.toString()).toBe('segment-1');
      const v10 = signUrl('/videos/video-10/seg-1.ts', { scheme: 'gcore', secret: 'other-key', ttl: 60 });
      expect((await httpGet(gw.url, v10)).body.toString()).toBe('from-other-origin');
      // A video-1 key does not open video-10 (another zone, another key).
      expect((await httpGet(gw.url, signed('/videos/video-10/seg-1.ts'))).status).toBe(403);
      // An encoded prefix is matched decoded: /pr%65mium is the premium zone, whose key differs.
      const sneaky = signUrl('/premium/a.ts', { scheme: 'gcore', secret: SECRET, ttl: 60 }).replace(
        '/premium',
        '/pr%65mium',
      );
      expect((await httpGet(gw.url, sneaky)).status).toBe(403);
      // No zone answers /other.
      expect((await httpGet(gw.url, signed('/other/x.ts'))).status).toBe(404);
      expect(origin.requests.map((r) => r.url)).toEqual(['/videos/video-1/seg-1.ts']);
    } finally {
      await gw.close();
      await other.close();
    }
  });

  it('a zone bound to a host answers only that Host', async () => {
    const gw = await startGateway(
      origin.url,
      {},
      {
        zones: [{ name: 'cdn', host: 'cdn.test', origin: origin.url, scheme: 'gcore', secrets: [SECRET] }],
      },
    );
    try {
      const url = signed('/videos/video-1/seg-1.ts');
      expect((await httpGet(gw.url, url, { host: 'cdn.test' })).status).toBe(200);
      expect((await httpGet(gw.url, url, { host: 'CDN.test:8080' })).status).toBe(200);
      expect((await httpGet(gw.url, url, { host: 'evil.example' })).status).toBe(404);
    } finally {
      await gw.close();
    }
  });
});

describe('operations: health, metrics, reserved paths, logs', () => {
  it('/_streamgate/healthz answers 200 ok; unknown /_streamgate/ paths are 404 and never proxied', async () => {
    const gw = await startGateway(origin.url);
    try {
      const health = await request(`${gw.url}/_streamgate/healthz`);
      expect(health.statusCode).toBe(200);
      expect(await health.body.text()).toBe('ok');
      for (const path of [
        '/_streamgate/nope',
        '/_streamgate',
        '/_streamgate/healthz/x',
        '/%5Fstreamgate/healthz',
      ]) {
        const res = await httpGet(gw.url, path);
        expect(res.status, path).toBeGreaterThanOrEqual(400);
        expect(res.status, path).toBeLessThan(500);
      }
      // Even with a valid token for it, the reserved prefix is never sent upstream.
      expect(await httpGet(gw.url, signed('/_streamgate/x')).then((r) => r.status)).toBe(404);
      expect(origin.requests).toHaveLength(0);
    } finally {
      await gw.close();
    }
  });

  it('/_streamgate/metrics counts requests by zone, status and reason, bytes out and origin latency', async () => {
    const gw = await startGateway(origin.url);
    try {
      await httpGet(gw.url, signed('/videos/video-1/seg-1.ts'));
      await httpGet(gw.url, '/videos/video-1/seg-1.ts');
      await httpGet(gw.url, '/videos/video-1/seg-1.ts?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=9999999999');
      await httpGet(gw.url, '/videos/../x');
      const res = await request(`${gw.url}/_streamgate/metrics`);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.body.text();
      expect(text).toContain('streamgate_requests_total{zone="test",status="200",reason="ok"} 1');
      expect(text).toContain('streamgate_requests_total{zone="test",status="403",reason="missing"} 1');
      expect(text).toContain('streamgate_requests_total{zone="test",status="403",reason="invalid"} 1');
      expect(text).toContain('streamgate_requests_total{zone="test",status="400",reason="path"} 1');
      expect(text).toContain(`streamgate_response_bytes_total{zone="test"} ${'segment-1'.length}`);
      expect(text).toContain('streamgate_origin_response_seconds_count{zone="test"} 1');
      expect(text).toMatch(/streamgate_requests_in_flight \d+/);
    } finally {
      await gw.close();
    }
  });

  it('log lines redact token values and path tokens, carry the request id, and never hold a secret', async () => {
    const logs: string[] = [];
    const gw = await startGateway(origin.url, {}, {}, logs);
    try {
      const query = signed('/videos/video-1/seg-1.ts');
      const token = /md5=([^&]+)/.exec(query)?.[1] ?? '';
      const pathToken = signUrl('/videos/video-1/seg-1.ts', {
        scheme: 'gcore',
        secret: SECRET,
        ttl: 60,
        pathToken: true,
      });
      const embedded = /~([^~]+)~/.exec(pathToken)?.[1] ?? '';
      await httpGet(gw.url, query, { 'x-request-id': 'trace-42' });
      await httpGet(gw.url, query.replace('video-1/seg-1', 'video-1/seg-2'));
      await httpGet(gw.url, pathToken);
      const all = logs.join('\n');
      expect(all).not.toContain(token);
      expect(all).not.toContain(embedded);
      expect(all).not.toContain(SECRET);
      expect(all).toContain('md5=REDACTED');
      expect(all).toContain('~REDACTED~');
      const proxied = logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.reqId === 'trace-42');
      expect(proxied?.msg).toBe('access');
      expect(proxied?.status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('the request id is echoed to the viewer and sent to the origin', async () => {
    const gw = await startGateway(origin.url);
    try {
      const res = await httpGet(gw.url, signed('/videos/video-1/seg-1.ts'), { 'x-request-id': 'abc-123' });
      expect(res.headers['x-request-id']).toBe('abc-123');
      expect(origin.requests[0]?.headers['x-request-id']).toBe('abc-123');
      const generated = await httpGet(gw.url, '/x', { 'x-request-id': 'bad id with spaces' });
      expect(generated.headers['x-request-id']).toMatch(/^[a-z0-9]+-[a-z0-9]+$/);
    } finally {
      await gw.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('stops accepting, lets a stream in flight finish within the grace period, then closes', async () => {
    origin.route('/videos/video-1/slow-body.ts', (_req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': '30' });
      let sent = 0;
      const timer = setInterval(() => {
        res.write('0123456789');
        sent += 10;
        if (sent === 30) {
          clearInterval(timer);
          res.end();
        }
      }, 150);
    });
    const gw = await startGateway(origin.url, {}, { shutdownGraceMs: 3000 });
    const res = await request(`${gw.url}${signed('/videos/video-1/slow-body.ts')}`);
    expect(res.statusCode).toBe(200);
    const closing = gw.close();
    const body = await res.body.text();
    expect(body).toBe('012345678901234567890123456789');
    await closing;
    await expect(request(`${gw.url}/_streamgate/healthz`)).rejects.toThrow();
  });

  it('cuts streams still running when the grace period ends', async () => {
    origin.route('/videos/video-1/forever.ts', (_req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp2t' });
      const timer = setInterval(() => res.write('x'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const gw = await startGateway(origin.url, {}, { shutdownGraceMs: 300 });
    const res = await request(`${gw.url}${signed('/videos/video-1/forever.ts')}`);
    const started = Date.now();
    await gw.close();
    // The 300 ms grace, not the 10 s default nor the stream's end (never): a bound far from both, so
    // a loaded machine's slow timers do not make it fail.
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(res.body.text()).rejects.toThrow();
  });
});
