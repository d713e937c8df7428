import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { ManifestKind } from '../manifest/index.js';
import { manifestKindFromHeaders, sniffManifest } from '../manifest/index.js';
import { liveWindowMs, sharePolicy, toOriginManifest, type OriginManifest } from './manifest.js';
import { ManifestBody } from './manifest-body.js';
import type { ManifestMemory } from './body-budget.js';
import type { GatewayMetrics } from './metrics.js';
import { classifyOriginError, type OriginFailure } from './origin.js';

/** What one origin fetch of a manifest URL produced, for the viewer that started it and any who joined. */
export type SharedOutcome =
  /** A 200 manifest: served to everyone waiting when `shareable`, else only to the one who asked. */
  | { readonly type: 'manifest'; readonly shareable: boolean; readonly manifest: OriginManifest }
  /** Anything else from the origin (an error page, a redirect, not a manifest): for the asker only. */
  | {
      readonly type: 'response';
      readonly status: number;
      readonly headers: IncomingHttpHeaders;
      readonly body: Buffer;
    }
  | { readonly type: 'failure'; readonly failure: OriginFailure | TooLarge };

export interface TooLarge {
  readonly status: 502 | 503;
  /** `memory`: the manifest memory budget was used up (503, see body-budget.ts). */
  readonly kind: 'too_large' | 'undecodable' | 'memory';
  readonly code: string;
}

interface Entry {
  readonly manifest: OriginManifest;
  readonly expiresAt: number;
  readonly size: number;
}

/** How long a URL whose origin said "not for sharing" is fetched per viewer without waiting for others. */
const PRIVATE_MEMORY_MS = 10_000;

/**
 * The live manifest cache (README "The token strategies"): per full origin URL (the origin's own query included), for a
 * short window; concurrent requests for one URL share one origin fetch. Bounded in entries and bytes,
 * least recently used first out.
 */
export class LiveCache {
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<SharedOutcome>>();
  readonly #private = new Map<string, number>();
  #bytes = 0;

  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  fresh(key: string, now = performance.now()): OriginManifest | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.#drop(key, entry);
      return undefined;
    }
    return entry.manifest;
  }

  /** The URL answered "not for sharing" lately: fetch it per viewer, do not wait on others. */
  isPrivate(key: string, now = performance.now()): boolean {
    const until = this.#private.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#private.delete(key);
    return false;
  }

  pending(key: string): Promise<SharedOutcome> | undefined {
    return this.#inflight.get(key);
  }

  /** Runs `fetch` once for `key` while it is pending, and files its outcome. */
  start(key: string, fetch: () => Promise<SharedOutcome>): Promise<SharedOutcome> {
    const promise = fetch().then(
      (outcome) => {
        this.#inflight.delete(key);
        this.#file(key, outcome);
        return outcome;
      },
      (error: unknown) => {
        this.#inflight.delete(key);
        throw error;
      },
    );
    this.#inflight.set(key, promise);
    return promise;
  }

  #file(key: string, outcome: SharedOutcome): void {
    if (outcome.type !== 'manifest') return;
    const { manifest } = outcome;
    if (!outcome.shareable) {
      if (this.#private.size >= Math.max(this.maxEntries, 1)) {
        const oldest = this.#private.keys().next().value;
        if (oldest !== undefined) this.#private.delete(oldest);
      }
      this.#private.set(key, performance.now() + PRIVATE_MEMORY_MS);
      return;
    }
    // Static manifests are loaded once per viewer; only live ones are worth keeping.
    if (manifest.isStatic || manifest.text === undefined) return;
    const policy = sharePolicy(manifest.headers);
    let windowMs = liveWindowMs(manifest.kind, manifest.text);
    if (policy.maxAgeMs !== undefined) windowMs = Math.min(windowMs, policy.maxAgeMs);
    const size = manifest.bytes.length * 3 + key.length;
    if (size > this.maxBytes || this.maxEntries === 0) return;
    const previous = this.#entries.get(key);
    if (previous !== undefined) this.#drop(key, previous);
    while (this.#entries.size >= this.maxEntries || this.#bytes + size > this.maxBytes) {
      const oldest = this.#entries.entries().next().value;
      if (oldest === undefined) break;
      this.#drop(oldest[0], oldest[1]);
    }
    this.#entries.set(key, { manifest, expiresAt: performance.now() + windowMs, size });
    this.#bytes += size;
  }

  #drop(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.size;
  }

  clear(): void {
    this.#entries.clear();
    this.#private.clear();
    this.#bytes = 0;
  }
}

export interface SharedFetchOptions {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly limit: number;
  readonly zone: string;
  readonly metrics: GatewayMetrics;
  /** The budget the body's bytes are held against while it arrives. */
  readonly memory: ManifestMemory;
}

/**
 * One origin GET of a manifest URL on behalf of every viewer waiting for it; bound to no viewer, so
 * the first viewer leaving does not cancel it for the others. The body is held (it is a manifest,
 * bounded by `limit`).
 */
export function sharedFetch(pool: Dispatcher, options: SharedFetchOptions): Promise<SharedOutcome> {
  return new Promise((resolve) => {
    const handler = new SharedFetch(options, resolve);
    try {
      pool.dispatch({ path: options.path, method: 'GET', headers: options.headers }, handler);
    } catch (error) {
      handler.onResponseError(undefined, error as Error);
    }
  });
}

class SharedFetch implements Dispatcher.DispatchHandler {
  #status = 0;
  #headers: IncomingHttpHeaders = {};
  #body = new ManifestBody(undefined);
  #size = 0;
  #settled = false;
  #held = 0;
  readonly #started = performance.now();

  constructor(
    readonly options: SharedFetchOptions,
    readonly resolve: (outcome: SharedOutcome) => void,
  ) {}

  #settle(outcome: SharedOutcome): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#body = new ManifestBody(undefined);
    this.options.memory.release(this.#held);
    this.#held = 0;
    this.resolve(outcome);
  }

  onRequestStart(): void {}

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (status < 200) return;
    this.options.metrics.originLatency(this.options.zone, (performance.now() - this.#started) / 1000);
    this.#status = status;
    this.#headers = headers;
    this.#body = new ManifestBody(headers['content-encoding']);
    const length = Number(headers['content-length']);
    if (Number.isFinite(length) && length > this.options.limit) {
      this.#settle({ type: 'failure', failure: { status: 502, kind: 'too_large', code: 'CONTENT_LENGTH' } });
      controller.abort(new Error('manifest larger than limits.manifestMaxBytes'));
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return;
    this.#size += chunk.length;
    if (this.#size > this.options.limit) {
      this.#settle({ type: 'failure', failure: { status: 502, kind: 'too_large', code: 'BODY_SIZE' } });
      controller.abort(new Error('manifest larger than limits.manifestMaxBytes'));
      return;
    }
    if (!this.options.memory.take(chunk.length)) {
      this.#settle({ type: 'failure', failure: { status: 503, kind: 'memory', code: 'MEMORY' } });
      controller.abort(new Error('manifest memory budget exhausted'));
      return;
    }
    this.#held += chunk.length;
    this.#body.push(chunk);
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    const headers = this.#headers;
    let kind: ManifestKind | 'sniff' | undefined =
      this.#status === 200
        ? manifestKindFromHeaders(headerText(headers['content-type']), this.options.path.split('?')[0] ?? '')
        : undefined;
    if (kind !== undefined) {
      const decoded = this.#body.finish(this.options.limit);
      if (!decoded.ok) {
        this.#settle({ type: 'failure', failure: { status: 502, kind: decoded.reason, code: 'DECODE' } });
        return;
      }
      if (kind === 'sniff')
        kind = decoded.text === undefined ? undefined : sniffManifest(decoded.text.slice(0, 2048));
      if (kind !== undefined) {
        this.#settle({
          type: 'manifest',
          shareable: sharePolicy(headers).shareable,
          manifest: toOriginManifest(kind, decoded, headers),
        });
        return;
      }
    }
    this.#settle({ type: 'response', status: this.#status, headers, body: this.#body.bytes() });
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.#settle({ type: 'failure', failure: classifyOriginError(error) });
  }
}

export function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
