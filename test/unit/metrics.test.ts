import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../src/gateway/metrics.js';

describe('gateway metrics: Prometheus text exposition of the counters and the latency histogram', () => {
  it('counts per label set and writes cumulative le buckets, +Inf, _sum and _count', async () => {
    const metrics = new GatewayMetrics();
    metrics.request('live', 200, 'ok');
    metrics.request('live', 200, 'ok');
    metrics.request('live', 403, 'rule');
    metrics.originLatency('live', 0.003);
    metrics.originLatency('live', 0.7);
    metrics.originLatency('live', 99);
    metrics.bytesOut('live', 1024);
    metrics.bytesOut('live', 0);
    metrics.cache('live', 'hit');
    metrics.inFlight = 2;
    const text = await metrics.registry.metrics();
    // Worked out by hand: 0.003 s falls in le=0.005 and above, 0.7 s in le=1 and above, 99 s in +Inf only.
    const expected = [
      '# TYPE streamgate_requests_total counter',
      'streamgate_requests_total{zone="live",status="200",reason="ok"} 2',
      'streamgate_requests_total{zone="live",status="403",reason="rule"} 1',
      '# TYPE streamgate_origin_response_seconds histogram',
      'streamgate_origin_response_seconds_bucket{zone="live",le="0.0025"} 0',
      'streamgate_origin_response_seconds_bucket{zone="live",le="0.005"} 1',
      'streamgate_origin_response_seconds_bucket{zone="live",le="0.5"} 1',
      'streamgate_origin_response_seconds_bucket{zone="live",le="1"} 2',
      'streamgate_origin_response_seconds_bucket{zone="live",le="30"} 2',
      'streamgate_origin_response_seconds_bucket{zone="live",le="+Inf"} 3',
      'streamgate_origin_response_seconds_sum{zone="live"} 99.703',
      'streamgate_origin_response_seconds_count{zone="live"} 3',
      'streamgate_response_bytes_total{zone="live"} 1024',
      'streamgate_manifest_cache_total{zone="live",result="hit"} 1',
      'streamgate_requests_in_flight 2',
    ];
    const lines = text.split('\n');
    for (const line of expected) expect(lines).toContain(line);
    expect(lines.filter((line) => line.startsWith('streamgate_origin_response_seconds_bucket'))).toHaveLength(
      15,
    );
    expect(text).not.toContain('streamgate_origin_errors_total{');
  });

  it('keeps gateways apart: each has its own registry', async () => {
    const a = new GatewayMetrics();
    const b = new GatewayMetrics();
    a.request('z', 200, 'ok');
    expect(await b.registry.metrics()).not.toContain('streamgate_requests_total{');
  });
});
