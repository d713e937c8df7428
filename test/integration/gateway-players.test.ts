import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { request } from 'undici';
import { verifyRequest } from '../../src/index.js';
import { nowSeconds, SECRET, signed, startGateway, TestOrigin } from './support.js';

// What real players need beyond what the rewriters' own tests show: a Location for live DASH whose
// entry link expires, a session redirect for players that ignore Location, forward with renditions in
// subdirectories, and the standard media type whatever the origin calls a manifest.

/** A live MPD as ffmpeg's DASH muxer writes it (5.1, `-f dash -use_template 1`): no Location. */
const LIVE_MPD = [
  '<?xml version="1.0" encoding="utf-8"?>',
  '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011"',
  '\ttype="dynamic"',
  '\tminimumUpdatePeriod="PT2S"',
  '\tavailabilityStartTime="2026-12-01T00:00:00.000Z"',
  '\tminBufferTime="PT4.0S">',
  '\t<ProgramInformation>',
  '\t</ProgramInformation>',
  '\t<Period id="0" start="PT0.0S">',
  '\t\t<AdaptationSet id="0" contentType="video">',
  '\t\t\t<Representation id="0" mimeType="video/mp4" codecs="avc1.42c00c" bandwidth="600000">',
  '\t\t\t\t<SegmentTemplate timescale="12800" duration="25600" initialization="init-$RepresentationID$.m4s" media="seg-$RepresentationID$-$Number%05d$.m4s" startNumber="1">',
  '\t\t\t\t</SegmentTemplate>',
  '\t\t\t</Representation>',
  '\t\t</AdaptationSet>',
  '\t</Period>',
  '</MPD>',
  '',
].join('\n');

const DASH = 'application/dash+xml';
const HLS = 'application/vnd.apple.mpegurl';

const decodeXml = (text: string): string =>
  text.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');

function locations(mpd: string): string[] {
  return [...mpd.matchAll(/<Location>([^<]*)<\/Location>/g)].map((m) => decodeXml(m[1] ?? ''));
}

const verifyAt = (url: string, now: number) => {
  const u = new URL(url);
  return verifyRequest(`${u.pathname}${u.search}`, { scheme: 'gcore', secret: SECRET, now });
};

let origin: TestOrigin;

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file('/live/ff/manifest.mpd', {
    body: LIVE_MPD,
    type: DASH,
    headers: { 'cache-control': 'no-cache' },
  });
  origin.file('/live/ff/located.mpd', {
    body: LIVE_MPD.replace('\t<Period', '\t<Location>located.mpd?from=origin</Location>\n\t<Period'),
    type: DASH,
  });
  origin.file('/vod/ff/manifest.mpd', { body: LIVE_MPD.replace('"dynamic"', '"static"'), type: DASH });
  origin.file('/live/ff/seg-0-00001.m4s', { body: 'media', type: 'video/iso.segment' });
});
afterAll(async () => {
  await origin.close();
});

describe('live DASH from a short entry link (ISO/IEC 23009-1 §5.4.1: reloads go to the first Location)', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    gw = await startGateway(origin.url, { tokens: 'mint', playlistTtl: 600, segmentTtl: 30 });
  });
  afterAll(() => gw.close());

  it('a dynamic MPD that names no Location gets an absolute one to itself, whose token outlives the 2-second entry link by the playlist lifetime', async () => {
    const now = nowSeconds();
    const res = await request(`${gw.url}${signed('/live/ff/manifest.mpd?cam=1', { ttl: 2 })}`);
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    const [location, ...more] = locations(text);
    expect(more).toEqual([]);
    // DASH-MPD.xsd order: after ProgramInformation, before Period; the origin's indentation kept.
    expect(text).toContain('\t</ProgramInformation>\n\t<Location>');
    const url = new URL(location!);
    expect(`${url.origin}${url.pathname}`).toBe(`${gw.url}/live/ff/manifest.mpd`);
    expect(url.searchParams.get('cam')).toBe('1');
    const expires = Number(url.searchParams.get('expires'));
    expect(expires).toBeGreaterThanOrEqual(now + 600);
    expect(expires).toBeLessThanOrEqual(now + 602);
    // The entry link is dead 2 s after signing; the Location still opens a minute later.
    expect(verifyAt(location!, now + 60).ok).toBe(true);
    const again = await request(location!);
    expect(again.statusCode).toBe(200);
    expect(locations(await again.body.text())).toHaveLength(1);
  });

  it("the SegmentTemplate of a dynamic MPD gets the playlist lifetime: shaka keeps the first MPD's template for the session", async () => {
    const now = nowSeconds();
    const text = await (await request(`${gw.url}${signed('/live/ff/manifest.mpd', { ttl: 2 })}`)).body.text();
    const media = decodeXml(/media="([^"]*)"/.exec(text)?.[1] ?? '');
    const segment = new URL(
      media.replace('$RepresentationID$', '0').replace('$Number%05d$', '00001'),
      `${gw.url}/live/ff/`,
    );
    expect(Number(segment.searchParams.get('expires'))).toBeGreaterThanOrEqual(now + 600);
    expect(verifyAt(segment.href, now + 60).ok).toBe(true);
    expect((await request(segment.href)).statusCode).toBe(200);
  });

  it('an MPD that names its own Location keeps it (one Location, given a token); a static MPD gets none', async () => {
    const located = await (
      await request(`${gw.url}${signed('/live/ff/located.mpd', { ttl: 2 })}`)
    ).body.text();
    const [only, ...more] = locations(located);
    expect(more).toEqual([]);
    expect(only).toMatch(/^located\.mpd\?from=origin&md5=[\w-]{22}&expires=\d+$/);
    const vod = await (await request(`${gw.url}${signed('/vod/ff/manifest.mpd', { ttl: 2 })}`)).body.text();
    expect(locations(vod)).toEqual([]);
  });
});

describe('dashLocation: false', () => {
  it('leaves a dynamic MPD without Location as the origin wrote it (players reload from the entry link)', async () => {
    const gw = await startGateway(origin.url, { tokens: 'mint', dashLocation: false });
    try {
      const text = await (
        await request(`${gw.url}${signed('/live/ff/manifest.mpd', { ttl: 2 })}`)
      ).body.text();
      expect(locations(text)).toEqual([]);
    } finally {
      await gw.close();
    }
  });
});

describe('the DASH session redirect (dashSessionRedirect): for players that reload from the URL they were given', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    gw = await startGateway(origin.url, { tokens: 'mint', playlistTtl: 600, dashSessionRedirect: true });
  });
  afterAll(() => gw.close());

  it('a short-lived MPD link is answered 301 to the same MPD under a playlist-lifetime token, never cached', async () => {
    const now = nowSeconds();
    const res = await request(`${gw.url}${signed('/live/ff/manifest.mpd?cam=1', { ttl: 5 })}`);
    expect(res.statusCode).toBe(301);
    expect(res.headers['cache-control']).toBe('private, no-store');
    const target = new URL(String(res.headers.location), `${gw.url}/`);
    expect(target.pathname).toBe('/live/ff/manifest.mpd');
    expect(target.searchParams.get('cam')).toBe('1');
    expect(Number(target.searchParams.get('expires'))).toBeGreaterThanOrEqual(now + 600);
    expect(verifyAt(target.href, now + 60).ok).toBe(true);
    const followed = await request(target.href);
    expect(followed.statusCode).toBe(200);
    expect(followed.headers['content-type']).toBe(DASH);
    await followed.body.text();
  });

  it('a link that lives longer than half the playlist lifetime, a segment, or a denied link is not redirected', async () => {
    const long = await request(`${gw.url}${signed('/live/ff/manifest.mpd', { ttl: 400 })}`);
    expect(long.statusCode).toBe(200);
    await long.body.text();
    const segment = await request(`${gw.url}${signed('/live/ff/seg-0-00001.m4s', { ttl: 5 })}`);
    expect(segment.statusCode).toBe(200);
    await segment.body.text();
    const forged = await request(
      `${gw.url}/live/ff/manifest.mpd?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=${nowSeconds() + 5}`,
    );
    expect(forged.statusCode).toBe(403);
    expect(forged.headers.location).toBeUndefined();
    await forged.body.text();
  });

  it('only a mint zone may redirect (the target holds a minted token)', async () => {
    await expect(startGateway(origin.url, { tokens: 'forward', dashSessionRedirect: true })).rejects.toThrow(
      /dashSessionRedirect: .*tokens: mint/,
    );
  });
});

describe('forward with renditions in subdirectories (a directory token opens files directly in its directory)', () => {
  const MASTER = [
    '#EXTM3U',
    '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="en",URI="subs.m3u8"',
    '#EXT-X-STREAM-INF:BANDWIDTH=300000,SUBTITLES="s"',
    'v0/index.m3u8',
    '#EXT-X-STREAM-INF:BANDWIDTH=600000,SUBTITLES="s"',
    'v1/index.m3u8',
    '',
  ].join('\n');
  const MEDIA = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg_000.ts\n#EXT-X-ENDLIST\n';
  let subOrigin: TestOrigin;
  beforeAll(async () => {
    subOrigin = await TestOrigin.start();
    subOrigin.file('/vod/x/master.m3u8', { body: MASTER, type: HLS });
    subOrigin.file('/vod/x/subs.m3u8', { body: MEDIA, type: HLS });
    for (const v of ['v0', 'v1']) {
      subOrigin.file(`/vod/x/${v}/index.m3u8`, { body: MEDIA, type: HLS });
      subOrigin.file(`/vod/x/${v}/seg_000.ts`, { body: 'ts', type: 'video/mp2t' });
    }
  });
  afterAll(() => subOrigin.close());

  const master = async (zone: Parameters<typeof startGateway>[1], logs?: string[]) => {
    const gw = await startGateway(subOrigin.url, { tokens: 'forward', ...zone }, {}, logs);
    const link = signed('/vod/x/master.m3u8', { ttl: 300, dir: true });
    const text = await (await request(`${gw.url}${link}`)).body.text();
    return { gw, text, lines: text.split('\n').filter((l) => l !== '' && !l.startsWith('#')) };
  };

  it('left bare by default, said once per manifest at warn level (a path, never a token)', async () => {
    const logs: string[] = [];
    const { gw, text, lines } = await master({}, logs);
    try {
      expect(lines).toEqual(['v0/index.m3u8', 'v1/index.m3u8']);
      expect(text).toMatch(/URI="subs\.m3u8\?md5=[\w-]{22}&expires=\d+"/);
      const warnings = logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ uncovered: 2, first: '/vod/x/v0/index.m3u8' });
      expect(String(warnings[0]!.msg)).toMatch(/forwardUncovered: path or mint/);
      expect(logs.join('\n')).not.toMatch(/md5=[\w-]{22}/);
    } finally {
      await gw.close();
    }
  });

  it('forwardUncovered: path writes the viewer token in path form; the rendition and its segments open through the gateway', async () => {
    const { gw, lines } = await master({ forwardUncovered: 'path' });
    try {
      for (const line of lines) expect(line).toMatch(/^~[\w-]{22}~\d+\/v[01]\/index\.m3u8$/);
      const rendition = new URL(lines[0]!, `${gw.url}/vod/x/`);
      const res = await request(rendition.href);
      expect(res.statusCode).toBe(200);
      // The segment inherits the path token from the rendition's URL: left as it is.
      expect((await res.body.text()).split('\n')).toContain('seg_000.ts');
      expect((await request(new URL('seg_000.ts', rendition).href)).statusCode).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('forwardUncovered: mint gives a minted token that expires with the viewer token, never later', async () => {
    const before = nowSeconds();
    const { gw, lines } = await master({ forwardUncovered: 'mint', playlistTtl: 14_400 });
    try {
      for (const line of lines) {
        const url = new URL(line, `${gw.url}/vod/x/`);
        expect(Number(url.searchParams.get('expires'))).toBeLessThanOrEqual(before + 301);
        const res = await request(url.href);
        expect(res.statusCode).toBe(200);
        await res.body.text();
      }
    } finally {
      await gw.close();
    }
  });

  it('forwardUncovered needs tokens: forward, and path needs a scheme with a path form', async () => {
    await expect(startGateway(subOrigin.url, { tokens: 'mint', forwardUncovered: 'path' })).rejects.toThrow(
      /forwardUncovered: applies to tokens: forward only/,
    );
    await expect(
      startGateway(subOrigin.url, {
        tokens: 'forward',
        forwardUncovered: 'path',
        scheme: 'ectoken',
        secrets: ['Key1234'],
      }),
    ).rejects.toThrow(/forwardUncovered: ectoken tokens have no path form/);
  });
});

describe('streamgate rewrite, offline, says and does the same', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamgate-rewrite-'));
  async function rewrite(file: string, body: string, url: string, extra: string[] = []) {
    writeFileSync(join(dir, file), body);
    const errors: string[] = [];
    let printed = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed += String(chunk);
      return true;
    });
    try {
      const argv = ['rewrite', join(dir, file), '--url', url, '--scheme', 'gcore', '--secret', SECRET];
      const status = await main([...argv, ...extra], { out: () => {}, err: (l) => errors.push(l), env: {} });
      return { status, printed, errors };
    } finally {
      write.mockRestore();
    }
  }

  it('forward over renditions in subdirectories: a warning on stderr, and --forward-uncovered path covers them', async () => {
    const master = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv0/index.m3u8\n';
    const url = `https://cdn.example${signed('/vod/x/master.m3u8', { ttl: 300, dir: true })}`;
    const left = await rewrite('master.m3u8', master, url, ['--tokens', 'forward']);
    expect(left.status).toBe(0);
    expect(left.printed).toBe(master);
    expect(left.errors.join('\n')).toMatch(
      /warning: forward left 1 URI.*\/vod\/x\/v0\/index\.m3u8.*--forward-uncovered/,
    );
    const covered = await rewrite('master.m3u8', master, url, [
      '--tokens',
      'forward',
      '--forward-uncovered',
      'path',
    ]);
    expect(covered.printed).toMatch(/^~[\w-]{22}~\d+\/v0\/index\.m3u8$/m);
    expect(covered.errors.join('\n')).not.toMatch(/warning/);
  });

  it('a dynamic MPD without Location gets the Location the gateway would insert', async () => {
    const url = `https://cdn.example${signed('/live/ff/manifest.mpd', { ttl: 2 })}`;
    const { printed } = await rewrite('manifest.mpd', LIVE_MPD, url);
    expect(locations(printed)).toHaveLength(1);
    expect(locations(printed)[0]).toMatch(
      /^https:\/\/cdn\.example\/live\/ff\/manifest\.mpd\?md5=[\w-]{22}&expires=\d+$/,
    );
  });
});

describe('a manifest the origin labels generically is served with its standard media type', () => {
  const GENERIC = ['application/xml', 'text/plain', 'application/octet-stream'];
  const BODIES = {
    hls: { body: '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg.ts\n#EXT-X-ENDLIST\n', type: HLS },
    dash: { body: LIVE_MPD.replace('"dynamic"', '"static"'), type: DASH },
  };
  let typed: TestOrigin;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    typed = await TestOrigin.start();
    GENERIC.forEach((label, i) => {
      typed.file(`/t/${i}/index.m3u8`, { body: BODIES.hls.body, type: label });
      typed.file(`/t/${i}/manifest.mpd`, { body: BODIES.dash.body, type: label });
      // No extension: the first bytes decide.
      typed.file(`/t/${i}/hls`, { body: BODIES.hls.body, type: label });
      typed.file(`/t/${i}/dash`, { body: BODIES.dash.body, type: label });
    });
    gw = await startGateway(typed.url, { tokens: 'mint' });
  });
  afterAll(async () => {
    await gw.close();
    await typed.close();
  });

  for (const [i, label] of GENERIC.entries()) {
    for (const [kind, path] of [
      ['hls', `/t/${i}/index.m3u8`],
      ['dash', `/t/${i}/manifest.mpd`],
      ['hls', `/t/${i}/hls`],
      ['dash', `/t/${i}/dash`],
    ] as const) {
      it(`${label} at ${path} → ${BODIES[kind].type}, rewritten`, async () => {
        const res = await request(`${gw.url}${signed(path)}`);
        const text = await res.body.text();
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toBe(BODIES[kind].type);
        expect(text).toMatch(/md5=[\w-]{22}/);
      });
    }
  }
});
