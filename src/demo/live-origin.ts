/**
 * A live HLS origin simulator: a real HTTP server that turns the looping MPEG-TS source in
 * fixtures/media/live-src/ into a sliding-window live stream advancing with the clock.
 *
 * Timing: the stream is taken to have started `windowSize` segments before `startTime`, so a full window
 * is there at once. At time `now` the first segment of the window has media sequence number
 * m = the segment whose span holds (now - startTime) — with uniform durations floor((now - start) / d) —
 * and the window is m … m + windowSize - 1. Segment k plays source segment k mod n; every pass over the
 * source after the first is preceded by EXT-X-DISCONTINUITY, so segment k has discontinuity sequence
 * floor(k / n) (RFC 8216 §4.3.3.3, §6.2.2).
 *
 * Styles:
 *  - plain:  /<app>/<stream>/master.m3u8 → media.m3u8 → seg-<msn>.ts
 *  - nimble: /<app>/<stream>/playlist.m3u8 → chunks.m3u8?nimblesessionid=<N> → l_<a>_<b>_<msn>.ts?nimblesessionid=<N>,
 *            a new N for every playlist.m3u8 request; chunk lists and chunks with an unknown or missing
 *            session get 403; every response says Cache-Control: no-cache (Nimble Streamer's shapes).
 *
 * Live DASH (either style, when `dashSourceDir` is given): /<app>/<stream>/manifest.mpd is a dynamic MPD
 * (ISO/IEC 23009-1 §5.3.1.2) with one SegmentTemplate per AdaptationSet, no SegmentTimeline, startNumber 1,
 * every file flat in the MPD's directory: video-init.mp4, audio-init.mp4, video-<N>.m4s, audio-<N>.m4s, and
 * `time` (UTCTiming, urn:mpeg:dash:utc:http-iso:2014; also at /<app>/time). The source is one seamless loop
 * of S segments (fixtures/media/live-dash-src/). Segment N is source segment (N - 1) mod S from pass
 * L = floor((N - 1) / S); its tfdt (and sidx earliest_presentation_time) is rewritten to
 * L * loopDuration * timescale + the value the source file carries, so media time keeps rising across
 * loops and equals (N - 1) * duration within one audio frame — exactly, for video (§5.3.9.5.3 gives a
 * $Number$ segment without a timeline that start time). availabilityStartTime is `windowSize` segments
 * before `startTime`, as on the HLS side, so a full time-shift buffer is there at once.
 *
 * Imports node built-ins only, so the demo can use it as it is.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

export type LiveStyle = 'plain' | 'nimble';

export interface LiveOriginOptions {
  /** Directory with manifest.json and the segments it lists (scripts/make-fixtures.sh writes one). */
  sourceDir: string;
  style: LiveStyle;
  /** Segments per playlist; default 6. */
  windowSize?: number;
  /** Overrides every source segment's duration (seconds) in the timeline and in EXTINF. */
  segmentDuration?: number;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** Clock value (ms) at which media sequence 0 is the first segment of the window; default clock() at start. */
  startTime?: number;
  /** First path segment; default 'live'. */
  app?: string;
  /** First nimblesessionid handed out; default 1500945958 (the id in a real Nimble capture). */
  firstSessionId?: number;
  /** A Nimble session unused for this long (ms) is forgotten and then gets 403; default: never. */
  sessionIdleMs?: number;
  /**
   * Directory with the live DASH source (fixtures/media/live-dash-src/: manifest.json, init and media
   * segments). Without it the DASH routes answer 404.
   */
  dashSourceDir?: string;
  port?: number;
  host?: string;
}

export interface LiveSegment {
  readonly msn: number;
  /** Index into the source segments. */
  readonly source: number;
  readonly duration: number;
  /** Media time (s) at which the segment starts, counted from media sequence 0. */
  readonly start: number;
  readonly discontinuitySequence: number;
  /** Preceded by EXT-X-DISCONTINUITY in a playlist where it is not the first segment. */
  readonly discontinuity: boolean;
}

export interface LiveWindow {
  readonly mediaSequence: number;
  readonly discontinuitySequence: number;
  readonly targetDuration: number;
  readonly segments: readonly LiveSegment[];
}

export interface LiveRequest {
  readonly method: string;
  readonly url: string;
  readonly path: string;
  readonly query: string;
  readonly headers: IncomingHttpHeaders;
  readonly receivedAt: number;
  readonly kind: 'master' | 'media' | 'mpd' | 'init' | 'segment' | 'time' | 'other';
  status?: number;
}

export interface LiveOrigin {
  readonly url: string;
  readonly port: number;
  readonly style: LiveStyle;
  readonly requests: LiveRequest[];
  /** Playlist requests (master, media and MPD) per path, query excluded. */
  readonly playlistFetches: ReadonlyMap<string, number>;
  playlistFetchCount(path: string): number;
  /** The window a media playlist request would get now (or at `now`). */
  window(now?: number): LiveWindow;
  /** nimblesessionid values handed out so far, oldest first. */
  readonly sessionIds: readonly string[];
  /** The path of the entry playlist for a stream name, e.g. /live/cam1/playlist.m3u8. */
  entryPath(stream?: string): string;
  /** The path of the live MPD for a stream name, e.g. /live/cam1/manifest.mpd (needs `dashSourceDir`). */
  mpdPath(stream?: string): string;
  /** The DASH segment numbers a client may fetch now (or at `now`); undefined without `dashSourceDir`. */
  dashWindow(now?: number): DashWindow | undefined;
  close(): Promise<void>;
}

export interface DashWindow {
  /** Milliseconds since the epoch: MPD@availabilityStartTime. */
  readonly availabilityStartTime: number;
  /** Oldest and newest segment numbers inside MPD@timeShiftBufferDepth. */
  readonly first: number;
  readonly last: number;
  /** Oldest and newest numbers served; outside them a segment request gets 404. */
  readonly servedFirst: number;
  readonly servedLast: number;
}

interface SourceSegment {
  uri: string;
  duration: number;
  file: string;
  bytes: number;
}

interface SourceManifest {
  bandwidth: number;
  averageBandwidth?: number;
  codecs?: string;
  resolution?: string;
  frameRate?: number;
  segments: SourceSegment[];
}

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
const STREAM_NAME = /^[A-Za-z0-9_-]+$/;

async function loadSource(dir: string, override: number | undefined): Promise<SourceManifest> {
  const raw: unknown = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  const m = raw as Partial<SourceManifest> & { segments?: { uri?: unknown; duration?: unknown }[] };
  if (!Array.isArray(m.segments) || m.segments.length === 0) {
    throw new Error(`live-origin: ${dir}/manifest.json lists no segments`);
  }
  if (override !== undefined && !(override > 0)) throw new Error('live-origin: segmentDuration must be > 0');
  const segments: SourceSegment[] = [];
  for (const s of m.segments) {
    if (
      typeof s.uri !== 'string' ||
      s.uri.includes('/') ||
      typeof s.duration !== 'number' ||
      !(s.duration > 0)
    ) {
      throw new Error(`live-origin: bad segment entry ${JSON.stringify(s)} in ${dir}/manifest.json`);
    }
    const file = join(dir, s.uri);
    const info = await stat(file);
    segments.push({ uri: s.uri, duration: override ?? s.duration, file, bytes: info.size });
  }
  return {
    bandwidth: typeof m.bandwidth === 'number' ? m.bandwidth : 1_000_000,
    averageBandwidth: m.averageBandwidth,
    codecs: m.codecs,
    resolution: m.resolution,
    frameRate: m.frameRate,
    segments,
  };
}

/** The timeline of a looping source: segment k ↔ source k mod n, start times, discontinuities. */
class Timeline {
  readonly n: number;
  readonly loopSeconds: number;
  readonly targetDuration: number;
  private readonly starts: number[];

  constructor(private readonly source: readonly SourceSegment[]) {
    this.n = source.length;
    this.starts = [];
    let t = 0;
    for (const s of source) {
      this.starts.push(t);
      t += s.duration;
    }
    this.loopSeconds = t;
    // RFC 8216 §4.3.3.1: every EXTINF rounded to the nearest integer must be ≤ the target duration.
    this.targetDuration = Math.max(1, ...source.map((s) => Math.round(s.duration)));
  }

  segment(msn: number): LiveSegment {
    const loop = Math.floor(msn / this.n);
    const i = msn - loop * this.n;
    return {
      msn,
      source: i,
      duration: this.source[i]!.duration,
      start: loop * this.loopSeconds + this.starts[i]!,
      discontinuitySequence: loop,
      discontinuity: i === 0 && msn > 0,
    };
  }

  /** Media sequence number of the segment whose span holds media time `t` (s, ≥ 0). */
  msnAt(t: number): number {
    const loop = Math.floor(t / this.loopSeconds);
    const within = t - loop * this.loopSeconds;
    let i = 0;
    while (i + 1 < this.n && this.starts[i + 1]! <= within) i++;
    return loop * this.n + i;
  }
}

/** Extended M3U media playlist for a window (RFC 8216 §4.3.3; no EXT-X-ENDLIST: the stream is live). */
function mediaPlaylist(w: LiveWindow, uri: (s: LiveSegment) => string): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    `#EXT-X-TARGETDURATION:${w.targetDuration}`,
    `#EXT-X-MEDIA-SEQUENCE:${w.mediaSequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${w.discontinuitySequence}`,
  ];
  w.segments.forEach((s, i) => {
    // The first segment's discontinuity is already counted in EXT-X-DISCONTINUITY-SEQUENCE.
    if (s.discontinuity && i > 0) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXTINF:${s.duration.toFixed(3)},`, uri(s));
  });
  return `${lines.join('\n')}\n`;
}

function streamInf(source: SourceManifest): string {
  const attrs = [`BANDWIDTH=${source.bandwidth}`];
  if (source.averageBandwidth) attrs.push(`AVERAGE-BANDWIDTH=${source.averageBandwidth}`);
  if (source.codecs) attrs.push(`CODECS="${source.codecs}"`);
  if (source.resolution) attrs.push(`RESOLUTION=${source.resolution}`);
  if (source.frameRate) attrs.push(`FRAME-RATE=${source.frameRate.toFixed(3)}`);
  return `#EXT-X-STREAM-INF:${attrs.join(',')}`;
}

/** A stable number per stream name, standing in for the first number of Nimble's chunk names. */
function streamNumber(stream: string): number {
  let h = 2166136261;
  for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 16777619) >>> 0;
  return 1_000_000 + (h % 9_000_000);
}

/** The raw value of the first `name=` parameter in a query, undefined when absent. */
function queryParam(query: string, name: string): string | undefined {
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if ((eq < 0 ? pair : pair.slice(0, eq)) === name) return eq < 0 ? '' : pair.slice(eq + 1);
  }
  return undefined;
}

// ---- Live DASH ------------------------------------------------------------------------------------

const MPD_TYPE = 'application/dash+xml';

/** A field of a media segment that carries a time (tfdt, sidx) or the fragment sequence (mfhd). */
interface SegmentField {
  readonly at: number;
  readonly bytes: 4 | 8;
  readonly role: 'time' | 'sequence';
}

interface DashSourceSegment {
  readonly body: Buffer;
  readonly fields: readonly SegmentField[];
}

interface DashTrack {
  readonly name: 'video' | 'audio';
  readonly init: Buffer;
  readonly timescale: number;
  readonly codecs: string;
  readonly bandwidth: number;
  readonly width?: number;
  readonly height?: number;
  readonly frameRate?: number;
  readonly sampleRate?: number;
  readonly channels?: number;
  readonly segments: readonly DashSourceSegment[];
}

interface DashSource {
  /** Seconds, the nominal duration of every segment (SegmentTemplate@duration). */
  readonly segmentDuration: number;
  /** Seconds, one pass over the source. */
  readonly loopDuration: number;
  /** Segments per pass. */
  readonly perLoop: number;
  readonly tracks: readonly DashTrack[];
}

interface Box {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  readonly body: number;
}

/** ISO/IEC 14496-12 §4.2: the boxes directly inside buf[start, end). */
function childBoxes(buf: Buffer, start: number, end: number): Box[] | undefined {
  const out: Box[] = [];
  let at = start;
  while (at + 8 <= end) {
    let size = buf.readUInt32BE(at);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < header || at + size > end) return undefined;
    out.push({ type: buf.toString('latin1', at + 4, at + 8), start: at, end: at + size, body: at + header });
    at += size;
  }
  return at === end ? out : undefined;
}

function findPath(buf: Buffer, types: readonly string[]): Box | undefined {
  let box: Box | undefined = { type: '', start: 0, end: buf.length, body: 0 };
  for (const type of types) {
    box = childBoxes(buf, box.body, box.end)?.find((b) => b.type === type);
    if (!box) return undefined;
  }
  return box;
}

/**
 * The fields to rewrite in a media segment: every tfdt baseMediaDecodeTime (14496-12 §8.8.12, 64-bit in
 * version 1), every top-level sidx earliest_presentation_time (§8.16.3) and the mfhd sequence_number
 * (§8.8.5, which must increase from fragment to fragment).
 */
function segmentFields(buf: Buffer): SegmentField[] | undefined {
  const top = childBoxes(buf, 0, buf.length);
  if (!top) return undefined;
  const fields: SegmentField[] = [];
  const versioned = (box: Box, offset: number): SegmentField => ({
    at: box.body + offset,
    bytes: buf[box.body] === 1 ? 8 : 4,
    role: 'time',
  });
  for (const box of top) {
    if (box.type === 'sidx') fields.push(versioned(box, 12));
    if (box.type !== 'moof') continue;
    for (const inner of childBoxes(buf, box.body, box.end) ?? []) {
      if (inner.type === 'mfhd') fields.push({ at: inner.body + 4, bytes: 4, role: 'sequence' });
      if (inner.type !== 'traf') continue;
      const tfdt = childBoxes(buf, inner.body, inner.end)?.find((b) => b.type === 'tfdt');
      if (!tfdt) return undefined;
      fields.push(versioned(tfdt, 4));
    }
  }
  return fields.some((f) => f.role === 'time') ? fields : undefined;
}

function readField(buf: Buffer, f: SegmentField): bigint {
  return f.bytes === 8 ? buf.readBigUInt64BE(f.at) : BigInt(buf.readUInt32BE(f.at));
}

async function loadDashSource(dir: string): Promise<DashSource> {
  const bad = (why: string) => new Error(`live-origin: ${dir}: ${why}`);
  const raw = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const segmentDuration = raw.segmentDuration;
  const loopDuration = raw.loopDuration;
  if (typeof segmentDuration !== 'number' || typeof loopDuration !== 'number' || !(segmentDuration > 0)) {
    throw bad('manifest.json needs segmentDuration and loopDuration');
  }
  const perLoop = loopDuration / segmentDuration;
  if (!Number.isInteger(perLoop)) throw bad('loopDuration is not a whole number of segments');
  const tracks: DashTrack[] = [];
  for (const name of ['video', 'audio'] as const) {
    const t = raw[name] as
      | {
          init?: unknown;
          timescale?: unknown;
          codecs?: unknown;
          bandwidth?: unknown;
          width?: number;
          height?: number;
          frameRate?: number;
          sampleRate?: number;
          channels?: number;
          segments?: { uri?: unknown; baseMediaDecodeTime?: unknown; duration?: unknown }[];
        }
      | undefined;
    if (!t || typeof t.init !== 'string' || typeof t.codecs !== 'string' || !Array.isArray(t.segments)) {
      throw bad(`manifest.json: bad ${name} entry`);
    }
    const init = await readFile(join(dir, t.init));
    // The timescale that counts is the one in the init segment's mdhd (14496-12 §8.4.2.3).
    const mdhd = findPath(init, ['moov', 'trak', 'mdia', 'mdhd']);
    if (!mdhd) throw bad(`${t.init}: no moov/trak/mdia/mdhd`);
    const timescale = init.readUInt32BE(mdhd.body + (init[mdhd.body] === 1 ? 20 : 12));
    if (timescale !== t.timescale)
      throw bad(`${name}: mdhd timescale ${timescale} ≠ manifest's ${String(t.timescale)}`);
    if (!Number.isInteger(loopDuration * timescale)) throw bad(`${name}: loop is not whole ticks`);
    if (t.segments.length !== perLoop)
      throw bad(`${name}: ${t.segments.length} segments, expected ${perLoop}`);
    const segments: DashSourceSegment[] = [];
    // The loop must be seamless for the rewritten times to be right: each segment starts where the one
    // before it ends, the first at 0 and the last ending at exactly loopDuration.
    let expected = 0;
    for (const s of t.segments) {
      if (typeof s.uri !== 'string' || s.uri.includes('/') || typeof s.duration !== 'number') {
        throw bad(`bad segment entry ${JSON.stringify(s)}`);
      }
      const body = await readFile(join(dir, s.uri));
      const fields = segmentFields(body);
      if (!fields) throw bad(`${s.uri}: no moof/traf/tfdt`);
      for (const f of fields) {
        if (f.role === 'time' && readField(body, f) !== BigInt(expected)) {
          throw bad(`${s.uri}: starts at ${readField(body, f)}, expected ${expected}`);
        }
      }
      segments.push({ body, fields });
      expected += s.duration;
    }
    if (expected !== loopDuration * timescale)
      throw bad(`${name}: the loop lasts ${expected}/${timescale} s`);
    tracks.push({
      name,
      init,
      timescale,
      codecs: t.codecs,
      bandwidth: typeof t.bandwidth === 'number' ? t.bandwidth : 1_000_000,
      width: t.width,
      height: t.height,
      frameRate: t.frameRate,
      sampleRate: t.sampleRate,
      channels: t.channels,
      segments,
    });
  }
  return { segmentDuration, loopDuration, perLoop, tracks };
}

/**
 * Media segment `n` (startNumber 1) of a track: source segment (n - 1) mod perLoop with every time moved
 * on by the passes before it and the mfhd sequence number set to n. Undefined when a version-0 (32-bit)
 * field cannot hold the time.
 */
function dashSegment(source: DashSource, track: DashTrack, n: number): Buffer | undefined {
  const k = n - 1;
  const pass = Math.floor(k / source.perLoop);
  const src = track.segments[k - pass * source.perLoop]!;
  const body = Buffer.from(src.body);
  const shift = BigInt(pass) * BigInt(source.loopDuration * track.timescale);
  for (const f of src.fields) {
    const value = f.role === 'sequence' ? BigInt(n) : readField(src.body, f) + shift;
    if (f.bytes === 8) body.writeBigUInt64BE(value, f.at);
    else if (value > 0xffffffffn) return undefined;
    else body.writeUInt32BE(Number(value), f.at);
  }
  return body;
}

/** xs:duration in seconds, as MPD attributes want it (ISO/IEC 23009-1 §5.3.1.3). */
const xsDuration = (seconds: number) => `PT${Number(seconds.toFixed(3))}S`;

function dashManifest(
  source: DashSource,
  o: { availabilityStartTime: number; publishTime: number; windowSize: number; utcTiming: string },
): string {
  const d = source.segmentDuration;
  const sets = source.tracks.map((t, id) => {
    const template =
      `<SegmentTemplate timescale="${t.timescale}" duration="${d * t.timescale}" startNumber="1" ` +
      `initialization="${t.name}-init.mp4" media="${t.name}-$Number$.m4s"/>`;
    if (t.name === 'video') {
      return [
        `    <AdaptationSet id="${id}" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">`,
        `      ${template}`,
        `      <Representation id="video" codecs="${t.codecs}" bandwidth="${t.bandwidth}"` +
          `${t.width ? ` width="${t.width}" height="${t.height}"` : ''}` +
          `${t.frameRate ? ` frameRate="${t.frameRate}"` : ''} sar="1:1"/>`,
        '    </AdaptationSet>',
      ];
    }
    return [
      `    <AdaptationSet id="${id}" contentType="audio" mimeType="audio/mp4" lang="und" segmentAlignment="true" startWithSAP="1">`,
      `      ${template}`,
      `      <Representation id="audio" codecs="${t.codecs}" bandwidth="${t.bandwidth}"` +
        `${t.sampleRate ? ` audioSamplingRate="${t.sampleRate}"` : ''}>`,
      `        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="${t.channels ?? 2}"/>`,
      '      </Representation>',
      '    </AdaptationSet>',
    ];
  });
  const iso = (ms: number) => new Date(ms).toISOString();
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    // §5.3.1.2: a dynamic MPD is refetched every minimumUpdatePeriod; segments stay available for
    // timeShiftBufferDepth after they end; players start suggestedPresentationDelay behind the live edge.
    '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic"' +
      ` availabilityStartTime="${iso(o.availabilityStartTime)}" publishTime="${iso(o.publishTime)}"` +
      ` minimumUpdatePeriod="${xsDuration(d)}" timeShiftBufferDepth="${xsDuration(o.windowSize * d)}"` +
      ` suggestedPresentationDelay="${xsDuration(3 * d)}" maxSegmentDuration="${xsDuration(d)}"` +
      ` minBufferTime="${xsDuration(d)}">`,
    // §5.4.1: refreshes go to Location; a gateway gives it a long-lived token, so a player keeps
    // refreshing after its short entry link has expired (livesim2 and most packagers write one).
    '  <Location>manifest.mpd</Location>',
    '  <Period id="0" start="PT0S">',
    ...sets.flat(),
    '  </Period>',
    // §5.8.5.7: the clock to agree on, served next to the MPD so no third party is involved.
    `  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="${o.utcTiming}"/>`,
    '</MPD>',
    '',
  ].join('\n');
}

export async function startLiveOrigin(options: LiveOriginOptions): Promise<LiveOrigin> {
  const source = await loadSource(options.sourceDir, options.segmentDuration);
  const timeline = new Timeline(source.segments);
  const windowSize = options.windowSize ?? 6;
  if (!Number.isInteger(windowSize) || windowSize < 1) throw new Error('live-origin: windowSize must be ≥ 1');
  const clock = options.clock ?? Date.now;
  const startTime = options.startTime ?? clock();
  const app = options.app ?? 'live';
  const style = options.style;
  const requests: LiveRequest[] = [];
  const playlistFetches = new Map<string, number>();
  const sessionIds: string[] = [];
  const sessions = new Map<string, { stream: string; lastSeen: number }>();
  let nextSession = options.firstSessionId ?? 1500945958;
  const dash = options.dashSourceDir === undefined ? undefined : await loadDashSource(options.dashSourceDir);

  /**
   * DASH availability (ISO/IEC 23009-1 §5.3.9.5.3): segment N spans media time [(N - 1) d, N d) and is
   * available from availabilityStartTime + N d until timeShiftBufferDepth after that. The newest available
   * segment is then floor((now - AST) / d); the buffer holds `windowSize` of them. Served, like the HLS
   * side, are as many again behind the buffer, and one ahead for a client whose clock runs a little fast.
   */
  const dashWindowAt = (now: number): DashWindow | undefined => {
    if (!dash) return undefined;
    const ms = dash.segmentDuration * 1000;
    const availabilityStartTime = startTime - windowSize * ms;
    const last = Math.max(0, Math.floor((now - availabilityStartTime) / ms));
    return {
      availabilityStartTime,
      first: Math.max(1, last - windowSize + 1),
      last,
      servedFirst: Math.max(1, last - 2 * windowSize + 1),
      servedLast: last + 1,
    };
  };

  const windowAt = (now: number): LiveWindow => {
    const elapsed = Math.max(0, (now - startTime) / 1000);
    const first = timeline.msnAt(elapsed);
    const segments: LiveSegment[] = [];
    for (let k = first; k < first + windowSize; k++) segments.push(timeline.segment(k));
    return {
      mediaSequence: first,
      discontinuitySequence: segments[0]!.discontinuitySequence,
      targetDuration: timeline.targetDuration,
      segments,
    };
  };

  /**
   * Segments a client may fetch: the window, and as many again behind it, because a segment must stay
   * available for a while after it leaves the playlist (RFC 8216 §6.2.2).
   */
  const servable = (msn: number, now: number): boolean => {
    const w = windowAt(now);
    return msn >= w.mediaSequence - windowSize && msn < w.mediaSequence + windowSize;
  };

  const nimbleChunkName = (stream: string, s: LiveSegment) =>
    `l_${streamNumber(stream)}_${Math.round(s.start * 1000)}_${s.msn}.ts`;

  const session = (query: string, stream: string, now: number): string | undefined => {
    const id = queryParam(query, 'nimblesessionid');
    if (id === undefined) return undefined;
    const entry = sessions.get(id);
    if (!entry || entry.stream !== stream) return undefined;
    if (options.sessionIdleMs !== undefined && now - entry.lastSeen > options.sessionIdleMs) {
      sessions.delete(id);
      return undefined;
    }
    entry.lastSeen = now;
    return id;
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    const now = clock();
    const record: LiveRequest = {
      method: req.method ?? 'GET',
      url,
      path,
      query,
      headers: req.headers,
      receivedAt: now,
      kind: 'other',
    };
    requests.push(record);
    res.on('close', () => {
      record.status = res.statusCode;
    });
    const kind = (k: LiveRequest['kind']) => {
      (record as { kind: LiveRequest['kind'] }).kind = k;
      if (k === 'master' || k === 'media' || k === 'mpd')
        playlistFetches.set(path, (playlistFetches.get(path) ?? 0) + 1);
    };
    const cacheControl = (playlist: boolean) =>
      // Nimble marks everything no-cache; a plain packager lets segments (immutable names) be cached.
      style === 'nimble' || playlist ? 'no-cache' : 'max-age=3600';
    const deny = (status: number, reason: string) => {
      res.writeHead(status, { 'content-type': 'text/plain', 'cache-control': cacheControl(true) });
      res.end(`${reason}\n`);
    };
    const sendPlaylist = (text: string) => {
      const body = Buffer.from(text);
      res.writeHead(200, {
        'content-type': PLAYLIST_TYPE,
        'content-length': String(body.length),
        'cache-control': cacheControl(true),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const sendSegment = (s: LiveSegment) => {
      const src = source.segments[s.source]!;
      res.writeHead(200, {
        'content-type': 'video/mp2t',
        'content-length': String(src.bytes),
        'cache-control': cacheControl(false),
      });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      pipeline(createReadStream(src.file), res).catch(() => {
        // The client left mid-segment; pipeline has torn both streams down.
      });
    };

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('method not allowed\n');
      return;
    }
    const parts = path.split('/');
    const sendTime = () => {
      kind('time');
      // urn:mpeg:dash:utc:http-iso:2014 (ISO/IEC 23009-1 §5.8.5.7): the body is an ISO 8601 time.
      const body = Buffer.from(new Date(now).toISOString());
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': String(body.length),
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (dash && parts.length === 3 && parts[0] === '' && parts[1] === app && parts[2] === 'time') {
      sendTime();
      return;
    }
    // ['', app, stream, file]
    if (parts.length !== 4 || parts[0] !== '' || parts[1] !== app || !STREAM_NAME.test(parts[2]!)) {
      deny(404, 'not found');
      return;
    }
    const stream = parts[2]!;
    const file = parts[3]!;

    if (dash) {
      const sendMedia = (body: Buffer, type: string) => {
        res.writeHead(200, {
          'content-type': type,
          'content-length': String(body.length),
          'cache-control': cacheControl(false),
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      if (file === 'manifest.mpd') {
        kind('mpd');
        const w = dashWindowAt(now)!;
        const body = Buffer.from(
          dashManifest(dash, {
            availabilityStartTime: w.availabilityStartTime,
            // The MPD changes only in publishTime; the newest segment's availability time keeps it
            // identical for everyone within a segment duration.
            publishTime: w.availabilityStartTime + w.last * dash.segmentDuration * 1000,
            windowSize,
            utcTiming: 'time',
          }),
        );
        res.writeHead(200, {
          'content-type': MPD_TYPE,
          'content-length': String(body.length),
          'cache-control': cacheControl(true),
        });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      if (file === 'time') {
        sendTime();
        return;
      }
      const init = /^(video|audio)-init\.mp4$/.exec(file);
      const track = dash.tracks.find((t) => t.name === (init ?? /^(video|audio)-/.exec(file))?.[1]);
      if (init && track) {
        kind('init');
        sendMedia(track.init, `${track.name}/mp4`);
        return;
      }
      const m = /^(?:video|audio)-([1-9]\d{0,14})\.m4s$/.exec(file);
      if (m && track) {
        kind('segment');
        const n = Number(m[1]);
        const w = dashWindowAt(now)!;
        const body = n >= w.servedFirst && n <= w.servedLast ? dashSegment(dash, track, n) : undefined;
        if (!body) deny(404, 'segment outside the live window');
        else sendMedia(body, `${track.name}/mp4`);
        return;
      }
    }

    if (style === 'plain') {
      if (file === 'master.m3u8') {
        kind('master');
        sendPlaylist(`#EXTM3U\n#EXT-X-VERSION:3\n${streamInf(source)}\nmedia.m3u8\n`);
        return;
      }
      if (file === 'media.m3u8') {
        kind('media');
        sendPlaylist(mediaPlaylist(windowAt(now), (s) => `seg-${s.msn}.ts`));
        return;
      }
      const m = /^seg-(0|[1-9]\d{0,14})\.ts$/.exec(file);
      if (m) {
        kind('segment');
        const msn = Number(m[1]);
        if (!servable(msn, now)) deny(404, 'segment outside the live window');
        else sendSegment(timeline.segment(msn));
        return;
      }
      deny(404, 'not found');
      return;
    }

    // nimble
    if (file === 'playlist.m3u8') {
      kind('master');
      const id = String(nextSession++);
      sessions.set(id, { stream, lastSeen: now });
      sessionIds.push(id);
      sendPlaylist(`#EXTM3U\n#EXT-X-VERSION:3\n${streamInf(source)}\nchunks.m3u8?nimblesessionid=${id}\n`);
      return;
    }
    if (file === 'chunks.m3u8') {
      kind('media');
      const id = session(query, stream, now);
      if (id === undefined) {
        deny(403, 'no valid nimblesessionid');
        return;
      }
      sendPlaylist(
        mediaPlaylist(windowAt(now), (s) => `${nimbleChunkName(stream, s)}?nimblesessionid=${id}`),
      );
      return;
    }
    const m = /^l_\d+_\d+_(0|[1-9]\d{0,14})\.ts$/.exec(file);
    if (m) {
      kind('segment');
      if (session(query, stream, now) === undefined) {
        deny(403, 'no valid nimblesessionid');
        return;
      }
      const msn = Number(m[1]);
      const s = timeline.segment(msn);
      if (file !== nimbleChunkName(stream, s) || !servable(msn, now)) {
        deny(404, 'no such chunk in the live window');
        return;
      }
      sendSegment(s);
      return;
    }
    deny(404, 'not found');
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    style,
    requests,
    playlistFetches,
    playlistFetchCount: (path) => playlistFetches.get(path) ?? 0,
    window: (now) => windowAt(now ?? clock()),
    sessionIds,
    entryPath: (stream = 'stream') =>
      `/${app}/${stream}/${style === 'nimble' ? 'playlist.m3u8' : 'master.m3u8'}`,
    mpdPath: (stream = 'stream') => `/${app}/${stream}/manifest.mpd`,
    dashWindow: (now) => dashWindowAt(now ?? clock()),
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}
