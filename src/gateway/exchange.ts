import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import {
  isManifestMediaType,
  manifestKindFromHeaders,
  sniffManifest,
  type ManifestKind,
} from '../manifest/index.js';
import { countAnswer, noteBytes, noteOrigin } from './access.js';
import { refuseOverBudget } from './body-budget.js';
import { viewerResponseHeaders } from './headers.js';
import { headerText } from './live-cache.js';
import { redactTarget } from './log.js';
import { serveManifest, toOriginManifest } from './manifest.js';
import { ManifestBody } from './manifest-body.js';
import { classifyOriginError, type OriginFailure } from './origin.js';
import { sendText, type GatewayRuntime, type ViewerRequest, type ZoneRuntime } from './runtime.js';

const EXCHANGE = Symbol('streamgate.exchange');

type Tagged = ServerResponse & { [EXCHANGE]?: ProxyExchange };

const enum Mode {
  /** Waiting for the origin's headers. */
  Waiting,
  /** Bytes go to the viewer as they come, with backpressure. */
  Stream,
  /** A vague content type: the first bytes decide between Stream and Buffer. */
  Sniff,
  /** A manifest: held (bounded), decoded, rewritten, then sent. */
  Buffer,
  Done,
}

/** Bytes held for a slow viewer before the origin is paused. */
const MAX_BACKLOG = 256 * 1024;

/**
 * Bytes a rate-limited response (a token's own speed limit) may run ahead of its schedule: a small
 * file goes out at once, and a large one never waits on timers of a few milliseconds.
 */
const PACE_BURST = 64 * 1024;

/** Bytes enough to tell `#EXTM3U` or an `<MPD` after an XML prolog from media. */
const SNIFF_BYTES = 1024;

// Listeners shared by every response: `this` is the response, the exchange hangs off it.
function onViewerClose(this: Tagged): void {
  this[EXCHANGE]?.viewerClosed();
}
function onViewerDrain(this: Tagged): void {
  this[EXCHANGE]?.resume();
}

/**
 * One viewer request proxied to the origin: an undici dispatch handler writing straight into the
 * viewer's response. Backpressure: the origin is paused when the viewer's socket buffer is full and
 * resumed on drain (undici `docs/examples/proxy`). A viewer who leaves aborts the origin request; an
 * origin that fails before the headers is answered 502/504, after them the viewer's response is
 * destroyed (a truncated body must not look complete).
 */
export class ProxyExchange implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | undefined;
  #mode = Mode.Waiting;
  #chunks: Buffer[] = [];
  #size = 0;
  /** The manifest being held (Buffer mode). */
  #body: ManifestBody | undefined;
  #bytesOut = 0;
  #status = 0;
  #headers: IncomingHttpHeaders = {};
  #kind: ManifestKind | undefined;
  #viewerGone = false;
  #sent = 0;
  /** Bytes of the manifest memory budget this exchange holds (see body-budget.ts). */
  #held = 0;
  /** The token's speed limit (bytes per second), from when the body started, and a pending resume. */
  #pace: { readonly rate: number; readonly start: number; timer: NodeJS.Timeout | undefined } | undefined;

  constructor(
    readonly rt: GatewayRuntime,
    readonly zone: ZoneRuntime,
    readonly res: ServerResponse,
    readonly view: ViewerRequest,
    readonly originMethod: 'GET' | 'HEAD',
  ) {}

  start(headers: Record<string, string>): void {
    const res = this.res as Tagged;
    res[EXCHANGE] = this;
    res.on('close', onViewerClose);
    this.#sent = performance.now();
    this.rt.metrics.inFlight += 1;
    try {
      this.zone.pool.dispatch({ path: this.view.upstreamTarget, method: this.originMethod, headers }, this);
    } catch (error) {
      this.onResponseError(undefined, error as Error);
    }
  }

  viewerClosed(): void {
    if (this.#mode === Mode.Done) return;
    this.#viewerGone = true;
    this.controller?.abort(new ViewerGone());
    this.#finish();
  }

  /** Lets the origin's bytes flow again: on the viewer's drain, or when a paced response is due. */
  resume(): void {
    const controller = this.controller;
    if (controller === undefined || this.#mode !== Mode.Stream) return;
    // Still over the backlog: the viewer's next 'drain' comes back here.
    if (this.res.writableLength > MAX_BACKLOG) return;
    if (this.#paceWait() > 0) this.#schedulePace();
    else controller.resume();
  }

  /** Milliseconds until the bytes sent are within the token's speed limit; 0 without one. */
  #paceWait(): number {
    const pace = this.#pace;
    if (pace === undefined) return 0;
    const allowed = PACE_BURST + (pace.rate * (performance.now() - pace.start)) / 1000;
    return this.#bytesOut <= allowed ? 0 : ((this.#bytesOut - allowed) / pace.rate) * 1000;
  }

  #schedulePace(): void {
    const pace = this.#pace;
    if (pace === undefined || pace.timer !== undefined) return;
    pace.timer = setTimeout(
      () => {
        pace.timer = undefined;
        this.resume();
      },
      Math.max(1, Math.ceil(this.#paceWait())),
    );
  }

  #finish(): void {
    if (this.#mode === Mode.Done) return;
    this.#mode = Mode.Done;
    if (this.#pace?.timer !== undefined) clearTimeout(this.#pace.timer);
    this.#chunks = [];
    this.#body = undefined;
    this.rt.manifestMemory.release(this.#held);
    this.#held = 0;
    this.rt.metrics.inFlight -= 1;
    this.rt.metrics.bytesOut(this.zone.config.name, this.#bytesOut);
    // The listeners stay (removing them costs more than the no-op call they will make).
    (this.res as Tagged)[EXCHANGE] = undefined;
    noteBytes(this.res, this.#bytesOut);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.#viewerGone) controller.abort(new ViewerGone());
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (status < 200 || this.#mode !== Mode.Waiting) return;
    const elapsed = performance.now() - this.#sent;
    this.rt.metrics.originLatency(this.zone.config.name, elapsed / 1000);
    noteOrigin(this.res, elapsed);
    this.#status = status;
    this.#headers = headers;
    if (status === 200 && this.originMethod === 'GET') {
      const kind = manifestKindFromHeaders(
        headerText(headers['content-type']),
        this.view.upstreamTarget.split('?')[0] ?? '',
      );
      const encoded = headers['content-encoding'] !== undefined && headers['content-encoding'] !== 'identity';
      if (kind !== undefined && kind !== 'sniff') {
        const length = Number(headers['content-length']);
        if (Number.isFinite(length) && length > this.rt.config.limits.manifestMaxBytes) {
          this.#tooLarge(controller, 'content-length');
          return;
        }
        this.#kind = kind;
        this.#mode = Mode.Buffer;
        this.#body = new ManifestBody(headers['content-encoding']);
        return;
      }
      if (kind === 'sniff' && !encoded && worthSniffing(this.view.upstreamTarget)) {
        this.#mode = Mode.Sniff;
        return;
      }
    }
    this.#startStream(controller);
  }

  #startStream(controller: Dispatcher.DispatchController): void {
    this.#mode = Mode.Stream;
    const res = this.res;
    const manifestHead =
      this.view.head &&
      this.originMethod === 'HEAD' &&
      isManifestMediaType(headerText(this.#headers['content-type']));
    const headers = viewerResponseHeaders(this.#headers, manifestHead, this.rt.cors.vary);
    if (manifestHead) headers['cache-control'] = 'private, no-store';
    res.writeHead(this.#status, headers);
    countAnswer(this.rt.metrics, res, this.zone.config.name, this.#status, 'ok');
    if (this.view.head && this.originMethod === 'GET') {
      // A HEAD sent upstream as GET (manifest-looking path) that turned out not to be a manifest.
      res.end();
      this.#finish();
      controller.abort(new ViewerGone());
      return;
    }
    res.on('drain', onViewerDrain);
    const rate = this.view.grant.rateLimit;
    if (rate !== undefined) this.#pace = { rate, start: performance.now(), timer: undefined };
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    switch (this.#mode) {
      case Mode.Stream:
        this.#bytesOut += chunk.length;
        // Paused only past a fixed backlog rather than at the socket's 16 KiB mark: fewer pause/resume
        // round trips through undici, and still at most MAX_BACKLOG held per viewer ('drain' follows,
        // since a write past the mark returned false).
        this.res.write(chunk);
        if (this.res.writableLength > MAX_BACKLOG) controller.pause();
        else if (this.#pace !== undefined && this.#paceWait() > 0) {
          controller.pause();
          this.#schedulePace();
        }
        return;
      case Mode.Buffer:
        this.#size += chunk.length;
        if (this.#size > this.rt.config.limits.manifestMaxBytes) {
          this.#tooLarge(controller, 'body');
          return;
        }
        if (!this.#hold(controller, chunk.length)) return;
        this.#body?.push(chunk);
        return;
      case Mode.Sniff:
        this.#size += chunk.length;
        this.#chunks.push(chunk);
        if (this.#size >= SNIFF_BYTES) this.#decideSniff(controller);
        return;
      default:
        return;
    }
  }

  #decideSniff(controller: Dispatcher.DispatchController): void {
    const head = Buffer.concat(this.#chunks).subarray(0, 2048).toString('utf8');
    const kind = sniffManifest(head);
    if (kind !== undefined) {
      this.#kind = kind;
      this.#mode = Mode.Buffer;
      const body = new ManifestBody(this.#headers['content-encoding']);
      for (const chunk of this.#chunks) body.push(chunk);
      this.#chunks = [];
      this.#body = body;
      if (this.#size > this.rt.config.limits.manifestMaxBytes) this.#tooLarge(controller, 'body');
      else this.#hold(controller, this.#size);
      return;
    }
    const held = this.#chunks;
    this.#chunks = [];
    this.#startStream(controller);
    if (this.#mode !== Mode.Stream) return;
    let flowing = true;
    for (const chunk of held) {
      this.#bytesOut += chunk.length;
      flowing = this.res.write(chunk) && flowing;
    }
    if (!flowing) controller.pause();
  }

  onResponseEnd(controller: Dispatcher.DispatchController): void {
    if (this.#mode === Mode.Sniff) this.#decideSniff(controller);
    if (this.#mode === Mode.Stream) {
      this.res.end();
      this.#finish();
      return;
    }
    if (this.#mode !== Mode.Buffer || this.#kind === undefined || this.#body === undefined) return;
    const decoded = this.#body.finish(this.rt.config.limits.manifestMaxBytes);
    this.#body = undefined;
    if (!decoded.ok) {
      this.#fail({ status: 502, kind: decoded.reason, code: 'DECODE' });
      return;
    }
    // serveManifest counts the bytes it sends.
    serveManifest(
      this.rt,
      this.zone,
      this.view,
      this.res,
      toOriginManifest(this.#kind, decoded, this.#headers),
    );
    this.#finish();
  }

  /** Takes `bytes` of the manifest memory budget, or answers 503 and stops the origin. */
  #hold(controller: Dispatcher.DispatchController, bytes: number): boolean {
    if (this.rt.manifestMemory.take(bytes)) {
      this.#held += bytes;
      return true;
    }
    refuseOverBudget(this.rt, this.zone.config.name, this.view, this.res, 'origin body');
    this.#finish();
    controller.abort(new Error('manifest memory budget exhausted'));
    return false;
  }

  #tooLarge(controller: Dispatcher.DispatchController, where: string): void {
    // Answer first: aborting reports an error back into this handler, which is then already done.
    this.#fail({ status: 502, kind: 'too_large', code: where });
    controller.abort(new Error('manifest larger than limits.manifestMaxBytes'));
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    if (this.#mode === Mode.Done) return;
    if (error instanceof ViewerGone || this.#viewerGone) {
      this.#finish();
      return;
    }
    this.#fail(classifyOriginError(error));
  }

  /** The one place an origin failure reaches the viewer: a status if nothing was sent yet, else a cut. */
  #fail(failure: OriginFailure | { status: 502; kind: string; code: string }): void {
    if (this.#mode === Mode.Done) return;
    const zone = this.zone.config.name;
    this.rt.metrics.originError(zone, failure.kind);
    const res = this.res;
    const fields = {
      reqId: this.view.id,
      zone,
      target: redactTarget(this.view.target),
      kind: failure.kind,
      code: failure.code,
    };
    if (!res.headersSent) {
      const status = failure.status ?? 502;
      this.rt.logger.warn({ ...fields, status }, originMessage(failure.kind));
      countAnswer(this.rt.metrics, res, zone, status, failure.kind);
      sendText(
        res,
        status,
        failure.kind === 'too_large' ? 'manifest too large' : 'origin ' + failure.kind.replace('_', ' '),
      );
    } else {
      this.rt.logger.warn(
        { ...fields, bytes: this.#bytesOut },
        'origin failed mid-body; viewer response cut',
      );
      res.destroy();
    }
    this.#finish();
  }
}

function originMessage(kind: string): string {
  switch (kind) {
    case 'unreachable':
      return 'origin unreachable';
    case 'connect_timeout':
    case 'headers_timeout':
    case 'body_timeout':
      return 'origin timed out';
    case 'too_large':
      return 'manifest larger than limits.manifestMaxBytes';
    default:
      return 'origin exchange failed';
  }
}

/**
 * Media files served with a vague type (application/octet-stream) are common; their extension says
 * they are not manifests, and holding their first bytes back would cost every one of them.
 */
const MEDIA_EXTENSIONS = new Set([
  'aac',
  'ac3',
  'bin',
  'cmfa',
  'cmft',
  'cmfv',
  'dat',
  'ec3',
  'flac',
  'jpeg',
  'jpg',
  'key',
  'm4a',
  'm4s',
  'm4v',
  'mkv',
  'mov',
  'mp3',
  'mp4',
  'mpg',
  'png',
  'srt',
  'ts',
  'ttml',
  'vtt',
  'webm',
  'webp',
]);

function worthSniffing(target: string): boolean {
  const question = target.indexOf('?');
  const path = question === -1 ? target : target.slice(0, question);
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  if (dot <= slash) return true;
  return !MEDIA_EXTENSIONS.has(path.slice(dot + 1).toLowerCase());
}

/** The viewer went away: the reason the origin request is aborted with. */
export class ViewerGone extends Error {
  override readonly name = 'ViewerGone';
  constructor() {
    super('viewer disconnected');
  }
}
