import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { signUrl, verifyRequest } from '../../src/index.js';
import { httpGet, nowSeconds, SECRET, signed, startGateway, TestOrigin } from './support.js';

const HLS = 'application/vnd.apple.mpegurl';

const MASTER = [
  '#EXTM3U',
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio/en.m3u8"',
  '#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="aud"',
  '360p/chunklist.m3u8',
  '#EXT-X-STREAM-INF:BANDWIDTH=2000000,AUDIO="aud"',
  '720p/chunklist.m3u8?quality=hd',
  '',
].join('\n');

function livePlaylist(sequence: number, targetDuration = 4): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    `#EXT-X-TARGETDURATION:${targetDuration}`,
    `#EXT-X-MEDIA-SEQUENCE:${sequence}`,
  ];
  for (let i = sequence; i < sequence + 3; i += 1) lines.push('#EXTINF:4.000,', `seg-${i}.ts`);
  return `${lines.join('\n')}\n`;
}

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

/** Checks each nested URI by verifying it, as the gateway would when the player requests it. */
function verifyAll(playlist: string, manifestUrl: string) {
  return uris(playlist).map((uri) => {
    const url = new URL(uri, manifestUrl);
    return {
      uri,
      result: verifyRequest(`${url.pathname}${url.search}`, { scheme: 'gcore', secret: SECRET }),
    };
  });
}

let origin: TestOrigin;
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file('/live/stream/master.m3u8', {
    body: MASTER,
    type: HLS,
    headers: { 'cache-control': 'max-age=1' },
  });
  gw = await startGateway(origin.url, { tokens: 'mint', playlistTtl: 600, segmentTtl: 30 });
});
afterAll(async () => {
  await gw.close();
  await origin.close();
});
afterEach(() => origin.reset());

describe('manifests come back rewritten so nested requests carry valid tokens', () => {
  it('a master playlist is rewritten in mint mode; every nested URI verifies; served private, no-store', async () => {
    const path = signed('/live/stream/master.m3u8', { ttl: 120 });
    const res = await request(`${gw.url}${path}`);
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(HLS);
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(res.headers.etag).toBeUndefined();
    expect(res.headers['last-modified']).toBeUndefined();
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(text)));
    const checked = verifyAll(text, `${gw.url}${path}`);
    expect(checked.map((c) => c.uri.split('?')[0])).toEqual([
      'audio/en.m3u8',
      '360p/chunklist.m3u8',
      '720p/chunklist.m3u8',
    ]);
    for (const { uri, result } of checked) {
      expect(result.ok, uri).toBe(true);
      // Playlists a player reloads get playlistTtl, not the 2-minute lifetime of the master link.
      expect(result.ok && result.result.ok && result.result.expires).toBeGreaterThanOrEqual(
        nowSeconds() + 590,
      );
    }
    expect(checked[2]?.uri).toMatch(/^720p\/chunklist\.m3u8\?quality=hd&md5=[A-Za-z0-9_-]{22}&expires=\d+$/);
    // Without the URIs, the bytes are the origin's.
    expect(text.replace(/\?[^"\n]*/g, '')).toBe(MASTER.replace(/\?[^"\n]*/g, ''));
    // The origin was asked for identity encoding and no validators.
    expect(origin.requests[0]?.headers['accept-encoding']).toBe('identity');
  });

  it('forward mode copies a directory token onto the URIs it covers, and leaves the others alone', async () => {
    origin.file('/vod/movie/index.m3u8', {
      type: HLS,
      body: '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nseg-1.ts\n#EXTINF:6,\nsub/seg-2.ts\n#EXT-X-ENDLIST\n',
    });
    const fwd = await startGateway(origin.url, { tokens: 'forward' });
    try {
      const path = signUrl('/vod/movie/index.m3u8', { scheme: 'gcore', secret: SECRET, ttl: 300, dir: true });
      const query = path.split('?')[1];
      const text = await (await request(`${fwd.url}${path}`)).body.text();
      expect(text).toBe(
        `#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nseg-1.ts?${query}\n#EXTINF:6,\nsub/seg-2.ts\n#EXT-X-ENDLIST\n`,
      );
    } finally {
      await fwd.close();
    }
  });

  it('a gzip-compressed playlist is decompressed and rewritten', async () => {
    origin.route('/live/gz/chunklist.m3u8', (_req, res) => {
      const body = gzipSync(livePlaylist(10));
      res.writeHead(200, {
        'content-type': HLS,
        'content-encoding': 'gzip',
        'content-length': String(body.length),
        'cache-control': 'no-cache',
      });
      res.end(body);
    });
    const path = signed('/live/gz/chunklist.m3u8');
    const res = await request(`${gw.url}${path}`, { headers: { 'accept-encoding': 'gzip' } });
    const text = await res.body.text();
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(text.startsWith('#EXTM3U\n')).toBe(true);
    const checked = verifyAll(text, `${gw.url}${path}`);
    expect(checked).toHaveLength(3);
    for (const { uri, result } of checked) expect(result.ok, uri).toBe(true);
  });

  it('a playlist recognised by sniffing (text/plain, no extension) is rewritten; media is streamed untouched', async () => {
    origin.file('/live/sniffed/playlist', {
      type: 'text/plain',
      body: livePlaylist(1),
      headers: { 'cache-control': 'no-store' },
    });
    const bytes = Buffer.alloc(5000, 0x47);
    origin.file('/live/sniffed/segment', { type: 'application/octet-stream', body: bytes });
    const path = signed('/live/sniffed/playlist');
    const res = await request(`${gw.url}${path}`);
    const text = await res.body.text();
    expect(res.headers['content-type']).toBe(HLS);
    for (const { uri, result } of verifyAll(text, `${gw.url}${path}`)) expect(result.ok, uri).toBe(true);
    const media = await request(`${gw.url}${signed('/live/sniffed/segment')}`);
    expect(Buffer.from(await media.body.arrayBuffer()).equals(bytes)).toBe(true);
    expect(media.headers.etag).toBeDefined();
  });

  it('a manifest over limits.manifestMaxBytes → 502 with a log line (with and without Content-Length)', async () => {
    const logs: string[] = [];
    const small = await startGateway(origin.url, {}, { limits: { manifestMaxBytes: 2048 } }, logs);
    const big = `#EXTM3U\n#EXT-X-TARGETDURATION:4\n${'#EXTINF:4,\nsegment-with-a-long-name.ts\n'.repeat(200)}`;
    origin.file('/live/big/chunklist.m3u8', { type: HLS, body: big });
    origin.route('/live/big/chunked.m3u8', (_req, res) => {
      res.writeHead(200, { 'content-type': HLS });
      res.write(big.slice(0, 1500));
      setTimeout(() => res.end(big.slice(1500)), 20);
    });
    try {
      for (const file of ['chunklist.m3u8', 'chunked.m3u8']) {
        const res = await request(`${small.url}${signed(`/live/big/${file}`)}`);
        expect(res.statusCode).toBe(502);
        expect(await res.body.text()).toContain('manifest too large');
      }
      const lines = logs
        .map((l) => JSON.parse(l) as { msg: string; kind?: string })
        .filter((l) => l.kind === 'too_large');
      expect(lines).toHaveLength(2);
    } finally {
      await small.close();
    }
  });

  it('a malformed playlist is passed through unmodified with a warning', async () => {
    const logs: string[] = [];
    const warned = await startGateway(origin.url, {}, {}, logs);
    origin.file('/live/bad/chunklist.m3u8', { type: HLS, body: 'this is not a playlist\nseg-1.ts\n' });
    try {
      const res = await request(`${warned.url}${signed('/live/bad/chunklist.m3u8')}`);
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('this is not a playlist\nseg-1.ts\n');
      expect(res.headers['cache-control']).toBe('private, no-store');
      const warning = logs
        .map((l) => JSON.parse(l) as { level: string; msg: string })
        .find((l) => l.level === 'warn');
      expect(warning?.msg).toMatch(/passed through unmodified/);
    } finally {
      await warned.close();
    }
  });

  it('absolute URIs naming the origin are pointed at the gateway as the viewer reached it', async () => {
    origin.file('/live/abs/master.m3u8', {
      type: HLS,
      body: `#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n${origin.url}/live/abs/a.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nhttps://third-party.example/b.m3u8\n`,
    });
    const proxied = await startGateway(origin.url, {}, { trustedProxies: ['127.0.0.1'] });
    const fixed = await startGateway(origin.url, { publicOrigin: 'https://cdn.example.com' });
    try {
      const path = signed('/live/abs/master.m3u8');
      const viaProxy = await httpGet(proxied.url, path, {
        host: 'media.example',
        'x-forwarded-proto': 'https',
      });
      const [a, b] = uris(viaProxy.body.toString());
      expect(a).toMatch(/^https:\/\/media\.example\/live\/abs\/a\.m3u8\?md5=[A-Za-z0-9_-]{22}&expires=\d+$/);
      // A token is never sent to a third party.
      expect(b).toBe('https://third-party.example/b.m3u8');
      // X-Forwarded-Proto is believed only from a trusted proxy.
      const direct = await httpGet(gw.url, path, { host: 'media.example', 'x-forwarded-proto': 'https' });
      expect(uris(direct.body.toString())[0]).toMatch(/^http:\/\/media\.example\/live\/abs\/a\.m3u8\?md5=/);
      // A zone's publicOrigin wins over the Host header.
      const configured = await httpGet(fixed.url, path, { host: 'other.example' });
      expect(uris(configured.body.toString())[0]).toMatch(
        /^https:\/\/cdn\.example\.com\/live\/abs\/a\.m3u8\?md5=/,
      );
    } finally {
      await proxied.close();
      await fixed.close();
    }
  });

  it('HEAD of a manifest answers the length of the rewritten body', async () => {
    const path = signed('/live/stream/master.m3u8');
    const get = await request(`${gw.url}${path}`);
    const body = await get.body.text();
    const head = await request(`${gw.url}${path}`, { method: 'HEAD' });
    await head.body.dump();
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(body)));
  });

  it('origin errors on a manifest path are passed through, not rewritten', async () => {
    const res = await httpGet(gw.url, signed('/live/missing/chunklist.m3u8'));
    expect(res.status).toBe(404);
    expect(res.body.toString()).toBe('origin: not found');
  });
});

describe('DASH MPDs go through the same pipeline', () => {
  const MPD = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" minimumUpdatePeriod="PT2S"',
    '     availabilityStartTime="2026-01-01T00:00:00Z" profiles="urn:mpeg:dash:profile:isoff-live:2011">',
    '  <Period id="p0" start="PT0S">',
    '    <AdaptationSet mimeType="video/mp4">',
    '      <SegmentTemplate timescale="1000" duration="2000" startNumber="1" media="v/seg-$Number$.m4s" initialization="v/init.mp4"/>',
    '      <Representation id="v" bandwidth="800000"/>',
    '    </AdaptationSet>',
    '  </Period>',
    '</MPD>',
    '',
  ].join('\n');

  it('a live MPD is rewritten: the template gets a directory token, the init section a file token', async () => {
    let fetches = 0;
    origin.route('/dash/live/manifest.mpd', (_req, res) => {
      fetches += 1;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/dash+xml' });
        res.end(MPD);
      }, 100);
    });
    const path = signed('/dash/live/manifest.mpd');
    const responses = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const res = await request(`${gw.url}${path}`);
        return { headers: res.headers, text: await res.body.text() };
      }),
    );
    expect(fetches).toBe(1);
    const { headers, text } = responses[0] ?? { headers: {}, text: '' };
    expect(headers['content-type']).toBe('application/dash+xml');
    expect(headers['cache-control']).toBe('private, no-store');
    const attribute = (name: string) =>
      (new RegExp(`${name}="([^"]*)"`).exec(text)?.[1] ?? '').replace(/&amp;/g, '&');
    const media = attribute('media');
    expect(media).toMatch(/^v\/seg-\$Number\$\.m4s\?md5=[A-Za-z0-9_-]{22}&expires=\d+$/);
    const manifestUrl = `${gw.url}${path}`;
    for (const uri of [media.replace('$Number$', '7'), attribute('initialization')]) {
      const url = new URL(uri, manifestUrl);
      const result = verifyRequest(`${url.pathname}${url.search}`, { scheme: 'gcore', secret: SECRET });
      expect(result.ok, uri).toBe(true);
    }
    // A template's token opens the files next to it, not the directory above.
    const above = new URL(media.replace('v/seg-$Number$.m4s', 'x.m4s'), manifestUrl);
    expect(verifyRequest(`${above.pathname}${above.search}`, { scheme: 'gcore', secret: SECRET }).ok).toBe(
      false,
    );
  });
});

describe('live playlists are cached briefly and concurrent requests coalesced', () => {
  it('200 concurrent viewers of one live variant cost the origin one fetch; tokens are per viewer', async () => {
    let fetches = 0;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    origin.route('/live/coalesce/chunklist.m3u8', (_req, res) => {
      fetches += 1;
      // Held until every viewer has joined the fetch, however slowly a loaded machine sends them.
      void held.then(() => {
        res.writeHead(200, { 'content-type': HLS, 'cache-control': 'max-age=2' });
        res.end(livePlaylist(100));
      });
    });
    const fwd = await startGateway(origin.url, { tokens: 'forward' });
    try {
      const base = nowSeconds() + 100;
      const viewers = Array.from({ length: 200 }, (_, i) =>
        signUrl('/live/coalesce/chunklist.m3u8', {
          scheme: 'gcore',
          secret: SECRET,
          expires: base + i,
          dir: true,
        }),
      );
      const asked = Promise.all(
        viewers.map(async (path) => {
          const res = await request(`${fwd.url}${path}`);
          return { path, status: res.statusCode, text: await res.body.text() };
        }),
      );
      const cacheCount = async (result: string): Promise<number> => {
        const metrics = await (await request(`${fwd.url}/_streamgate/metrics`)).body.text();
        const pattern = new RegExp(
          `streamgate_manifest_cache_total\\{zone="test",result="${result}"\\} (\\d+)`,
        );
        return Number(pattern.exec(metrics)?.[1] ?? 0);
      };
      await expect.poll(() => cacheCount('coalesced'), { timeout: 15_000 }).toBe(199);
      release();
      const bodies = await asked;
      expect(fetches).toBe(1);
      for (const { path, status, text } of bodies) {
        expect(status).toBe(200);
        const own = path.split('?')[1];
        // Each viewer's playlist carries that viewer's own token (per-viewer insertion on a shared body).
        expect(uris(text)).toEqual([100, 101, 102].map((n) => `seg-${n}.ts?${own}`));
      }
      // Within the window (half the 4 s target duration) the copy is served from the cache.
      const again = await request(`${fwd.url}${viewers[0]}`);
      await again.body.dump();
      expect(fetches).toBe(1);
      // One fetch; the other 199 concurrent viewers joined it; the one after it hit the cache.
      expect(await cacheCount('miss')).toBe(1);
      expect(await cacheCount('coalesced')).toBe(199);
      expect(await cacheCount('hit')).toBe(1);
    } finally {
      await fwd.close();
    }
  });

  it('the cache window ends after half the target duration: the next request fetches again', async () => {
    let fetches = 0;
    origin.route('/live/window/chunklist.m3u8', (_req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': HLS });
      res.end(livePlaylist(fetches, 1));
    });
    const path = signed('/live/window/chunklist.m3u8');
    const asked = Date.now();
    await (await request(`${gw.url}${path}`)).body.text();
    await (await request(`${gw.url}${path}`)).body.text();
    // The copy lives 500 ms from its fetch, which began after `asked`: a second request within that
    // time must be a hit. (A machine too loaded to send it in time proves nothing either way.)
    if (Date.now() - asked < 450) expect(fetches).toBe(1);
    const second = fetches;
    await new Promise((resolve) => setTimeout(resolve, 600));
    const text = await (await request(`${gw.url}${path}`)).body.text();
    expect(fetches).toBe(second + 1);
    expect(text).toContain(`#EXT-X-MEDIA-SEQUENCE:${second + 1}`);
  });

  it('the cache key is the full origin URL: another origin query is another entry', async () => {
    let fetches = 0;
    origin.route('/live/keyed/chunklist.m3u8', (req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': HLS });
      res.end(livePlaylist(req.url?.includes('b=2') ? 200 : 100));
    });
    const [a, b] = await Promise.all(
      ['a=1', 'b=2'].map(async (q) => {
        const path = signed('/live/keyed/chunklist.m3u8').replace('?', `?${q}&`);
        return (await request(`${gw.url}${path}`)).body.text();
      }),
    );
    expect(fetches).toBe(2);
    expect(a).toContain('seg-100.ts');
    expect(b).toContain('seg-200.ts');
  });

  it('a no-cache answer (Nimble’s per-viewer nimblesessionid) is never given to another viewer', async () => {
    let session = 0;
    origin.route('/nimble/live/playlist.m3u8', (_req, res) => {
      session += 1;
      const id = session;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': HLS, 'cache-control': 'no-cache' });
        res.end(`#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\nchunks.m3u8?nimblesessionid=${id}\n`);
      }, 100);
    });
    const viewers = 20;
    const texts = await Promise.all(
      Array.from({ length: viewers }, async () =>
        (await request(`${gw.url}${signed('/nimble/live/playlist.m3u8')}`)).body.text(),
      ),
    );
    const ids = texts.map((text) => /nimblesessionid=(\d+)/.exec(text)?.[1]);
    expect(new Set(ids).size).toBe(viewers);
    expect(session).toBe(viewers);
    // Later requests for the same URL are not served from a cache either.
    const later = await (await request(`${gw.url}${signed('/nimble/live/playlist.m3u8')}`)).body.text();
    expect(later).toContain(`nimblesessionid=${viewers + 1}&`);
  });

  it('LL-HLS blocking reloads (_HLS_msn/_HLS_part) go to the origin untouched, held as long as it holds them', async () => {
    const seen: string[] = [];
    origin.route('/live/ll/chunklist.m3u8', (req, res) => {
      seen.push(req.url ?? '');
      const blocking = (req.url ?? '').includes('_HLS_msn');
      setTimeout(
        () => {
          res.writeHead(200, { 'content-type': HLS });
          res.end(livePlaylist(blocking ? 6 : 5));
        },
        blocking ? 400 : 0,
      );
    });
    const plain = signed('/live/ll/chunklist.m3u8');
    await (await request(`${gw.url}${plain}`)).body.text();
    const blocking = plain.replace('?', '?_HLS_msn=6&_HLS_part=0&');
    const started = Date.now();
    const texts = await Promise.all(
      [1, 2, 3].map(async () => (await request(`${gw.url}${blocking}`)).body.text()),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    for (const text of texts) expect(text).toContain('#EXT-X-MEDIA-SEQUENCE:6');
    expect(seen).toEqual([
      '/live/ll/chunklist.m3u8',
      '/live/ll/chunklist.m3u8?_HLS_msn=6&_HLS_part=0',
      '/live/ll/chunklist.m3u8?_HLS_msn=6&_HLS_part=0',
      '/live/ll/chunklist.m3u8?_HLS_msn=6&_HLS_part=0',
    ]);
  });

  it('static (VOD) playlists are not kept: each request fetches', async () => {
    let fetches = 0;
    origin.route('/vod/static/index.m3u8', (_req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': HLS });
      res.end(
        '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:6,\nseg-1.ts\n#EXT-X-ENDLIST\n',
      );
    });
    for (let i = 0; i < 3; i += 1)
      await (await request(`${gw.url}${signed('/vod/static/index.m3u8')}`)).body.text();
    expect(fetches).toBe(3);
  });
});

describe('per zone: MPEG-DASH Annex I URL query parameters instead of rewriting each URL', () => {
  const MPD = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S"',
    '     profiles="urn:mpeg:dash:profile:isoff-live:2011">',
    '  <Period id="p0">',
    '    <AdaptationSet mimeType="video/mp4">',
    '      <SegmentTemplate timescale="1000" duration="2000" startNumber="1" media="seg-$Number$.m4s" initialization="init.mp4"/>',
    '      <Representation id="v" bandwidth="800000"/>',
    '    </AdaptationSet>',
    '  </Period>',
    '</MPD>',
    '',
  ].join('\n');

  it('a forward zone with dashUrlParams adds one UrlQueryInfo carrying the viewer token; segment URLs stay as they were', async () => {
    const local = await TestOrigin.start();
    local.file('/annex/vod/manifest.mpd', { body: MPD, type: 'application/dash+xml' });
    const zoneGateway = await startGateway(local.url, { tokens: 'forward', dashUrlParams: true });
    try {
      const path = signUrl('/annex/vod/manifest.mpd', {
        scheme: 'gcore',
        secret: SECRET,
        ttl: 600,
        dir: true,
      });
      const res = await request(`${zoneGateway.url}${path}`);
      const text = await res.body.text();
      expect(res.statusCode).toBe(200);
      expect(text).toContain('schemeIdUri="urn:mpeg:dash:urlparam:2014"');
      // The segment URLs are untouched: the player appends the query itself.
      expect(text).toContain('media="seg-$Number$.m4s"');
      expect(text).toContain('initialization="init.mp4"');
      const query = (/queryString="([^"]*)"/.exec(text)?.[1] ?? '').replace(/&amp;/g, '&');
      const viewerQuery = path.slice(path.indexOf('?') + 1);
      expect(query).toBe(viewerQuery);
      // What a player requests with that query appended is accepted.
      expect(verifyRequest(`/annex/vod/seg-3.m4s?${query}`, { scheme: 'gcore', secret: SECRET }).ok).toBe(
        true,
      );
    } finally {
      await zoneGateway.close();
      await local.close();
    }
  });

  it('dashUrlParams on a mint zone is a configuration error naming the fix', async () => {
    await expect(startGateway(origin.url, { tokens: 'mint', dashUrlParams: true })).rejects.toThrow(
      /zones\[0\]\.dashUrlParams: .*tokens: forward/,
    );
  });
});
