import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendText } from './runtime.js';

/**
 * The admin listener (`admin: { host, port }`): `/_streamgate/metrics` and `/_streamgate/healthz` on an
 * address of their own — typically loopback or a management network — so that the media port, which
 * viewers reach, shows neither. It serves nothing else: no media, no proxying.
 */
export interface AdminSurface {
  /** The Prometheus text (this gateway's registry, or a cluster's sum). */
  readonly metrics: () => Promise<string>;
  readonly contentType: string;
  /** False while shutting down (healthz answers 503, so a balancer stops sending traffic). */
  readonly healthy: () => boolean;
  /** Called first for every request (the access log's note). */
  readonly begin?: (req: IncomingMessage, res: ServerResponse) => void;
  /** A scrape that failed (reported by the caller's logger). */
  readonly failed?: (error: unknown) => void;
  /** Body bytes sent, for the access log. */
  readonly sent?: (res: ServerResponse, bytes: number) => void;
}

const HEALTH = '/_streamgate/healthz';
const METRICS = '/_streamgate/metrics';

export function adminHandler(surface: AdminSurface): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    surface.begin?.(req, res);
    const target = req.url ?? '';
    const question = target.indexOf('?');
    const path = question === -1 ? target : target.slice(0, question);
    const method = req.method ?? '';
    if (path !== HEALTH && path !== METRICS) {
      sendText(res, 404, 'not found');
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendText(res, 405, 'method', { allow: 'GET, HEAD' });
      return;
    }
    if (path === HEALTH) {
      if (!surface.healthy()) {
        sendText(res, 503, 'shutting down');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(method === 'HEAD' ? undefined : 'ok');
      if (method !== 'HEAD') surface.sent?.(res, 2);
      return;
    }
    surface.metrics().then(
      (text) => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': surface.contentType, 'cache-control': 'no-store' });
        res.end(method === 'HEAD' ? undefined : text);
        if (method !== 'HEAD') surface.sent?.(res, Buffer.byteLength(text));
      },
      (error: unknown) => {
        surface.failed?.(error);
        sendText(res, 500, 'metrics unavailable');
      },
    );
  };
}

export interface AdminListener {
  readonly server: Server;
  /** `http://host:port` (loopback when bound to all interfaces). */
  readonly url: string;
  readonly port: number;
}

/** Binds an admin listener; port 0 picks a free port. */
export async function listenAdmin(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host: string,
  port: number,
): Promise<AdminListener> {
  const server = createServer({ requireHostHeader: false }, handler);
  // Scrapers keep connections alive; nothing here is long-running.
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : bound.address;
  return {
    server,
    url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${bound.port}`,
    port: bound.port,
  };
}
