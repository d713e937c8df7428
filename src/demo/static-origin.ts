import type { AddressInfo } from 'node:net';
import express from 'express';

export interface StaticOrigin {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A plain VOD origin for the demo: files under `root` served at `mount` with ranges, ETags and
 * conditional requests (express.static), and the media types players expect.
 */
export async function startStaticOrigin(options: {
  root: string;
  mount: string;
  host?: string;
  port?: number;
}): Promise<StaticOrigin> {
  const app = express();
  app.disable('x-powered-by');
  app.use(
    options.mount,
    express.static(options.root, {
      fallthrough: false,
      index: false,
      setHeaders(res, path) {
        if (path.endsWith('.m3u8')) res.setHeader('Content-Type', 'application/vnd.apple.mpegurl');
        else if (path.endsWith('.mpd')) res.setHeader('Content-Type', 'application/dash+xml');
        else if (path.endsWith('.m4s')) res.setHeader('Content-Type', 'video/iso.segment');
        else if (path.endsWith('.key') || path.endsWith('.bin'))
          res.setHeader('Content-Type', 'application/octet-stream');
      },
    }),
  );
  const host = options.host ?? '127.0.0.1';
  const server = app.listen(options.port ?? 0, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
