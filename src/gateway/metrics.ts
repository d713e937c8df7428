import { collectDefaultMetrics, Gauge, Registry, type Metric } from 'prom-client';

type Labels = Record<string, string>;
interface Sample {
  readonly value: number;
  readonly labels: Labels;
  readonly metricName?: string;
}
interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  /** How prom-client's cluster aggregation combines the workers' figures. */
  readonly aggregator: 'sum';
  readonly values: Sample[];
}

/** What the registry reads from a metric when it is scraped (prom-client's MetricObject shape). */
function family(name: string, help: string, type: Family['type'], values: Sample[]): Promise<Family> {
  return Promise.resolve({ name, help, type, aggregator: 'sum', values });
}

/**
 * A counter family kept as plain numbers and handed to the registry only when scraped. prom-client's
 * own `inc` hashes and validates the label set on every call; here an update is a map lookup and an
 * addition, and the formatting work happens at scrape time.
 */
class LocalCounter {
  readonly #series = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** `key` identifies the label values (up to three, in labelNames order); they are read once per key. */
  add(key: string, value: number, first: string, second = '', third = ''): void {
    const series = this.#series.get(key);
    if (series !== undefined) {
      series.value += value;
      return;
    }
    const given = [first, second, third];
    const labels: Labels = {};
    this.labelNames.forEach((name, index) => {
      labels[name] = given[index] ?? '';
    });
    this.#series.set(key, { labels, value });
  }

  get(): Promise<Family> {
    const values = [...this.#series.values()].map(({ labels, value }) => ({ labels, value }));
    return family(this.name, this.help, 'counter', values);
  }
}

/** A histogram family with fixed buckets, one label, kept the same way. */
export class LocalHistogram {
  readonly #series = new Map<string, { labels: Labels; counts: number[]; count: number; sum: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelName: string,
    readonly buckets: readonly number[],
  ) {}

  observe(labelValue: string, value: number): void {
    let series = this.#series.get(labelValue);
    if (series === undefined) {
      series = {
        labels: { [this.labelName]: labelValue },
        counts: this.buckets.map(() => 0),
        count: 0,
        sum: 0,
      };
      this.#series.set(labelValue, series);
    }
    series.count += 1;
    series.sum += value;
    // Counted in the first bucket that holds it (cumulated when scraped); past the last, in +Inf only.
    const buckets = this.buckets;
    const counts = series.counts;
    for (let index = 0; index < buckets.length; index += 1) {
      if (value <= (buckets[index] ?? Infinity)) {
        counts[index] = (counts[index] ?? 0) + 1;
        break;
      }
    }
  }

  get(): Promise<Family> {
    const values: Sample[] = [];
    for (const { labels, counts, count, sum } of this.#series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, index) => {
        cumulative += counts[index] ?? 0;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { ...labels, le: String(bound) },
          value: cumulative,
        });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels, value: sum });
      values.push({ metricName: `${this.name}_count`, labels, value: count });
    }
    return family(this.name, this.help, 'histogram', values);
  }
}

/**
 * Prometheus metrics of one gateway, in a registry of its own (several gateways can live in one
 * process, e.g. in tests). Counting a request is a map lookup and an addition.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  inFlight = 0;

  readonly #requests = new LocalCounter(
    'streamgate_requests_total',
    'Requests answered, by zone, status and reason (ok, a denial reason, or an origin failure)',
    ['zone', 'status', 'reason'],
  );
  readonly #originSeconds = new LocalHistogram(
    'streamgate_origin_response_seconds',
    'Time from sending a request to the origin to its response headers',
    'zone',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  readonly #bytesOut = new LocalCounter(
    'streamgate_response_bytes_total',
    'Body bytes sent to viewers from the origin (after manifest rewriting)',
    ['zone'],
  );
  readonly #originErrors = new LocalCounter(
    'streamgate_origin_errors_total',
    'Origin exchanges that failed, by kind',
    ['zone', 'kind'],
  );
  readonly #manifests = new LocalCounter(
    'streamgate_manifests_total',
    'Manifests handled: rewritten, passed through (malformed/undecodable) or refused (too large)',
    ['zone', 'format', 'outcome'],
  );
  readonly #cache = new LocalCounter(
    'streamgate_manifest_cache_total',
    'Live manifest lookups: hit, miss (origin fetch), coalesced (joined a fetch), bypass, private',
    ['zone', 'result'],
  );

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const inFlight = (): number => this.inFlight;
    new Gauge({
      name: 'streamgate_requests_in_flight',
      help: 'Requests being answered right now',
      registers: [this.registry],
      collect() {
        this.set(inFlight());
      },
    });
    // The registry formats any metric that has a name and a get(); prom-client's types list its own.
    for (const family of [
      this.#requests,
      this.#originSeconds,
      this.#bytesOut,
      this.#originErrors,
      this.#manifests,
      this.#cache,
    ]) {
      this.registry.registerMetric(family as unknown as Metric);
    }
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'streamgate_' });
  }

  request(zone: string, status: number, reason: string): void {
    this.#requests.add(`${zone}\0${status}\0${reason}`, 1, zone, String(status), reason);
  }

  originLatency(zone: string, seconds: number): void {
    this.#originSeconds.observe(zone, seconds);
  }

  bytesOut(zone: string, bytes: number): void {
    if (bytes > 0) this.#bytesOut.add(zone, bytes, zone);
  }

  originError(zone: string, kind: string): void {
    this.#originErrors.add(`${zone}\0${kind}`, 1, zone, kind);
  }

  manifest(zone: string, format: string, outcome: string): void {
    this.#manifests.add(`${zone}\0${format}\0${outcome}`, 1, zone, format, outcome);
  }

  cache(zone: string, result: string): void {
    this.#cache.add(`${zone}\0${result}`, 1, zone, result);
  }
}
