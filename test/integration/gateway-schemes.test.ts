import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { signUrl } from '../../src/index.js';
import { httpGet, startGateway, TestOrigin } from './support.js';

/**
 * The new schemes through the real gateway and a real origin on 127.0.0.1: reference tokens open,
 * tokens leave the upstream request, cookies and headers are read where the scheme says, the cookie
 * strategy hands out a directory cookie, and no token reaches a log line.
 */

const AKAMAI_KEY = 'aabbccddeeff00112233445566778899';
const keys = new URL('../vectors/keys/', import.meta.url);
const CF_PRIVATE = readFileSync(new URL('cloudfront-a.private.pem', keys), 'utf8');
const MASTER = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n';
const MEDIA = '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg-1.ts\n#EXT-X-ENDLIST\n';

let origin: TestOrigin;

beforeAll(async () => {
  origin = await TestOrigin.start();
  const type = 'application/vnd.apple.mpegurl';
  origin.files.set('/vod/movie/master.m3u8', { body: MASTER, type });
  origin.files.set('/vod/movie/720p/index.m3u8', { body: MEDIA, type });
  origin.files.set('/vod/movie/720p/seg-1.ts', { body: 'segment-bytes', type: 'video/mp2t' });
});

afterAll(async () => {
  await origin.close();
});

describe('Akamai zones at the gateway', () => {
  it('query token (mint), a header token, the cookie strategy; the token never reaches the origin or a log', async () => {
    const logs: string[] = [];
    const gw = await startGateway(
      origin.url,
      { scheme: 'akamai', secrets: [AKAMAI_KEY], tokens: 'cookie', akamai: { param: 'hdnts' } },
      {},
      logs,
    );
    try {
      const master = signUrl('/vod/movie/master.m3u8?session=1', {
        scheme: 'akamai',
        secret: AKAMAI_KEY,
        ttl: 300,
        param: 'hdnts',
      });
      origin.reset();
      const first = await httpGet(gw.url, master);
      expect(first.status).toBe(200);
      // The cookie strategy leaves the manifest as the origin wrote it.
      expect(first.body.toString()).toBe(MASTER);
      const setCookie = first.headers['set-cookie'] ?? [];
      expect(setCookie).toHaveLength(1);
      expect(setCookie[0]).toMatch(
        /^hdntl=exp=\d+~acl=\/vod\/movie\/\*~hmac=[0-9a-f]{64}; Path=\/vod\/movie\/; Max-Age=14400; HttpOnly; SameSite=Lax$/,
      );
      expect(origin.requests.map((r) => r.url)).toEqual(['/vod/movie/master.m3u8?session=1']);

      const cookie = setCookie[0]!.split(';')[0]!;
      expect((await httpGet(gw.url, '/vod/movie/720p/seg-1.ts', { cookie })).status).toBe(200);
      expect((await httpGet(gw.url, '/vod/movie/720p/seg-1.ts')).status).toBe(403);
      expect((await httpGet(gw.url, '/vod/other/seg-1.ts', { cookie })).status).toBe(403);
      // A nested request with the cookie gets no second cookie.
      const nested = await httpGet(gw.url, '/vod/movie/720p/index.m3u8', { cookie });
      expect(nested.status).toBe(200);
      expect(nested.headers['set-cookie']).toBeUndefined();
      // The token's name as a request header.
      const token = cookie.slice('hdntl='.length);
      expect((await httpGet(gw.url, '/vod/movie/720p/seg-1.ts', { hdnts: token })).status).toBe(200);

      const metrics = (await httpGet(gw.url, '/_streamgate/metrics')).body.toString();
      expect(metrics).toContain(
        'streamgate_zone_info{zone="test",scheme="akamai",tokens="cookie",transports="query,cookie,header"} 1',
      );

      const all = logs.join('\n');
      const hmac = /hmac=([0-9a-f]{64})/.exec(master)![1]!;
      expect(all).toContain('"target"');
      expect(all).not.toContain(hmac);
      expect(all).not.toContain(token.slice(-64));
    } finally {
      await gw.close();
    }
  });

  it('over TLS (a trusted proxy says https) the cookie is Secure and SameSite=None; CORS allows credentials for a listed origin', async () => {
    const gw = await startGateway(
      origin.url,
      { scheme: 'akamai', secrets: [AKAMAI_KEY], tokens: 'cookie' },
      { trustedProxies: ['127.0.0.1'], cors: { allowedOrigins: ['https://player.example.com'] } },
    );
    try {
      const master = signUrl('/vod/movie/master.m3u8', { scheme: 'akamai', secret: AKAMAI_KEY, ttl: 300 });
      const response = await httpGet(gw.url, master, {
        'x-forwarded-proto': 'https',
        'x-forwarded-for': '203.0.113.5',
        origin: 'https://player.example.com',
      });
      expect(response.status).toBe(200);
      expect(response.headers['set-cookie']?.[0]).toMatch(/; HttpOnly; Secure; SameSite=None$/);
      expect(response.headers['access-control-allow-origin']).toBe('https://player.example.com');
      expect(response.headers['access-control-allow-credentials']).toBe('true');
    } finally {
      await gw.close();
    }
  });
});

describe('CloudFront zones at the gateway', () => {
  it('an SDK-signed URL opens (canned, the Host with its port); its fields leave the upstream query; a rewritten manifest carries one signed policy per directory', async () => {
    const gw = await startGateway(origin.url, {
      scheme: 'cloudfront',
      tokens: 'mint',
      secrets: undefined,
      cloudfront: {
        keyPairs: [{ id: 'KA1B2C3D4E5F6', publicKeyFile: new URL('cloudfront-a.public.pem', keys).pathname }],
        privateKeyFile: new URL('cloudfront-a.private.pem', keys).pathname,
      },
    });
    try {
      const url = getSignedUrl({
        url: `${gw.url}/vod/movie/720p/index.m3u8?session=7`,
        keyPairId: 'KA1B2C3D4E5F6',
        privateKey: CF_PRIVATE,
        dateLessThan: new Date(Date.now() + 300_000).toISOString(),
      });
      origin.reset();
      const response = await httpGet(gw.url, url.slice(gw.url.length));
      expect(response.status).toBe(200);
      expect(origin.requests.map((r) => r.url)).toEqual(['/vod/movie/720p/index.m3u8?session=7']);
      const segment = /^seg-1\.ts\?(.*)$/m.exec(response.body.toString())?.[1];
      expect(segment).toMatch(/^Policy=[A-Za-z0-9~_-]+&Key-Pair-Id=KA1B2C3D4E5F6&Signature=[A-Za-z0-9~_-]+$/);
      expect((await httpGet(gw.url, `/vod/movie/720p/seg-1.ts?${segment}`)).status).toBe(200);
      // The canned policy named this host and port: another Host is another URL.
      expect((await httpGet(gw.url, url.slice(gw.url.length), { host: 'other.example' })).status).toBe(403);
    } finally {
      await gw.close();
    }
  });

  it('config: a mint zone without the private key, secrets on a CloudFront zone, an unreadable key file', async () => {
    const { resolveConfig } = await import('../../src/config/index.js');
    const problems = (zone: Record<string, unknown>) => {
      const result = resolveConfig({
        zones: [{ name: 'cf', origin: origin.url, scheme: 'cloudfront', ...zone }],
      });
      return result.ok ? '' : result.problems.join('\n');
    };
    const keyPairs = [{ id: 'K1', publicKeyFile: new URL('cloudfront-a.public.pem', keys).pathname }];
    expect(problems({ cloudfront: { keyPairs } })).toMatch(
      /tokens: mint signs new CloudFront tokens: give cloudfront.privateKeyFile/,
    );
    expect(problems({ tokens: 'forward', secrets: ['x'], cloudfront: { keyPairs } })).toMatch(/drop secrets/);
    expect(
      problems({ tokens: 'forward', cloudfront: { keyPairs: [{ id: 'K1', publicKeyFile: '/nope.pem' }] } }),
    ).toMatch(/zones\[0\]\.cloudfront: keyPairs\[0\]: cannot read \/nope\.pem/);
    expect(problems({ tokens: 'forward', cloudfront: { keyPairs } })).toBe('');
  });
});

describe('Bunny and JWT zones at the gateway', () => {
  it('a Bunny path token (/bcdn_token=…/) opens the subtree in a zone below /vod, and is not sent upstream', async () => {
    const logs: string[] = [];
    const gw = await startGateway(
      origin.url,
      { scheme: 'bunny', secrets: ['bunny-key'], pathPrefix: '/vod', tokens: 'path' },
      {},
      logs,
    );
    try {
      const url = signUrl('/vod/movie/master.m3u8', {
        scheme: 'bunny',
        secret: 'bunny-key',
        ttl: 300,
        pathToken: true,
      });
      origin.reset();
      const response = await httpGet(gw.url, url);
      expect(response.status).toBe(200);
      expect(origin.requests.map((r) => r.url)).toEqual(['/vod/movie/master.m3u8']);
      expect((await httpGet(gw.url, url.replace('/master.m3u8', '/720p/seg-1.ts'))).status).toBe(200);
      expect((await httpGet(gw.url, url.replace('/vod/movie/master.m3u8', '/vod/other/a.ts'))).status).toBe(
        403,
      );
      // The token in the path is no more logged than one in the query.
      const token = /HS256-[A-Za-z0-9_-]+/.exec(url)![0];
      expect(logs.join('\n')).toContain('/bcdn_token=REDACTED/vod/other/a.ts');
      expect(logs.join('\n')).not.toContain(token);
    } finally {
      await gw.close();
    }
  });

  it("a Bunny mint zone hands the viewer's speed limit on to every token it mints", async () => {
    const gw = await startGateway(origin.url, { scheme: 'bunny', secrets: ['bunny-key'], tokens: 'mint' });
    try {
      const limited = signUrl('/vod/movie/master.m3u8', {
        scheme: 'bunny',
        secret: 'bunny-key',
        ttl: 300,
        limit: 300,
      });
      const master = (await httpGet(gw.url, limited)).body.toString();
      const variant = master.split('\n').find((line) => line.startsWith('720p/index.m3u8'))!;
      expect(new URL(variant, 'http://x/vod/movie/').searchParams.get('limit')).toBe('300');
      const media = (await httpGet(gw.url, `/vod/movie/${variant}`)).body.toString();
      const segment = media.split('\n').find((line) => line.startsWith('seg-1.ts'))!;
      expect(new URL(segment, 'http://x/').searchParams.get('limit')).toBe('300');
      // Signed: a viewer who drops or raises it holds no token.
      expect(
        (await httpGet(gw.url, `/vod/movie/720p/${segment.replace('limit=300', 'limit=0')}`)).status,
      ).toBe(403);
      expect((await httpGet(gw.url, `/vod/movie/720p/${segment}`)).status).toBe(200);
      // Without a limit, none is written.
      const free = signUrl('/vod/movie/master.m3u8', { scheme: 'bunny', secret: 'bunny-key', ttl: 300 });
      expect((await httpGet(gw.url, free)).body.toString()).not.toContain('limit=');
    } finally {
      await gw.close();
    }
  });

  it('a viewer who leaves a speed-limited download mid-way frees it: nothing waits on, the next request is served', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    origin.files.set('/vod/movie/big.bin', { body: big, type: 'application/octet-stream' });
    const gw = await startGateway(origin.url, { scheme: 'bunny', secrets: ['bunny-key'], tokens: 'mint' });
    try {
      // 16 kB/s: the download would take two minutes.
      const slow = signUrl('/vod/movie/big.bin', {
        scheme: 'bunny',
        secret: 'bunny-key',
        ttl: 300,
        limit: 16,
      });
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(`${gw.url}${slow}`, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (error) => (error.message === 'socket hang up' ? resolve() : reject(error)));
        req.end();
      });
      const inFlight = async () =>
        /^streamgate_requests_in_flight (\d+)$/m.exec(
          (await httpGet(gw.url, '/_streamgate/metrics')).body.toString(),
        )?.[1];
      // The metrics request itself is not counted; poll until the paced one is gone (a hang fails by timeout).
      while ((await inFlight()) !== '0') await new Promise((resolve) => setTimeout(resolve, 50));
      const full = signUrl('/vod/movie/big.bin', { scheme: 'bunny', secret: 'bunny-key', ttl: 300 });
      const after = await httpGet(gw.url, full);
      expect(after.status).toBe(200);
      expect(after.body.equals(big)).toBe(true);
    } finally {
      await gw.close();
    }
  }, 20_000);

  it('a JWT in Authorization: Bearer opens; config refuses a JWT zone without keys', async () => {
    const gw = await startGateway(origin.url, { scheme: 'jwt', secrets: ['jwt-secret'], tokens: 'forward' });
    try {
      const url = signUrl('/vod/movie/master.m3u8', {
        scheme: 'jwt',
        secret: 'jwt-secret',
        ttl: 300,
        dir: true,
      });
      const token = new URL(url, 'http://x').searchParams.get('token')!;
      expect(
        (await httpGet(gw.url, '/vod/movie/720p/seg-1.ts', { authorization: `Bearer ${token}` })).status,
      ).toBe(200);
      const rewritten = await httpGet(gw.url, url);
      expect(rewritten.body.toString()).toContain(`720p/index.m3u8?token=${token}`);
    } finally {
      await gw.close();
    }
    const { resolveConfig } = await import('../../src/config/index.js');
    const result = resolveConfig({
      zones: [{ name: 'j', origin: origin.url, scheme: 'jwt', tokens: 'forward' }],
    });
    expect(result.ok ? '' : result.problems.join('\n')).toMatch(
      /needs keys: secrets \(HS256\), or jwt.jwksFile/,
    );
  });
});
