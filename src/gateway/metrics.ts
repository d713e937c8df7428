import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one gateway, in a registry of its own (several gateways can live in one
 * process, e.g. in tests). Label children are cached so that counting a request is a map lookup.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  inFlight = 0;

  readonly #requests = new Counter({
    name: 'streamgate_requests_total',
    help: 'Requests answered, by zone, status and reason (ok, a denial reason, or an origin failure)',
    labelNames: ['zone', 'status', 'reason'] as const,
    registers: [this.registry],
  });
  readonly #originSeconds = new Histogram({
    name: 'streamgate_origin_response_seconds',
    help: 'Time from sending a request to the origin to its response headers',
    labelNames: ['zone'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly #bytesOut = new Counter({
    name: 'streamgate_response_bytes_total',
    help: 'Body bytes sent to viewers from the origin (after manifest rewriting)',
    labelNames: ['zone'] as const,
    registers: [this.registry],
  });
  readonly #originErrors = new Counter({
    name: 'streamgate_origin_errors_total',
    help: 'Origin exchanges that failed, by kind',
    labelNames: ['zone', 'kind'] as const,
    registers: [this.registry],
  });
  readonly #manifests = new Counter({
    name: 'streamgate_manifests_total',
    help: 'Manifests handled: rewritten, passed through (malformed/undecodable) or refused (too large)',
    labelNames: ['zone', 'format', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #cache = new Counter({
    name: 'streamgate_manifest_cache_total',
    help: 'Live manifest lookups: hit, miss (origin fetch), coalesced (joined a fetch), bypass, private',
    labelNames: ['zone', 'result'] as const,
    registers: [this.registry],
  });
  readonly #children = new Map<string, { inc(value?: number): void }>();
  readonly #histograms = new Map<string, { observe(value: number): void }>();

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
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'streamgate_' });
  }

  #inc(key: string, counter: Counter<string>, labels: readonly string[], value = 1): void {
    let child = this.#children.get(key);
    if (child === undefined) {
      child = counter.labels(...labels);
      this.#children.set(key, child);
    }
    child.inc(value);
  }

  request(zone: string, status: number, reason: string): void {
    const key = `r\0${zone}\0${status}\0${reason}`;
    const child = this.#children.get(key);
    if (child !== undefined) child.inc();
    else this.#inc(key, this.#requests, [zone, String(status), reason]);
  }

  originLatency(zone: string, seconds: number): void {
    let child = this.#histograms.get(zone);
    if (child === undefined) {
      child = this.#originSeconds.labels(zone);
      this.#histograms.set(zone, child);
    }
    child.observe(seconds);
  }

  bytesOut(zone: string, bytes: number): void {
    if (bytes > 0) this.#inc(`b\0${zone}`, this.#bytesOut, [zone], bytes);
  }

  originError(zone: string, kind: string): void {
    this.#inc(`e\0${zone}\0${kind}`, this.#originErrors, [zone, kind]);
  }

  manifest(zone: string, format: string, outcome: string): void {
    this.#inc(`m\0${zone}\0${format}\0${outcome}`, this.#manifests, [zone, format, outcome]);
  }

  cache(zone: string, result: string): void {
    this.#inc(`c\0${zone}\0${result}`, this.#cache, [zone, result]);
  }
}
