import type { IncomingMessage } from 'node:http';
import {
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { Metric, Registry } from 'prom-client';
import { LocalHistogram } from './metrics.js';

/**
 * What is measured of each request, once, where its access line is written (access.ts): a whole-request
 * latency histogram, and an OpenTelemetry span through @opentelemetry/api only. Without an SDK the API
 * hands out non-recording spans (about 20 ns a request, measured); the operator who registers a tracer
 * provider (e.g. with @opentelemetry/sdk-node before the gateway starts) gets a server span per request,
 * its parent taken from the request's traceparent, and the trace passed on to the origin.
 */

/** Seconds from a request's arrival to the end of its response (or the viewer leaving). */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** What the access note knows when the response closes. */
export interface RequestOutcome {
  readonly method: string;
  readonly zone: string;
  readonly status: number;
  readonly reason: string;
  readonly cache: string | undefined;
  readonly bytes: number;
  /** Milliseconds from sending to the origin to its response headers, when the request went there. */
  readonly originMs: number | undefined;
  readonly complete: boolean;
  readonly client: string | undefined;
  /** The request target with token values redacted. */
  readonly target: () => string;
}

export class RequestTelemetry {
  readonly #tracer: Tracer;
  readonly #duration = new LocalHistogram(
    'streamgate_request_duration_seconds',
    'Whole requests, from arrival to the end of the response (or the viewer leaving), by zone',
    'zone',
    DURATION_BUCKETS,
  );

  constructor(registry: Registry, version: string) {
    this.#tracer = trace.getTracer('streamgate', version);
    // The registry formats any metric with a name and a get(); prom-client's types list only its own.
    registry.registerMetric(this.#duration as unknown as Metric);
  }

  /** A server span for the request, or undefined when no SDK records spans. */
  start(req: IncomingMessage): Span | undefined {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = this.#tracer.startSpan(req.method ?? 'HTTP', { kind: SpanKind.SERVER }, parent);
    return span.isRecording() ? span : undefined;
  }

  /** The trace headers (W3C traceparent, as the operator's propagator writes them) for the origin. */
  inject(span: Span, headers: Record<string, string>): void {
    propagation.inject(trace.setSpan(ROOT_CONTEXT, span), headers);
  }

  finish(span: Span | undefined, seconds: number, outcome: RequestOutcome): void {
    this.#duration.observe(outcome.zone, seconds);
    if (span === undefined) return;
    // OpenTelemetry HTTP server semantic conventions; the target's tokens never leave redacted.
    const target = outcome.target();
    const question = target.indexOf('?');
    span.setAttributes({
      'http.request.method': outcome.method,
      'url.path': question === -1 ? target : target.slice(0, question),
      'http.response.status_code': outcome.status,
      'http.response.body.size': outcome.bytes,
      'streamgate.zone': outcome.zone,
      'streamgate.reason': outcome.reason,
      'streamgate.cache': outcome.cache ?? '-',
    });
    if (question !== -1) span.setAttribute('url.query', target.slice(question + 1));
    if (outcome.client !== undefined) span.setAttribute('client.address', outcome.client);
    if (outcome.originMs !== undefined) span.setAttribute('streamgate.origin_ms', outcome.originMs);
    if (!outcome.complete) span.setAttribute('streamgate.incomplete', true);
    // A server span is an error for 5xx only; 4xx are the client's (semantic conventions, HTTP spans).
    if (outcome.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason });
    span.end();
  }
}
