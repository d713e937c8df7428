/**
 * A real static media origin on 127.0.0.1 for tests: files under a root (default fixtures/media) with
 * the validators, ranges and conditional requests of RFC 9110, every request recorded, and programmable
 * routes for the failure cases a proxy must survive (slow or hanging origins, bodies that break, huge
 * streamed bodies, redirects, gzip, error statuses). Node built-ins only.
 */
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const DEFAULT_MEDIA_ROOT = fileURLToPath(new URL('../../fixtures/media/', import.meta.url));

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.mpp': 'application/dash-patch+xml',
  '.ts': 'video/mp2t',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.vtt': 'text/vtt',
  '.key': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.txt': 'text/plain; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

export function contentTypeFor(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

export interface RecordedRequest {
  readonly method: string;
  /** The request target exactly as received, query included. */
  readonly url: string;
  /** The path part of the target, still percent-encoded. */
  readonly path: string;
  /** The raw query without the `?`, byte for byte; '' when there is none. */
  readonly query: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly receivedAt: number;
  /** Set when the response is finished or the connection closed. */
  status?: number;
  /** Body bytes handed to the socket by this origin (not headers). */
  bytesSent: number;
  /** The exchange ended before the response was complete (client went away or the origin broke it). */
  aborted: boolean;
  finished: boolean;
}

export interface RouteContext {
  readonly record: RecordedRequest;
  /** Serve the request from the file tree, as if no route matched. */
  serveStatic(): Promise<void>;
  /** Serve a given file (path relative to the root) with the full static semantics. */
  serveFile(relativePath: string): Promise<void>;
}

export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext,
) => void | Promise<void>;

/** Exact path (percent-encoded, no query), a pattern tested against it, or a predicate on the request. */
export type RouteMatcher = string | RegExp | ((req: IncomingMessage, path: string) => boolean);

export interface StartOriginOptions {
  root?: string;
  host?: string;
  port?: number;
  /** Extra headers on every static response, e.g. `{ 'cache-control': 'max-age=60' }`. */
  headers?: Record<string, string>;
}

export interface Origin {
  readonly url: string;
  readonly port: number;
  readonly root: string;
  readonly requests: RecordedRequest[];
  /** Add a route; the most recently added matching route wins. Returns a function that removes it. */
  route(matcher: RouteMatcher, handler: RouteHandler): () => void;
  /** Requests whose path (percent-encoded, no query) equals `path`. */
  requestsFor(path: string): RecordedRequest[];
  hits(path: string): number;
  clearRequests(): void;
  /** Resolves with the next request (matching `path` if given) whose exchange ends incomplete. */
  waitForAbort(path?: string, timeoutMs?: number): Promise<RecordedRequest>;
  /** Resolves once `count` requests for `path` have been received. */
  waitForRequests(path: string, count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

type Waiter = { check: () => boolean };

export async function startOrigin(options: StartOriginOptions = {}): Promise<Origin> {
  const root = resolve(options.root ?? DEFAULT_MEDIA_ROOT);
  const extraHeaders = options.headers ?? {};
  const requests: RecordedRequest[] = [];
  const routes: { matcher: RouteMatcher; handler: RouteHandler }[] = [];
  const waiters = new Set<Waiter>();
  const aborted: RecordedRequest[] = [];

  const notify = () => {
    for (const w of waiters) if (w.check()) waiters.delete(w);
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      url,
      path: q < 0 ? url : url.slice(0, q),
      query: q < 0 ? '' : url.slice(q + 1),
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      receivedAt: Date.now(),
      bytesSent: 0,
      aborted: false,
      finished: false,
    };
    requests.push(record);
    countBodyBytes(res, record);
    res.on('finish', () => {
      record.finished = true;
      record.status = res.statusCode;
    });
    res.on('close', () => {
      record.status = res.statusCode;
      if (!res.writableFinished) {
        record.aborted = true;
        aborted.push(record);
      }
      notify();
    });
    notify();

    const ctx: RouteContext = {
      record,
      serveStatic: () => serveStatic(req, res, root, record.path, extraHeaders),
      serveFile: (relativePath) =>
        serveStatic(
          req,
          res,
          root,
          `/${relativePath.split('/').map(encodeURIComponent).join('/')}`,
          extraHeaders,
        ),
    };
    const route = findRoute(routes, req, record.path);
    Promise.resolve(route ? route.handler(req, res, ctx) : ctx.serveStatic()).catch((err: unknown) => {
      // A handler failure must show up in the test as a broken response, never as a hang.
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`origin handler failed: ${String(err)}\n`);
      } else {
        res.destroy();
      }
    });
  });
  // Node's default 5 s keep-alive timeout would close connections under long streaming tests.
  server.keepAliveTimeout = 60_000;

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  const waitFor = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise<T>((resolveWait, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`origin: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter: Waiter = {
        check: () => {
          const value = check();
          if (value === undefined) return false;
          clearTimeout(timer);
          resolveWait(value);
          return true;
        },
      };
      if (!waiter.check()) waiters.add(waiter);
    });

  let abortsSeen = aborted.length;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    root,
    requests,
    route(matcher, handler) {
      const entry = { matcher, handler };
      routes.push(entry);
      return () => {
        const i = routes.indexOf(entry);
        if (i >= 0) routes.splice(i, 1);
      };
    },
    requestsFor: (path) => requests.filter((r) => r.path === path),
    hits: (path) => requests.filter((r) => r.path === path).length,
    clearRequests() {
      requests.length = 0;
      aborted.length = 0;
      abortsSeen = 0;
    },
    waitForAbort(path, timeoutMs = 10_000) {
      const from = abortsSeen;
      return waitFor(
        () => {
          const hit = aborted.slice(from).find((r) => path === undefined || r.path === path);
          if (hit) abortsSeen = aborted.indexOf(hit) + 1;
          return hit;
        },
        timeoutMs,
        `an aborted request${path ? ` for ${path}` : ''}`,
      );
    },
    waitForRequests(path, count, timeoutMs = 10_000) {
      return waitFor(
        () => {
          const hits = requests.filter((r) => r.path === path);
          return hits.length >= count ? hits : undefined;
        },
        timeoutMs,
        `${count} requests for ${path}`,
      );
    },
    close() {
      for (const w of waiters) waiters.delete(w);
      server.closeAllConnections();
      return new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}

function findRoute(
  routes: readonly { matcher: RouteMatcher; handler: RouteHandler }[],
  req: IncomingMessage,
  path: string,
) {
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i]!;
    const m = route.matcher;
    if (typeof m === 'string' ? m === path : m instanceof RegExp ? m.test(path) : m(req, path)) return route;
  }
  return undefined;
}

function countBodyBytes(res: ServerResponse, record: RecordedRequest): void {
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  const count = (chunk: unknown, encoding?: unknown) => {
    if (typeof chunk === 'string') {
      record.bytesSent += Buffer.byteLength(
        chunk,
        typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8',
      );
    } else if (chunk instanceof Uint8Array) {
      record.bytesSent += chunk.byteLength;
    }
  };
  res.write = ((...args: unknown[]) => {
    count(args[0], args[1]);
    return write(...args);
  }) as ServerResponse['write'];
  res.end = ((...args: unknown[]) => {
    if (typeof args[0] !== 'function') count(args[0], args[1]);
    return end(...args);
  }) as ServerResponse['end'];
}

// ---- static files ---------------------------------------------------------------------------------

/** Decoded path below root, or a reason to refuse it. */
export function resolveUnderRoot(
  root: string,
  encodedPath: string,
): { ok: true; file: string } | { ok: false; status: 400 | 404; reason: string } {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encodedPath);
  } catch {
    return { ok: false, status: 400, reason: 'malformed percent-encoding' };
  }
  if (!decoded.startsWith('/')) return { ok: false, status: 400, reason: 'path must start with /' };
  if (decoded.includes('\0') || decoded.includes('\\'))
    return { ok: false, status: 400, reason: 'NUL or backslash' };
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..' || s === '.')) return { ok: false, status: 400, reason: 'dot segment' };
  const file = resolve(root, `.${decoded}`);
  if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) {
    return { ok: false, status: 400, reason: 'outside the root' };
  }
  return { ok: true, file };
}

/** Strong validator from size and modification time (RFC 9110 §8.8.3). */
export function etagFor(stats: Pick<Stats, 'size' | 'mtimeMs'>): string {
  return `"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
}

/**
 * RFC 9110 §14.1.2 / §14.2: one byte range. Returns undefined when the header is to be ignored
 * (not bytes, malformed, or several ranges: a server MAY ignore Range), 'unsatisfiable' for 416.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*([^,]*)$/i.exec(header);
  if (!m) return undefined;
  const spec = m[1]!.trim();
  const r = /^(\d*)-(\d*)$/.exec(spec);
  if (!r || (r[1] === '' && r[2] === '')) return undefined;
  if (r[1] === '') {
    const suffix = Number(r[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(r[1]);
  // A last-byte-pos below the first-byte-pos makes the range-spec invalid, so the header is ignored.
  if (r[2] !== '' && Number(r[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1) };
}

function etagMatches(list: string, etag: string): boolean {
  if (list.trim() === '*') return true;
  // §13.1.2: If-None-Match uses the weak comparison.
  const opaque = etag.replace(/^W\//, '');
  return list.split(',').some((t) => t.trim().replace(/^W\//, '') === opaque);
}

async function serveStatic(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  encodedPath: string,
  extraHeaders: Record<string, string>,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
    res.end('method not allowed\n');
    return;
  }
  const target = resolveUnderRoot(root, encodedPath);
  if (!target.ok) {
    res.writeHead(target.status, { 'content-type': 'text/plain' });
    res.end(`${target.reason}\n`);
    return;
  }
  const stats = await stat(target.file).catch(() => undefined);
  if (!stats?.isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
    return;
  }

  const etag = etagFor(stats);
  const lastModified = new Date(Math.floor(stats.mtimeMs / 1000) * 1000);
  const validators = { etag, 'last-modified': lastModified.toUTCString() };

  // §13.2.2: If-None-Match is evaluated first; If-Modified-Since only when it is absent.
  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  let notModified = false;
  if (inm !== undefined) notModified = etagMatches(inm, etag);
  else if (ims !== undefined) {
    const since = Date.parse(ims);
    notModified = !Number.isNaN(since) && lastModified.getTime() <= since;
  }
  if (notModified) {
    res.writeHead(304, { ...extraHeaders, ...validators });
    res.end();
    return;
  }

  const headers: Record<string, string> = {
    ...extraHeaders,
    ...validators,
    'content-type': contentTypeFor(target.file),
    'accept-ranges': 'bytes',
  };
  let range = parseRange(req.headers.range, stats.size);
  // §13.1.5: If-Range with a validator that no longer matches means "send the whole representation".
  const ifRange = req.headers['if-range'];
  if (range !== undefined && typeof ifRange === 'string') {
    // An entity-tag here needs the strong comparison, so a weak one never matches.
    const isTag = ifRange.startsWith('"') || ifRange.startsWith('W/');
    const current = isTag ? ifRange === etag : Date.parse(ifRange) === lastModified.getTime();
    if (!current) range = undefined;
  }
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${stats.size}`, 'content-length': '0' });
    res.end();
    return;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? stats.size - 1;
  if (range) headers['content-range'] = `bytes ${start}-${end}/${stats.size}`;
  headers['content-length'] = String(stats.size === 0 ? 0 : end - start + 1);
  res.writeHead(range ? 206 : 200, headers);
  if (method === 'HEAD' || stats.size === 0) {
    res.end();
    return;
  }
  try {
    await pipeline(createReadStream(target.file, { start, end }), res);
  } catch {
    // The client went away mid-body; pipeline has already destroyed both ends.
  }
}

// ---- route handlers for failure cases ------------------------------------------------------------

/** Period of the generated byte pattern: byte i of a generated body is `i % 251`. */
export const PATTERN_PERIOD = 251;
export const patternByte = (offset: number): number => offset % PATTERN_PERIOD;

const patternBlock = (() => {
  const size = 64 * 1024 + PATTERN_PERIOD;
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = i % PATTERN_PERIOD;
  return b;
})();

/** Bytes [offset, offset + length) of the generated pattern, length ≤ 64 KiB, without copying. */
function patternSlice(offset: number, length: number): Buffer {
  const at = offset % PATTERN_PERIOD;
  return patternBlock.subarray(at, at + length);
}

function waitWritable(res: ServerResponse): Promise<void> {
  return new Promise((resolveWait) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolveWait();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Resolves after `ms`, or as soon as the client has gone. */
function sleepUnlessClosed(res: ServerResponse, ms: number): Promise<void> {
  return new Promise((resolveSleep) => {
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolveSleep();
    };
    const timer = setTimeout(done, ms);
    res.on('close', done);
  });
}

export interface GeneratedOptions {
  size: number;
  /** Bytes per write, at most 64 KiB. */
  chunkSize?: number;
  contentType?: string;
  /** false: no Content-Length, the body goes out chunked. */
  contentLength?: boolean;
  headers?: Record<string, string>;
}

/**
 * A body of `size` pattern bytes (see patternByte), written only as fast as the client reads: each
 * write that returns false waits for 'drain' (Node stream backpressure), so a slow reader keeps the
 * origin's buffered bytes bounded. `record.bytesSent` shows how far it got.
 */
export function generated(options: GeneratedOptions): RouteHandler {
  const chunk = Math.min(options.chunkSize ?? 64 * 1024, 64 * 1024);
  return async (req, res) => {
    const headers: Record<string, string> = {
      'content-type': options.contentType ?? 'video/mp2t',
      ...options.headers,
    };
    if (options.contentLength !== false) headers['content-length'] = String(options.size);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    let sent = 0;
    while (sent < options.size) {
      if (res.destroyed) return;
      const n = Math.min(chunk, options.size - sent);
      const ok = res.write(patternSlice(sent, n));
      sent += n;
      if (!ok) await waitWritable(res);
    }
    res.end();
  };
}

/** Holds the request for `ms` (or until the client leaves), then hands it to `then` (default: static). */
export function delay(ms: number, then?: RouteHandler): RouteHandler {
  return async (req, res, ctx) => {
    await sleepUnlessClosed(res, ms);
    if (res.destroyed || res.writableEnded) return;
    await (then ? then(req, res, ctx) : ctx.serveStatic());
  };
}

/** Never answers; the exchange ends only when the client gives up (header-timeout tests). */
export function hang(): RouteHandler {
  return () => undefined;
}

export interface TrickleOptions {
  body: Buffer | string;
  chunkSize: number;
  intervalMs: number;
  contentType?: string;
  status?: number;
}

/** Headers at once, then the body in `chunkSize` pieces every `intervalMs` (body-idle tests). */
export function trickle(options: TrickleOptions): RouteHandler {
  const body = Buffer.from(options.body);
  return async (_req, res) => {
    res.writeHead(options.status ?? 200, {
      'content-type': options.contentType ?? 'application/octet-stream',
      'content-length': String(body.length),
    });
    for (let at = 0; at < body.length; at += options.chunkSize) {
      if (at > 0) await sleepUnlessClosed(res, options.intervalMs);
      if (res.destroyed) return;
      res.write(body.subarray(at, at + options.chunkSize));
    }
    res.end();
  };
}

export interface BreakOptions {
  /** Declared Content-Length. */
  size: number;
  /** Pattern bytes actually sent before the connection is destroyed. */
  breakAfter: number;
  contentType?: string;
  /** Wait this long after the partial body before breaking, so the client has started reading. */
  breakDelayMs?: number;
  /** End with a TCP RST instead of a FIN. */
  reset?: boolean;
}

/** Promises `size` bytes, sends `breakAfter`, then resets the connection (truncated-body tests). */
export function breakMidway(options: BreakOptions): RouteHandler {
  return async (_req, res) => {
    res.writeHead(200, {
      'content-type': options.contentType ?? 'video/mp2t',
      'content-length': String(options.size),
    });
    let sent = 0;
    while (sent < options.breakAfter && !res.destroyed) {
      const n = Math.min(64 * 1024, options.breakAfter - sent);
      const ok = res.write(patternSlice(sent, n));
      sent += n;
      if (!ok) await waitWritable(res);
    }
    await sleepUnlessClosed(res, options.breakDelayMs ?? 20);
    if (options.reset) res.socket?.resetAndDestroy();
    res.destroy();
  };
}

/** A redirect to `location` (relative or absolute), 302 unless told otherwise. */
export function redirect(location: string, status: 301 | 302 | 303 | 307 | 308 = 302): RouteHandler {
  return (_req, res) => {
    res.writeHead(status, { location, 'content-type': 'text/plain' });
    res.end(`see ${location}\n`);
  };
}

export interface ReplyOptions {
  status?: number;
  body?: Buffer | string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** A fixed response: any status, body and headers (error statuses, odd content types). */
export function reply(options: ReplyOptions = {}): RouteHandler {
  const body = options.body === undefined ? Buffer.alloc(0) : Buffer.from(options.body);
  return (req, res) => {
    res.writeHead(options.status ?? 200, {
      'content-type': options.contentType ?? 'text/plain',
      'content-length': String(body.length),
      ...options.headers,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

export interface GzipOptions {
  body: Buffer | string;
  contentType?: string;
  /** Send gzip even when the request did not offer it (a misbehaving origin). */
  force?: boolean;
  headers?: Record<string, string>;
}

/** Content-Encoding: gzip when the request's Accept-Encoding allows it (RFC 9110 §12.5.3), else identity. */
export function gzip(options: GzipOptions): RouteHandler {
  const identity = Buffer.from(options.body);
  const compressed = gzipSync(identity);
  return (req, res) => {
    const useGzip = options.force === true || acceptsGzip(req.headers['accept-encoding']);
    const body = useGzip ? compressed : identity;
    const headers: Record<string, string> = {
      'content-type': options.contentType ?? 'application/vnd.apple.mpegurl',
      'content-length': String(body.length),
      vary: 'Accept-Encoding',
      ...options.headers,
    };
    if (useGzip) headers['content-encoding'] = 'gzip';
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/** RFC 9110 §12.5.3: gzip (or `*`) listed with a non-zero qvalue. */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((item) => {
    const [coding = '', ...params] = item.split(';').map((p) => p.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
