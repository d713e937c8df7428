/**
 * Tokens that travel beside the URL — the cookie strategy's session cookie, or a viewer's token sent in
 * a cookie or a request header to a `forward` zone — are never copied into the URIs of a manifest
 * (page scripts, player logs and Referer headers would see a credential its transport keeps out of
 * them), and a manifest that names the upstream origin absolutely is still pointed at the gateway
 * (the player would otherwise go around it). Both used to go wrong: forward copied a cookie token into
 * every URI, and a cookie zone left `http://origin/…` URIs as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUrl } from '../../src/index.js';
import { httpGet, startGateway, TestOrigin } from '../integration/support.js';

const AKAMAI_KEY = 'aabbccddeeff00112233445566778899';
const TYPE = 'application/vnd.apple.mpegurl';

let origin: TestOrigin;

beforeAll(async () => {
  origin = await TestOrigin.start();
  const absolute = `${origin.url}/vod/movie/720p/index.m3u8`;
  origin.files.set('/vod/movie/master.m3u8', {
    body: `#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\n${absolute}\n#EXT-X-STREAM-INF:BANDWIDTH=3\nhttps://cdn.other.example/vod/movie/720p/index.m3u8\n`,
    type: TYPE,
  });
});

afterAll(async () => {
  await origin.close();
});

describe('tokens that travel beside the URL', () => {
  it('cookie strategy: the manifest keeps its relative URIs bare, the upstream origin is rebased to the gateway, a foreign host is left alone', async () => {
    const gw = await startGateway(origin.url, { scheme: 'akamai', secrets: [AKAMAI_KEY], tokens: 'cookie' });
    try {
      const master = signUrl('/vod/movie/master.m3u8', { scheme: 'akamai', secret: AKAMAI_KEY, ttl: 300 });
      const res = await httpGet(gw.url, master);
      expect(res.status).toBe(200);
      const lines = res.body.toString().split('\n');
      expect(lines).toContain('720p/index.m3u8');
      expect(lines).toContain(`${gw.url}/vod/movie/720p/index.m3u8`);
      expect(lines).toContain('https://cdn.other.example/vod/movie/720p/index.m3u8');
      expect(res.body.toString()).not.toContain(origin.url);
      expect(res.body.toString()).not.toContain('hmac=');
    } finally {
      await gw.close();
    }
  });

  it('forward: a token that came in a cookie or a header is not copied into URIs; one in the query is', async () => {
    const gw = await startGateway(origin.url, { scheme: 'akamai', secrets: [AKAMAI_KEY], tokens: 'forward' });
    try {
      const signed = signUrl('/vod/movie/master.m3u8', {
        scheme: 'akamai',
        secret: AKAMAI_KEY,
        ttl: 300,
        acl: '/vod/movie/*',
      });
      const token = new URL(signed, 'http://x').searchParams.get('__token__')!;
      expect(token).toMatch(/hmac=/);

      const viaQuery = await httpGet(gw.url, signed);
      expect(viaQuery.status).toBe(200);
      expect(viaQuery.body.toString()).toContain('720p/index.m3u8?__token__=');

      const transports: Record<string, string>[] = [{ cookie: `__token__=${token}` }, { __token__: token }];
      for (const headers of transports) {
        const res = await httpGet(gw.url, '/vod/movie/master.m3u8', headers);
        expect(res.status, JSON.stringify(Object.keys(headers))).toBe(200);
        const body = res.body.toString();
        expect(body).not.toContain('hmac=');
        expect(body.split('\n')).toContain('720p/index.m3u8');
        // Still moved off the upstream origin.
        expect(body.split('\n')).toContain(`${gw.url}/vod/movie/720p/index.m3u8`);
      }
    } finally {
      await gw.close();
    }
  });
});
