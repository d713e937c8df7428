import type { IncomingMessage, ServerResponse } from 'node:http';

const METHODS = 'GET, HEAD, OPTIONS';
/** Request headers a player may send (hls.js/dash.js use Range; conditional requests from caches). */
const ALLOWED_HEADERS =
  'Range, If-None-Match, If-Modified-Since, If-Range, If-Match, If-Unmodified-Since, Accept, Accept-Language, X-Request-Id';
/**
 * Response headers outside the CORS safelist (Fetch §3.2.6) that players read: ranges for byte-range
 * segments, ETag/Date/Age for live edge estimates, the request id for support tickets.
 */
const EXPOSED_HEADERS = 'Content-Length, Content-Range, Accept-Ranges, ETag, Date, Age, X-Request-Id';

/** CORS for browser players (Fetch standard §3.2): an allow-list of origins, or `*`. */
export class Cors {
  readonly #any: boolean;
  readonly #origins: ReadonlySet<string>;
  /** `Vary: Origin` when the answer depends on the request's Origin (RFC 9110 §12.5.5). */
  readonly vary: string | undefined;

  constructor(allowedOrigins: readonly string[]) {
    this.#any = allowedOrigins.includes('*');
    this.#origins = new Set(allowedOrigins.filter((origin) => origin !== '*'));
    this.vary = this.#any ? undefined : 'Origin';
  }

  /**
   * Sets the CORS response headers for a simple request. With `*` they are sent whatever the
   * request, so a shared cache in front never stores a copy without them.
   */
  apply(req: IncomingMessage, res: ServerResponse): void {
    if (this.#any) {
      res.setHeader('access-control-allow-origin', '*');
      res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
      return;
    }
    res.setHeader('vary', 'Origin');
    const origin = req.headers.origin;
    if (origin !== undefined && this.#origins.has(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      // Fetch §3.2.5: a listed origin's player may send its cookies (the cookie strategy); with `*`,
      // browsers refuse credentialed answers.
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
    }
  }

  /** OPTIONS: a preflight is answered here and never reaches the origin. */
  preflight(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('allow', METHODS);
    const origin = req.headers.origin;
    const isPreflight = origin !== undefined && req.headers['access-control-request-method'] !== undefined;
    if (isPreflight && (this.#any || this.#origins.has(origin))) {
      res.setHeader('access-control-allow-origin', this.#any ? '*' : origin);
      if (!this.#any) res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('access-control-allow-methods', METHODS);
      res.setHeader('access-control-allow-headers', ALLOWED_HEADERS);
      res.setHeader('access-control-max-age', '7200');
    }
    if (this.vary !== undefined) res.setHeader('vary', this.vary);
    res.setHeader('content-length', '0');
    res.writeHead(204);
    res.end();
  }
}
