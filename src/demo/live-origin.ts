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
  readonly kind: 'master' | 'media' | 'segment' | 'other';
  status?: number;
}

export interface LiveOrigin {
  readonly url: string;
  readonly port: number;
  readonly style: LiveStyle;
  readonly requests: LiveRequest[];
  /** Playlist requests (master and media) per path, query excluded. */
  readonly playlistFetches: ReadonlyMap<string, number>;
  playlistFetchCount(path: string): number;
  /** The window a media playlist request would get now (or at `now`). */
  window(now?: number): LiveWindow;
  /** nimblesessionid values handed out so far, oldest first. */
  readonly sessionIds: readonly string[];
  /** The path of the entry playlist for a stream name, e.g. /live/cam1/playlist.m3u8. */
  entryPath(stream?: string): string;
  close(): Promise<void>;
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
      if (k === 'master' || k === 'media') playlistFetches.set(path, (playlistFetches.get(path) ?? 0) + 1);
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
    // ['', app, stream, file]
    if (parts.length !== 4 || parts[0] !== '' || parts[1] !== app || !STREAM_NAME.test(parts[2]!)) {
      deny(404, 'not found');
      return;
    }
    const stream = parts[2]!;
    const file = parts[3]!;

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
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}
