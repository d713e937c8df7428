import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { AddressSet } from '../config/index.js';
import { clientAddress } from './client.js';
import type { Span } from '@opentelemetry/api';
import { redactTarget, type Logger } from './log.js';
import type { GatewayMetrics } from './metrics.js';
import type { RequestTelemetry } from './telemetry.js';

/**
 * The access log: one line per request, written when its response closes (finished, cut or abandoned),
 * with what the request was, how it was answered and what it cost. The handlers note the facts as they
 * learn them (zone, reason, body bytes, cache outcome) on the response; the line is built only when it
 * will be written.
 */

const NOTE = Symbol('streamgate.access');

/** What the handlers learn about one request, kept on its response until the line is written. */
export interface AccessNote {
  readonly id: string;
  readonly started: number;
  zone: string;
  /** `ok`, a denial reason, an origin failure kind, … ; empty until someone says. */
  reason: string;
  detail: string | undefined;
  /** Live manifest cache: hit, miss, coalesced, private, or bypass (a manifest not shareable). */
  cache: string | undefined;
  /** Body bytes sent to the viewer. */
  bytes: number;
  /** Milliseconds to the origin's response headers, when this request went to the origin itself. */
  originMs: number | undefined;
  /** The request's server span, when an OpenTelemetry SDK records them. */
  readonly span: Span | undefined;
}

type Noted = ServerResponse & { [NOTE]?: AccessNote };

export interface AccessLogSettings {
  readonly enabled: boolean;
  /** Share of successful requests written, 0–1; denials and failures are always written. */
  readonly sample: number;
}

/** Longest user agent and target written; longer ones are cut (they are the viewer's to make up). */
const MAX_FIELD = 2048;
const MAX_AGENT = 256;

export class AccessLog {
  readonly on: boolean;

  constructor(
    readonly logger: Logger,
    readonly settings: AccessLogSettings,
    readonly trusted: AddressSet,
    /** The latency histogram and the span, measured where the line is written: once per request. */
    readonly telemetry?: RequestTelemetry,
  ) {
    this.on = settings.enabled && logger.isLevelEnabled('info');
  }

  /**
   * A request answered before it reached the request listener: a CONNECT, or bytes that are no HTTP
   * request. There is no response object; the line is written at once.
   */
  outOfBand(line: {
    readonly method?: string;
    readonly status: number;
    readonly reason: string;
    readonly ip: string | undefined;
    readonly target?: string;
    readonly detail?: string;
  }): void {
    if (!this.on) return;
    this.logger.info(
      {
        method: line.method ?? '-',
        zone: '-',
        status: line.status,
        reason: line.reason,
        bytes: 0,
        ip: line.ip ?? '-',
        ...(line.target === undefined ? {} : { target: redactTarget(line.target.slice(0, MAX_FIELD)) }),
        ...(line.detail === undefined ? {} : { detail: line.detail }),
      },
      'access',
    );
  }

  /** Starts the note of one request; the line follows when the response closes. */
  begin(req: IncomingMessage, res: ServerResponse, id: string, started: number): void {
    const telemetry = this.telemetry;
    if (!this.on && telemetry === undefined) return;
    (res as Noted)[NOTE] = {
      id,
      started,
      zone: '-',
      reason: '',
      detail: undefined,
      cache: undefined,
      bytes: 0,
      originMs: undefined,
      span: telemetry?.start(req),
    };
    res.once('close', () => this.#write(req, res as Noted));
  }

  #write(req: IncomingMessage, res: Noted): void {
    const note = res[NOTE];
    if (note === undefined) return;
    res[NOTE] = undefined;
    // nginx's 499: the viewer closed the connection before any answer was sent.
    const status = res.headersSent ? res.statusCode : 499;
    const complete = res.writableFinished;
    const ms = performance.now() - note.started;
    const reason = note.reason === '' ? defaultReason(status) : note.reason;
    this.telemetry?.finish(note.span, ms / 1000, {
      method: req.method ?? '-',
      zone: note.zone,
      status,
      reason,
      cache: note.cache,
      bytes: note.bytes,
      originMs: note.originMs,
      complete,
      client: note.span === undefined ? undefined : clientAddress(req, this.trusted).ip,
      target: () => redactTarget((req.url ?? '').slice(0, MAX_FIELD)),
    });
    if (!this.on) return;
    const sample = this.settings.sample;
    if (status < 400 && complete && sample < 1 && Math.random() >= sample) return;
    const agent = req.headers['user-agent'];
    const line: Record<string, unknown> = {
      reqId: note.id,
      method: req.method,
      zone: note.zone,
      status,
      reason,
      bytes: note.bytes,
      ms: Math.round(ms * 10) / 10,
      ip: clientAddress(req, this.trusted).ip ?? '-',
      ua: agent === undefined ? '-' : agent.slice(0, MAX_AGENT),
      cache: note.cache ?? '-',
      target: redactTarget((req.url ?? '').slice(0, MAX_FIELD)),
    };
    if (note.detail !== undefined) line.detail = note.detail;
    // The viewer left, or the response was cut, before the last byte.
    if (!complete) line.incomplete = true;
    this.logger.info(line, 'access');
  }
}

function defaultReason(status: number): string {
  if (status < 400) return 'ok';
  if (status === 499) return 'viewer_left';
  return status === 404 ? 'not_found' : 'error';
}

function noteOf(res: ServerResponse): AccessNote | undefined {
  return (res as Noted)[NOTE];
}

/** A request answered: counted in the metrics and noted for the access line. */
export function countAnswer(
  metrics: GatewayMetrics,
  res: ServerResponse,
  zone: string,
  status: number,
  reason: string,
  detail?: string,
): void {
  metrics.request(zone, status, reason);
  const note = noteOf(res);
  if (note === undefined) return;
  note.zone = zone;
  note.reason = reason;
  note.detail = detail;
}

/** Body bytes sent to the viewer (added: a request may send through more than one path). */
export function noteBytes(res: ServerResponse, bytes: number): void {
  const note = noteOf(res);
  if (note !== undefined) note.bytes += bytes;
}

export function noteZone(res: ServerResponse, zone: string): void {
  const note = noteOf(res);
  if (note !== undefined) note.zone = zone;
}

export function noteCache(res: ServerResponse, outcome: string): void {
  const note = noteOf(res);
  if (note !== undefined) note.cache = outcome;
}

/** Time to the origin's response headers, for the span (milliseconds). */
export function noteOrigin(res: ServerResponse, ms: number): void {
  const note = noteOf(res);
  if (note !== undefined) note.originMs = ms;
}

/** Adds the request's trace context to the headers sent to the origin, when a span is recorded. */
export function traceOrigin(
  res: ServerResponse,
  telemetry: RequestTelemetry | undefined,
  headers: Record<string, string>,
): void {
  const span = noteOf(res)?.span;
  if (span !== undefined) telemetry?.inject(span, headers);
}
