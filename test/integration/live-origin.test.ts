/**
 * The live origin simulator (test/helpers/live-origin.ts): a sliding-window live playlist (RFC 8216
 * §6.2.2) that advances with an injected clock, loops its source with EXT-X-DISCONTINUITY and a correct
 * EXT-X-DISCONTINUITY-SEQUENCE, and in the `nimble` style hands out per-request nimblesessionid values
 * that its chunk lists and chunks require. Playlists are read back with m3u8-parser; expected windows are
 * worked out by hand from the fixture's 30 segments of 2 s.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startLiveOrigin, type LiveOrigin, type LiveOriginOptions } from '../helpers/live-origin.js';

const SOURCE = fileURLToPath(new URL('../../fixtures/media/live-src/', import.meta.url));
const sourceSegment = (i: number) => readFileSync(join(SOURCE, `seg_${String(i).padStart(3, '0')}.ts`));
const T0 = Date.UTC(2025, 0, 1);

interface ParsedSegment {
  uri: string;
  duration: number;
  discontinuity?: boolean;
}
interface ParsedPlaylist {
  targetDuration?: number;
  mediaSequence?: number;
  discontinuitySequence?: number;
  discontinuityStarts: number[];
  endList?: boolean;
  segments: ParsedSegment[];
  playlists?: { uri: string; attributes: Record<string, unknown> }[];
}

// m3u8-parser ships no type declarations: load it untyped and give it the shape used here.
const { Parser } = createRequire(import.meta.url)('m3u8-parser') as {
  Parser: new () => { push(text: string): void; end(): void; manifest: ParsedPlaylist };
};

function parse(text: string): ParsedPlaylist {
  const parser = new Parser();
  parser.push(text);
  parser.end();
  return parser.manifest;
}

const origins: LiveOrigin[] = [];
let now = T0;
async function start(options: Partial<LiveOriginOptions> & Pick<LiveOriginOptions, 'style'>) {
  const origin = await startLiveOrigin({ sourceDir: SOURCE, clock: () => now, startTime: T0, ...options });
  origins.push(origin);
  return origin;
}
afterEach(async () => {
  await Promise.all(origins.splice(0).map((o) => o.close()));
  now = T0;
});

async function get(
  origin: LiveOrigin,
  path: string,
): Promise<{ status: number; text: string; res: Response }> {
  const res = await fetch(`${origin.url}${path}`);
  return { status: res.status, text: await res.text(), res };
}

const msnOf = (uri: string) => Number(/(\d+)\.ts/.exec(uri)![1]);

describe('plain style: /live/<stream>/master.m3u8 → media.m3u8 → seg-<msn>.ts', () => {
  it('the master names media.m3u8 with the source manifest BANDWIDTH, CODECS and RESOLUTION', async () => {
    const origin = await start({ style: 'plain' });
    const manifest = JSON.parse(readFileSync(join(SOURCE, 'manifest.json'), 'utf8')) as {
      bandwidth: number;
      codecs: string;
    };
    const { status, text, res } = await get(origin, '/live/stream/master.m3u8');
    expect(status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    const master = parse(text);
    expect(master.playlists).toHaveLength(1);
    expect(master.playlists![0]!.uri).toBe('media.m3u8');
    expect(master.playlists![0]!.attributes.BANDWIDTH).toBe(manifest.bandwidth);
    expect(master.playlists![0]!.attributes.CODECS).toBe('avc1.42c01e,mp4a.40.2');
    expect(master.playlists![0]!.attributes.RESOLUTION).toEqual({ width: 640, height: 360 });
  });

  it('at the start time the window is media sequence 0…5, 2 s each, target duration 2, no ENDLIST', async () => {
    const origin = await start({ style: 'plain' });
    const { text, res } = await get(origin, '/live/stream/media.m3u8');
    expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    const p = parse(text);
    expect(p.mediaSequence).toBe(0);
    expect(p.discontinuitySequence).toBe(0);
    expect(p.targetDuration).toBe(2);
    expect(p.endList).toBeUndefined();
    expect(text).not.toContain('#EXT-X-ENDLIST');
    expect(p.segments.map((s) => s.uri)).toEqual([
      'seg-0.ts',
      'seg-1.ts',
      'seg-2.ts',
      'seg-3.ts',
      'seg-4.ts',
      'seg-5.ts',
    ]);
    expect(p.segments.every((s) => s.duration === 2)).toBe(true);
  });

  it('the window advances with the clock: 4.5 s later it starts at media sequence 2', async () => {
    const origin = await start({ style: 'plain' });
    now = T0 + 4_500;
    const p = parse((await get(origin, '/live/stream/media.m3u8')).text);
    expect(p.mediaSequence).toBe(2);
    expect(p.segments.map((s) => msnOf(s.uri))).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('windowSize sets the number of segments', async () => {
    const origin = await start({ style: 'plain', windowSize: 3 });
    now = T0 + 10_000;
    const p = parse((await get(origin, '/live/stream/media.m3u8')).text);
    expect(p.segments.map((s) => msnOf(s.uri))).toEqual([5, 6, 7]);
  });

  it('at the loop point the playlist carries EXT-X-DISCONTINUITY before the first segment of the next pass', async () => {
    const origin = await start({ style: 'plain' });
    // 56 s: first segment 28; the 30-segment source wraps between 29 and 30.
    now = T0 + 56_000;
    const { text } = await get(origin, '/live/stream/media.m3u8');
    const p = parse(text);
    expect(p.mediaSequence).toBe(28);
    expect(p.discontinuitySequence).toBe(0);
    expect(p.segments.map((s) => msnOf(s.uri))).toEqual([28, 29, 30, 31, 32, 33]);
    expect(p.discontinuityStarts).toEqual([2]);
    expect(p.segments[2]!.discontinuity).toBe(true);
    expect(text.split('\n').filter((l) => l === '#EXT-X-DISCONTINUITY')).toHaveLength(1);
    expect(text).toContain('#EXTINF:2.000,\nseg-29.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nseg-30.ts\n');
  });

  it('once the discontinuity leaves the window, EXT-X-DISCONTINUITY-SEQUENCE counts it (RFC 8216 §6.2.2)', async () => {
    const origin = await start({ style: 'plain' });
    now = T0 + 60_000;
    const atWrap = parse((await get(origin, '/live/stream/media.m3u8')).text);
    expect(atWrap.mediaSequence).toBe(30);
    expect(atWrap.discontinuitySequence).toBe(1);
    expect(atWrap.discontinuityStarts).toEqual([]);
    now = T0 + 62_500;
    const after = parse((await get(origin, '/live/stream/media.m3u8')).text);
    expect(after.mediaSequence).toBe(31);
    expect(after.discontinuitySequence).toBe(1);
    // Two full passes and 5 s later: first segment 62, third pass.
    now = T0 + 125_000;
    const third = parse((await get(origin, '/live/stream/media.m3u8')).text);
    expect(third.mediaSequence).toBe(62);
    expect(third.discontinuitySequence).toBe(2);
  });

  it('seg-<msn>.ts serves source segment msn mod 30 as video/mp2t', async () => {
    const origin = await start({ style: 'plain' });
    now = T0 + 60_000;
    for (const [msn, source] of [
      [30, 0],
      [31, 1],
      [35, 5],
    ] as const) {
      const res = await fetch(`${origin.url}/live/stream/seg-${msn}.ts`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('video/mp2t');
      expect(Buffer.from(await res.arrayBuffer()).equals(sourceSegment(source))).toBe(true);
    }
  });

  it('segments far ahead of the window, or long gone, are 404; just-removed ones are still served', async () => {
    const origin = await start({ style: 'plain' });
    now = T0 + 20_000; // window 10…15
    expect((await get(origin, '/live/stream/seg-40.ts')).status).toBe(404);
    expect((await get(origin, '/live/stream/seg-3.ts')).status).toBe(404);
    expect((await get(origin, '/live/stream/seg-9.ts')).status).toBe(200);
    expect((await get(origin, '/live/stream/seg-007.ts')).status).toBe(404);
  });

  it('counts playlist fetches per path, for every stream name', async () => {
    const origin = await start({ style: 'plain' });
    await get(origin, '/live/stream/media.m3u8');
    await get(origin, '/live/stream/media.m3u8');
    await get(origin, '/live/other/media.m3u8');
    await get(origin, '/live/stream/master.m3u8');
    await get(origin, '/live/stream/seg-1.ts');
    expect(origin.playlistFetchCount('/live/stream/media.m3u8')).toBe(2);
    expect(origin.playlistFetchCount('/live/other/media.m3u8')).toBe(1);
    expect(origin.playlistFetchCount('/live/stream/master.m3u8')).toBe(1);
    expect(origin.playlistFetchCount('/live/stream/seg-1.ts')).toBe(0);
    expect(origin.requests.map((r) => r.kind)).toEqual(['media', 'media', 'media', 'master', 'segment']);
  });

  it('segmentDuration overrides EXTINF and the timeline', async () => {
    const origin = await start({ style: 'plain', segmentDuration: 4 });
    now = T0 + 9_000;
    const { text } = await get(origin, '/live/stream/media.m3u8');
    const p = parse(text);
    expect(p.mediaSequence).toBe(2);
    expect(p.targetDuration).toBe(4);
    expect(text).toContain('#EXTINF:4.000,\nseg-2.ts');
  });
});

describe('uneven source durations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'live-src-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  for (const [i, name] of ['a.ts', 'b.ts', 'c.ts'].entries())
    writeFileSync(join(dir, name), sourceSegment(i));
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({
      bandwidth: 500000,
      segments: [
        { uri: 'a.ts', duration: 2 },
        { uri: 'b.ts', duration: 3 },
        { uri: 'c.ts', duration: 1 },
      ],
    }),
  );

  it('media sequence follows cumulative durations: 2 + 3 + 1 s loops every 6 s', async () => {
    const origin = await start({ style: 'plain', sourceDir: dir, windowSize: 2 });
    now = T0 + 4_500; // inside b (2…5 s)
    const p1 = parse((await get(origin, '/live/x/media.m3u8')).text);
    expect(p1.mediaSequence).toBe(1);
    expect(p1.targetDuration).toBe(3);
    expect(p1.segments.map((s) => s.duration)).toEqual([3, 1]);
    now = T0 + 6_500; // second pass, inside a
    const p2 = parse((await get(origin, '/live/x/media.m3u8')).text);
    expect(p2.mediaSequence).toBe(3);
    expect(p2.discontinuitySequence).toBe(1);
    expect(p2.segments.map((s) => s.duration)).toEqual([2, 3]);
    now = T0 + 5_500; // inside c: the window is c(2), a(3) with the loop between them
    const p3 = parse((await get(origin, '/live/x/media.m3u8')).text);
    expect(p3.mediaSequence).toBe(2);
    expect(p3.discontinuityStarts).toEqual([1]);
    const seg3 = await fetch(`${origin.url}/live/x/seg-3.ts`);
    expect(Buffer.from(await seg3.arrayBuffer()).equals(sourceSegment(0))).toBe(true);
  });
});

describe('nimble style (Nimble Streamer URL shapes)', () => {
  it('every playlist.m3u8 request gets a new nimblesessionid in a relative chunks.m3u8 URI', async () => {
    const origin = await start({ style: 'nimble' });
    const a = await get(origin, '/live/stream/playlist.m3u8');
    const b = await get(origin, '/live/stream/playlist.m3u8');
    expect(a.res.headers.get('cache-control')).toBe('no-cache');
    expect(a.res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    const uriA = parse(a.text).playlists![0]!.uri;
    const uriB = parse(b.text).playlists![0]!.uri;
    expect(uriA).toMatch(/^chunks\.m3u8\?nimblesessionid=\d+$/);
    expect(uriB).toMatch(/^chunks\.m3u8\?nimblesessionid=\d+$/);
    expect(uriA).not.toBe(uriB);
    expect(origin.sessionIds).toEqual([uriA.split('=')[1], uriB.split('=')[1]]);
  });

  it('the chunk list carries the same session id on every l_<a>_<b>_<msn>.ts chunk; <b> is the start in ms', async () => {
    const origin = await start({ style: 'nimble' });
    const master = parse((await get(origin, '/live/stream/playlist.m3u8')).text);
    const chunksUri = master.playlists![0]!.uri;
    const id = chunksUri.split('=')[1]!;
    now = T0 + 6_000;
    const { text, res } = await get(origin, `/live/stream/${chunksUri}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const p = parse(text);
    expect(p.mediaSequence).toBe(3);
    expect(p.segments).toHaveLength(6);
    for (const [i, s] of p.segments.entries()) {
      const m = /^l_(\d+)_(\d+)_(\d+)\.ts\?nimblesessionid=(\d+)$/.exec(s.uri);
      expect(m).not.toBeNull();
      expect(Number(m![2])).toBe((3 + i) * 2000);
      expect(Number(m![3])).toBe(3 + i);
      expect(m![4]).toBe(id);
    }
  });

  it('chunks.m3u8 without a nimblesessionid, or with one never issued, is 403', async () => {
    const origin = await start({ style: 'nimble' });
    await get(origin, '/live/stream/playlist.m3u8');
    expect((await get(origin, '/live/stream/chunks.m3u8')).status).toBe(403);
    expect((await get(origin, '/live/stream/chunks.m3u8?nimblesessionid=1')).status).toBe(403);
    expect((await get(origin, '/live/stream/chunks.m3u8?nimblesessionid=')).status).toBe(403);
  });

  it('a chunk is served with its session id and refused (403) without one or with another stream’s', async () => {
    const origin = await start({ style: 'nimble' });
    const chunksUri = parse((await get(origin, '/live/stream/playlist.m3u8')).text).playlists![0]!.uri;
    const otherUri = parse((await get(origin, '/live/other/playlist.m3u8')).text).playlists![0]!.uri;
    const chunk = parse((await get(origin, `/live/stream/${chunksUri}`)).text).segments[1]!.uri;
    const res = await fetch(`${origin.url}/live/stream/${chunk}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp2t');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(Buffer.from(await res.arrayBuffer()).equals(sourceSegment(1))).toBe(true);

    const bare = chunk.split('?')[0]!;
    expect((await get(origin, `/live/stream/${bare}`)).status).toBe(403);
    expect((await get(origin, `/live/stream/${bare}?${otherUri.split('?')[1]}`)).status).toBe(403);
    expect((await get(origin, `/live/stream/${bare}?nimblesessionid=999`)).status).toBe(403);
  });

  it('a chunk name that does not match the stream timeline is 404', async () => {
    const origin = await start({ style: 'nimble' });
    const chunksUri = parse((await get(origin, '/live/stream/playlist.m3u8')).text).playlists![0]!.uri;
    const chunk = parse((await get(origin, `/live/stream/${chunksUri}`)).text).segments[1]!.uri;
    const forged = chunk.replace(
      /_(\d+)_(\d+)\.ts/,
      (_m, b: string, n: string) => `_${Number(b) + 1}_${n}.ts`,
    );
    expect((await get(origin, `/live/stream/${forged}`)).status).toBe(404);
  });

  it('an idle session expires after sessionIdleMs', async () => {
    const origin = await start({ style: 'nimble', sessionIdleMs: 30_000 });
    const chunksUri = parse((await get(origin, '/live/stream/playlist.m3u8')).text).playlists![0]!.uri;
    now = T0 + 20_000;
    expect((await get(origin, `/live/stream/${chunksUri}`)).status).toBe(200);
    now = T0 + 45_000;
    expect((await get(origin, `/live/stream/${chunksUri}`)).status).toBe(200);
    now = T0 + 76_000;
    expect((await get(origin, `/live/stream/${chunksUri}`)).status).toBe(403);
  });

  it('counts playlist fetches per path with the query left out', async () => {
    const origin = await start({ style: 'nimble' });
    const uris = [];
    for (let i = 0; i < 3; i++)
      uris.push(parse((await get(origin, '/live/stream/playlist.m3u8')).text).playlists![0]!.uri);
    for (const u of uris) await get(origin, `/live/stream/${u}`);
    expect(origin.playlistFetchCount('/live/stream/playlist.m3u8')).toBe(3);
    expect(origin.playlistFetchCount('/live/stream/chunks.m3u8')).toBe(3);
  });
});
