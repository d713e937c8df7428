import { propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, signed, startGateway, TestOrigin } from './support.js';

// Tracing through @opentelemetry/api only: nothing is recorded until the operator registers an SDK;
// then every request is one server span with the zone, status, reason, cache outcome and origin time,
// a child of the caller's traceparent, with the trace passed on to the origin. A real SDK tracer
// provider (sdk-trace-base, in-memory exporter) is what records them here.

const LIVE =
  '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\nseg-1.ts\n';
let origin: TestOrigin;

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file('/videos/video-1/seg-1.ts', { body: 'segment-1', type: 'video/mp2t' });
  origin.file('/live/cam/index.m3u8', {
    body: LIVE,
    type: 'application/vnd.apple.mpegurl',
    headers: { 'cache-control': 'max-age=1' },
  });
});
afterAll(async () => {
  trace.disable();
  propagation.disable();
  await origin.close();
});

async function durationCount(url: string, zone: string): Promise<number> {
  const text = (await httpGet(url, '/_streamgate/metrics')).body.toString();
  const series = `streamgate_request_duration_seconds_count{zone="${zone}"}`;
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('OpenTelemetry tracing and the request latency histogram', () => {
  it('without an SDK: no trace headers reach the origin; the latency histogram counts every request', async () => {
    const gw = await startGateway(origin.url);
    try {
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      expect((await httpGet(gw.url, signed('/videos/video-1/seg-1.ts'), { traceparent })).status).toBe(200);
      expect((await httpGet(gw.url, '/videos/video-1/seg-1.ts')).status).toBe(403);
      const upstream = origin.requests.find((request) => request.url.startsWith('/videos/video-1/seg-1.ts'));
      expect(upstream?.headers.traceparent).toBeUndefined();
      // The line is written when the response closes: possibly just after the client has it.
      await expect.poll(() => durationCount(gw.url, 'test')).toBe(2);
    } finally {
      await gw.close();
    }
  });

  it('with an SDK: a server span per request with zone, status, reason, cache outcome and origin time; the trace goes on to the origin', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    origin.reset();
    const gw = await startGateway(origin.url);
    try {
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const parent = 'b7ad6b7169203331';
      const link = signed('/videos/video-1/seg-1.ts');
      expect((await httpGet(gw.url, link, { traceparent: `00-${traceId}-${parent}-01` })).status).toBe(200);
      expect(
        (await httpGet(gw.url, '/videos/video-1/seg-1.ts?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=2000000000'))
          .status,
      ).toBe(403);
      expect((await httpGet(gw.url, signed('/live/cam/index.m3u8'))).status).toBe(200);
      expect((await httpGet(gw.url, signed('/live/cam/index.m3u8'))).status).toBe(200);
      await expect.poll(() => exporter.getFinishedSpans().length).toBe(4);
      const spans = exporter.getFinishedSpans();
      const [media, denied, miss, hit] = spans as [ReadableSpan, ReadableSpan, ReadableSpan, ReadableSpan];

      expect(media.name).toBe('GET');
      expect(media.kind).toBe(SpanKind.SERVER);
      expect(media.spanContext().traceId).toBe(traceId);
      expect(media.parentSpanContext?.spanId).toBe(parent);
      expect(media.attributes).toMatchObject({
        'http.request.method': 'GET',
        'url.path': '/videos/video-1/seg-1.ts',
        'http.response.status_code': 200,
        'http.response.body.size': 9,
        'streamgate.zone': 'test',
        'streamgate.reason': 'ok',
        'streamgate.cache': '-',
        'client.address': '127.0.0.1',
      });
      expect(media.attributes['streamgate.origin_ms']).toBeGreaterThan(0);
      expect(String(media.attributes['url.query'])).toMatch(/^md5=REDACTED&expires=\d+$/);
      // The origin saw this span as the parent of its own work.
      const upstream = origin.requests.find((request) => request.url.startsWith('/videos/video-1/seg-1.ts'));
      expect(upstream?.headers.traceparent).toBe(`00-${traceId}-${media.spanContext().spanId}-01`);

      expect(denied.attributes).toMatchObject({
        'http.response.status_code': 403,
        'streamgate.reason': 'invalid',
        'streamgate.zone': 'test',
      });
      expect(denied.attributes['streamgate.origin_ms']).toBeUndefined();
      expect(denied.status.code).toBe(SpanStatusCode.UNSET);
      expect(denied.parentSpanContext).toBeUndefined();
      expect(miss.attributes['streamgate.cache']).toBe('miss');
      expect(hit.attributes['streamgate.cache']).toBe('hit');
      // No token value in any attribute.
      expect(JSON.stringify(spans.map((span) => span.attributes))).not.toMatch(/md5=[A-Za-z0-9_-]{22}/);
      expect(await durationCount(gw.url, 'test')).toBe(4);
    } finally {
      await gw.close();
    }
  });

  it('with an SDK: an origin failure is a span with status ERROR', async () => {
    const exporter = new InMemorySpanExporter();
    trace.disable();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    const gw = await startGateway('http://127.0.0.1:9');
    try {
      expect((await httpGet(gw.url, signed('/videos/video-1/seg-1.ts'))).status).toBe(502);
      await expect.poll(() => exporter.getFinishedSpans().length).toBe(1);
      const [span] = exporter.getFinishedSpans();
      expect(span?.status.code).toBe(SpanStatusCode.ERROR);
      expect(span?.attributes['streamgate.reason']).toBe('unreachable');
    } finally {
      await gw.close();
    }
  });
});
