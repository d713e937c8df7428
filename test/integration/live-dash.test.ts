/**
 * The live origin's DASH stream: a dynamic MPD (ISO/IEC 23009-1 §5.3.1.2) with a $Number$ SegmentTemplate
 * and no SegmentTimeline over fixtures/media/live-dash-src/, a 32 s fMP4 loop served over and over. A
 * player computes segment N's media time as (N - 1) * duration (§5.3.9.5.3) and the browser buffers it at
 * its tfdt, so the two must agree, and keep rising across the loop. Boxes are read back here with a few
 * lines of ISO/IEC 14496-12 parsing, independent of the server's; expected times are worked out by hand
 * from the fixture: video 12800 ticks/s and 25600 per segment, audio 48000 ticks/s, 1024 per AAC frame,
 * one loop = 16 segments = 409600 video ticks = 1536000 audio ticks (1500 frames).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { startLiveOrigin, type LiveOrigin, type LiveOriginOptions } from '../helpers/live-origin.js';

const HLS_SOURCE = fileURLToPath(new URL('../../fixtures/media/live-src/', import.meta.url));
const DASH_SOURCE = fileURLToPath(new URL('../../fixtures/media/live-dash-src/', import.meta.url));
const fixture = (name: string) => readFileSync(join(DASH_SOURCE, name));
const T0 = Date.UTC(2025, 0, 1);

const origins: LiveOrigin[] = [];
let now = T0;
async function start(options: Partial<LiveOriginOptions> = {}) {
  const origin = await startLiveOrigin({
    sourceDir: HLS_SOURCE,
    dashSourceDir: DASH_SOURCE,
    style: 'plain',
    clock: () => now,
    startTime: T0,
    ...options,
  });
  origins.push(origin);
  return origin;
}
afterEach(async () => {
  await Promise.all(origins.splice(0).map((o) => o.close()));
  now = T0;
});

async function get(origin: LiveOrigin, path: string) {
  const res = await fetch(`${origin.url}${path}`);
  return { status: res.status, res, body: Buffer.from(await res.arrayBuffer()) };
}

// ---- ISO/IEC 14496-12 boxes, just enough to read the timing of one fragment ------------------------

interface Box {
  type: string;
  body: number;
  end: number;
}
function children(buf: Buffer, start: number, end: number): Box[] {
  const out: Box[] = [];
  for (let at = start; at < end;) {
    const size = buf.readUInt32BE(at);
    out.push({ type: buf.toString('latin1', at + 4, at + 8), body: at + 8, end: at + size });
    at += size;
  }
  return out;
}
function find(buf: Buffer, ...types: string[]): Box {
  let box: Box = { type: '', body: 0, end: buf.length };
  for (const type of types) {
    const next = children(buf, box.body, box.end).find((b) => b.type === type);
    if (!next) throw new Error(`no ${types.join('/')}`);
    box = next;
  }
  return box;
}
/** Full-box version 1 holds a 64-bit time, version 0 a 32-bit one. */
const time = (buf: Buffer, box: Box, offset: number) =>
  buf[box.body] === 1 ? Number(buf.readBigUInt64BE(box.body + offset)) : buf.readUInt32BE(box.body + offset);

interface Fragment {
  tfdt: number;
  /** Sum of the sample durations (trun, else tfhd default, §8.8.8 / §8.8.7). */
  duration: number;
  sequence: number;
  sidxTime: number;
  mdat: Buffer;
}
function fragment(buf: Buffer): Fragment {
  const tfhd = find(buf, 'moof', 'traf', 'tfhd');
  const trun = find(buf, 'moof', 'traf', 'trun');
  const tfFlags = buf.readUInt32BE(tfhd.body) & 0xffffff;
  // tfhd: version/flags, track_ID, then optional base-data-offset (8), sample-description-index (4).
  const defaultDuration = buf.readUInt32BE(tfhd.body + 8 + (tfFlags & 0x1 ? 8 : 0) + (tfFlags & 0x2 ? 4 : 0));
  expect(tfFlags & 0x8).toBe(0x8);
  const trFlags = buf.readUInt32BE(trun.body) & 0xffffff;
  expect(trFlags & 0x100).toBe(0); // no per-sample durations in this fixture
  const count = buf.readUInt32BE(trun.body + 4);
  const mdat = find(buf, 'mdat');
  return {
    tfdt: time(buf, find(buf, 'moof', 'traf', 'tfdt'), 4),
    duration: count * defaultDuration,
    sequence: buf.readUInt32BE(find(buf, 'moof', 'mfhd').body + 4),
    sidxTime: time(buf, find(buf, 'sidx'), 12),
    mdat: buf.subarray(mdat.body, mdat.end),
  };
}

// ---- The MPD --------------------------------------------------------------------------------------

interface Template {
  timescale: number;
  duration: number;
  startNumber: number;
  media: string;
  initialization: string;
}
interface Mpd {
  type: string;
  availabilityStartTime: string;
  publishTime: string;
  minimumUpdatePeriod: string;
  timeShiftBufferDepth: string;
  suggestedPresentationDelay: string;
  maxSegmentDuration: string;
  Period: { AdaptationSet: { contentType: string; mimeType: string; SegmentTemplate: Template }[] };
  UTCTiming: { schemeIdUri: string; value: string };
}
const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseAttributeValue: true,
  isArray: (name) => name === 'AdaptationSet',
});
async function mpd(origin: LiveOrigin, stream = 'cam1') {
  const { status, res, body } = await get(origin, `/live/${stream}/manifest.mpd`);
  expect(status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/dash+xml');
  return (xml.parse(body.toString('utf8')) as { MPD: Mpd }).MPD;
}
const seconds = (xsDuration: string) => Number(/^PT([\d.]+)S$/.exec(xsDuration)![1]);

describe('live DASH: /live/<stream>/manifest.mpd', () => {
  it('is a dynamic MPD whose availabilityStartTime is one full time-shift buffer before the start', async () => {
    const origin = await start();
    now = T0 + 5_000;
    const m = await mpd(origin);
    expect(m.type).toBe('dynamic');
    // windowSize 6 segments of 2 s: the stream began 12 s before T0 = 2025-01-01T00:00:00Z.
    expect(m.availabilityStartTime).toBe('2024-12-31T23:59:48.000Z');
    // Newest segment at T0 + 5 s: floor(17 s / 2 s) = 8, available from AST + 16 s.
    expect(m.publishTime).toBe('2025-01-01T00:00:04.000Z');
    expect(m.minimumUpdatePeriod).toBe('PT2S');
    expect(m.timeShiftBufferDepth).toBe('PT12S');
    expect(m.suggestedPresentationDelay).toBe('PT6S');
    expect(m.maxSegmentDuration).toBe('PT2S');
    expect(origin.playlistFetchCount('/live/cam1/manifest.mpd')).toBe(1);
  });

  it('has one video and one audio AdaptationSet with flat $Number$ templates and the init timescales', async () => {
    const origin = await start();
    const sets = (await mpd(origin)).Period.AdaptationSet;
    expect(sets.map((s) => [s.contentType, s.mimeType])).toEqual([
      ['video', 'video/mp4'],
      ['audio', 'audio/mp4'],
    ]);
    expect(sets.map((s) => s.SegmentTemplate)).toEqual([
      {
        timescale: 12800,
        duration: 25600,
        startNumber: 1,
        media: 'video-$Number$.m4s',
        initialization: 'video-init.mp4',
      },
      {
        timescale: 48000,
        duration: 96000,
        startNumber: 1,
        media: 'audio-$Number$.m4s',
        initialization: 'audio-init.mp4',
      },
    ]);
    for (const name of ['video', 'audio']) {
      const init = await get(origin, `/live/cam1/${name}-init.mp4`);
      expect(init.res.headers.get('content-type')).toBe(`${name}/mp4`);
      expect(init.body.equals(fixture(`${name}-init.mp4`))).toBe(true);
      // mdhd version 0: timescale after version/flags, creation and modification time (§8.4.2.2).
      const mdhd = find(init.body, 'moov', 'trak', 'mdia', 'mdhd');
      expect(init.body[mdhd.body]).toBe(0);
      expect(init.body.readUInt32BE(mdhd.body + 12)).toBe(name === 'video' ? 12800 : 48000);
    }
  });

  it('names a UTCTiming http-iso source on the same server that answers the origin clock', async () => {
    const origin = await start();
    now = T0 + 61_250;
    const m = await mpd(origin);
    expect(m.UTCTiming.schemeIdUri).toBe('urn:mpeg:dash:utc:http-iso:2014');
    const url = new URL(m.UTCTiming.value, `${origin.url}/live/cam1/manifest.mpd`);
    expect(url.origin).toBe(origin.url);
    const res = await fetch(url);
    expect(await res.text()).toBe('2025-01-01T00:01:01.250Z');
    expect(await (await fetch(`${origin.url}/live/time`)).text()).toBe('2025-01-01T00:01:01.250Z');
  });
});

describe('live DASH segments', () => {
  it('every segment inside timeShiftBufferDepth is served, and the newest one advances with the clock', async () => {
    const origin = await start();
    for (const at of [0, 3_000, 100_000]) {
      now = T0 + at;
      const m = await mpd(origin);
      // §5.3.9.5.3: segment N ends, and becomes available, at AST + N * 2 s.
      const elapsed = (now - Date.parse(m.availabilityStartTime)) / 1000;
      const newest = Math.floor(elapsed / 2);
      const oldest = newest - seconds(m.timeShiftBufferDepth) / 2 + 1;
      expect(newest).toBe({ 0: 6, 3_000: 7, 100_000: 56 }[at]);
      for (let n = Math.max(1, oldest); n <= newest; n++) {
        for (const name of ['video', 'audio']) {
          const { status, res } = await get(origin, `/live/cam1/${name}-${n}.m4s`);
          expect([at, name, n, status]).toEqual([at, name, n, 200]);
          expect(res.headers.get('content-type')).toBe(`${name}/mp4`);
        }
      }
    }
  });

  it('segments outside the window get 404: one ahead is tolerated, two window lengths behind is the limit', async () => {
    const origin = await start();
    now = T0 + 100_000; // newest 56; served 45 … 57
    const status = async (n: number) => (await get(origin, `/live/cam1/video-${n}.m4s`)).status;
    expect(await status(44)).toBe(404);
    expect(await status(45)).toBe(200);
    expect(await status(57)).toBe(200);
    expect(await status(58)).toBe(404);
    expect((await get(origin, '/live/cam1/audio-58.m4s')).status).toBe(404);
    expect((await get(origin, '/live/cam1/video-0.m4s')).status).toBe(404);
    expect((await get(origin, '/live/cam1/video-056.m4s')).status).toBe(404);
  });

  it("a segment's tfdt is (N - 1) * duration: exactly for video, within one AAC frame for audio", async () => {
    const origin = await start();
    now = T0 + 100_000;
    // N = 50 is source segment 2 (index 1) of the fourth pass over the 16-segment loop.
    const video = fragment((await get(origin, '/live/cam1/video-50.m4s')).body);
    expect(video.tfdt).toBe(49 * 25600);
    expect(video.sidxTime).toBe(49 * 25600);
    expect(video.sequence).toBe(50);
    expect(video.mdat.equals(fragment(fixture('video-002.m4s')).mdat)).toBe(true);

    const audio = fragment((await get(origin, '/live/cam1/audio-50.m4s')).body);
    const source = fragment(fixture('audio-002.m4s'));
    // The source's second audio segment starts at the first frame boundary after 2 s: 94 * 1024.
    expect(source.tfdt).toBe(96256);
    expect(audio.tfdt).toBe(3 * 1536000 + 96256);
    expect(audio.tfdt - 49 * 96000).toBeGreaterThanOrEqual(0);
    expect(audio.tfdt - 49 * 96000).toBeLessThan(1024);
    expect(audio.sidxTime).toBe(audio.tfdt);
    expect(audio.mdat.equals(source.mdat)).toBe(true);
  });

  it('across loop boundaries the timeline keeps rising with no gap or overlap', async () => {
    const origin = await start({ windowSize: 30 });
    now = T0 + 20_000; // newest 40: segments 1 … 40 span two loop boundaries (after 16 and 32)
    for (const [name, perSegment] of [
      ['video', 25600],
      ['audio', 96000],
    ] as const) {
      let end = 0;
      for (let n = 1; n <= 40; n++) {
        const f = fragment((await get(origin, `/live/cam1/${name}-${n}.m4s`)).body);
        expect([name, n, f.tfdt]).toEqual([name, n, end]);
        expect(f.sequence).toBe(n);
        if (name === 'video') expect(f.duration).toBe(perSegment);
        expect(Math.abs(f.tfdt - (n - 1) * perSegment)).toBeLessThan(1024);
        end = f.tfdt + f.duration;
      }
      // 40 segments = 80 s: 2.5 loops of 409600 video / 1536000 audio ticks.
      expect(end).toBe(name === 'video' ? 80 * 12800 : 2 * 1536000 + (40 - 32) * 96000);
    }
  });
});

describe('live DASH routes', () => {
  it('answer 404 when the origin has no DASH source, and leave the HLS routes as they are', async () => {
    const origin = await start({ dashSourceDir: undefined });
    expect((await get(origin, '/live/cam1/manifest.mpd')).status).toBe(404);
    expect((await get(origin, '/live/cam1/video-1.m4s')).status).toBe(404);
    expect((await get(origin, '/live/time')).status).toBe(404);
    expect((await get(origin, '/live/cam1/media.m3u8')).status).toBe(200);
  });

  it('are served in the nimble style too, marked no-cache like everything Nimble sends', async () => {
    const origin = await start({ style: 'nimble' });
    await mpd(origin);
    const seg = await get(origin, '/live/cam1/video-3.m4s');
    expect(seg.status).toBe(200);
    expect(seg.res.headers.get('cache-control')).toBe('no-cache');
    expect(origin.mpdPath('cam1')).toBe('/live/cam1/manifest.mpd');
  });
});
