/**
 * Test support for the gateway's integration tests: a real origin on 127.0.0.1 that records what
 * reaches it, and a gateway built from a small config. No mocks: both are real HTTP servers.
 */
import { createHash } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { configOrThrow, type ConfigInput } from '../../src/config/index.js';
import { createGateway, type Gateway, type ListeningGateway } from '../../src/gateway/index.js';
import { signUrl, type SignUrlOptions } from '../../src/index.js';

export interface Recorded {
  readonly method: string;
  /** The request target exactly as it arrived. */
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly rawHeaders: readonly string[];
}

export type Route = (req: IncomingMessage, res: ServerResponse) => void;

export interface StaticFile {
  readonly body: Buffer | string;
  readonly type?: string;
  readonly headers?: Record<string, string>;
}

function etagOf(body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('hex').slice(0, 16)}"`;
}

/**
 * A static origin: files from memory with Range (single range), HEAD, ETag / If-None-Match and
 * Last-Modified; other paths answered by programmable routes. Every request is recorded, and a
 * request whose client goes away before the response ends is counted in `aborted`.
 */
export class TestOrigin {
  readonly requests: Recorded[] = [];
  readonly files = new Map<string, StaticFile>();
  readonly routes = new Map<string, Route>();
  aborted = 0;
  #server: Server;
  port = 0;

  private constructor() {
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 30_000;
  }

  static async start(): Promise<TestOrigin> {
    const origin = new TestOrigin();
    await new Promise<void>((resolve) => origin.#server.listen(0, '127.0.0.1', resolve));
    origin.port = (origin.#server.address() as AddressInfo).port;
    return origin;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  reset(): void {
    this.requests.length = 0;
    this.aborted = 0;
  }

  file(path: string, file: StaticFile): this {
    this.files.set(path, file);
    return this;
  }

  route(path: string, route: Route): this {
    this.routes.set(path, route);
    return this;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
    });
    res.on('close', () => {
      if (!res.writableFinished) this.aborted += 1;
    });
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = this.routes.get(path);
    if (route) {
      route(req, res);
      return;
    }
    const file = this.files.get(path);
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('origin: not found');
      return;
    }
    const body = Buffer.isBuffer(file.body) ? file.body : Buffer.from(file.body);
    const etag = etagOf(body);
    const headers: Record<string, string> = {
      'content-type': file.type ?? 'application/octet-stream',
      'accept-ranges': 'bytes',
      etag,
      'last-modified': 'Mon, 02 Nov 2026 10:00:00 GMT',
      'cache-control': 'max-age=60',
      ...file.headers,
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, 'cache-control': headers['cache-control'] ?? '' });
      res.end();
      return;
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] === '' ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
      if (start > end || start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${start}-${end}/${body.length}`,
        'content-length': String(end - start + 1),
      });
      res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export const SECRET = 'integration-secret-1';
export const OLD_SECRET = 'integration-secret-0';

export type ZoneInput = ConfigInput['zones'][number];

/** A gateway on 127.0.0.1 port 0 with one zone in front of `origin` (gcore, key SECRET). */
export async function startGateway(
  origin: string,
  zone: Partial<ZoneInput> = {},
  top: Partial<ConfigInput> = {},
  logs?: string[],
): Promise<{ gateway: Gateway; listening: ListeningGateway; url: string; close(): Promise<void> }> {
  const config = configOrThrow({
    log: { level: logs ? 'debug' : 'silent' },
    timeouts: { connectMs: 2000, headersMs: 5000, bodyMs: 5000 },
    shutdownGraceMs: 2000,
    ...top,
    zones: top.zones ?? [
      { name: 'test', origin, scheme: 'gcore', secrets: [SECRET, OLD_SECRET], ...zone } as ZoneInput,
    ],
  });
  const destination = logs
    ? new Writable({
        write(chunk: Buffer, _encoding, callback) {
          logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
          callback();
        },
      })
    : undefined;
  const gateway = createGateway(config, {
    defaultMetrics: false,
    ...(destination
      ? { logDestination: destination as unknown as NodeJS.WritableStream & { write(msg: string): void } }
      : {}),
  });
  const listening = await gateway.listen({ host: '127.0.0.1', port: 0 });
  return { gateway, listening, url: listening.url, close: () => gateway.close() };
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A path signed with the zone's key, valid for `ttl` seconds (gcore). */
export function signed(path: string, options: Partial<SignUrlOptions> = {}): string {
  return signUrl(path, { scheme: 'gcore', secret: SECRET, ttl: 300, ...options } as SignUrlOptions);
}

export interface PlainResponse {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/**
 * A request with the target sent exactly as given: node:http does not normalise the path (WHATWG URL,
 * which fetch and undici use, would resolve `%2e%2e` before sending).
 */
export function httpGet(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<PlainResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
